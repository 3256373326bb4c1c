package visibility

import (
	"github.com/bgpwatch/bgpwatch"
)

// ---- exception entries (ADD-PATH ids, origins differing from the dominant one) ----

func (e *Engine) hasEntries(id uint32, s int32) bool {
	for _, en := range e.exc[id] {
		if en.sess == s {
			return true
		}
	}
	return false
}

func (e *Engine) setEntry(id uint32, s int32, pathID uint32, origin bgpwatch.ASN, epoch uint32) {
	l := e.exc[id]
	for i := range l {
		if l[i].sess == s && l[i].pathID == pathID {
			l[i].origin = origin
			l[i].epoch = epoch
			return
		}
	}
	e.exc[id] = append(l, pathEntry{sess: s, pathID: pathID, origin: origin, epoch: epoch})
	e.st[id].flags |= flagExc
}

// delEntry removes one path; it reports whether the path was there.
func (e *Engine) delEntry(id uint32, s int32, pathID uint32) bool {
	l := e.exc[id]
	for i := range l {
		if l[i].sess == s && l[i].pathID == pathID {
			l[i] = l[len(l)-1]
			e.setList(id, l[:len(l)-1])
			return true
		}
	}
	return false
}

func (e *Engine) delSession(id uint32, s int32) {
	l := e.exc[id]
	n := 0
	for _, en := range l {
		if en.sess != s {
			l[n] = en
			n++
		}
	}
	e.setList(id, l[:n])
}

func (e *Engine) setList(id uint32, l []pathEntry) {
	if len(l) == 0 {
		delete(e.exc, id)
		e.st[id].flags &^= flagExc
		return
	}
	e.exc[id] = l
}

// collapse turns a session's entries back into a simple path when its only
// path is path id 0 with the dominant origin.
func (e *Engine) collapse(id uint32, s int32) {
	l := e.exc[id]
	n, at := 0, -1
	for i, en := range l {
		if en.sess == s {
			n++
			at = i
		}
	}
	if n != 1 || l[at].pathID != 0 || l[at].origin != e.st[id].origin {
		return
	}
	if c := &e.colls[e.sess[s].coll]; c.inDump && l[at].epoch != c.epoch {
		w := int(id)*e.stride + int(s>>6)
		e.seen[w] &^= 1 << (s & 63)
	}
	l[at] = l[len(l)-1]
	e.setList(id, l[:len(l)-1])
}
