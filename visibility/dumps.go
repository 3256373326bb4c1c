package visibility

import (
	"math/bits"
	"slices"
)

// ---- dumps ----

func (e *Engine) tableStart(c int) {
	if e.seen == nil {
		e.seen = make([]uint64, len(e.bits))
	}
	if e.colls[c].seenDirty {
		e.clearSeen(c)
	}
	e.colls[c].inDump = true
	e.colls[c].epoch++
	e.dumped = true
}

func (e *Engine) clearSeen(c int) {
	m := e.colls[c].mask
	for id := range e.st {
		row := e.seen[id*e.stride : (id+1)*e.stride]
		for w := range row {
			row[w] &^= m[w]
		}
	}
	e.colls[c].seenDirty = false
}

// tableEnd drops every route of collector c's sessions not refreshed since
// its TableStart.
func (e *Engine) tableEnd(c int) {
	col := &e.colls[c]
	if !col.inDump {
		return
	}
	m := col.mask
	for id := range e.st {
		base := id * e.stride
		for w := range e.stride {
			stale := e.bits[base+w] & m[w] &^ e.seen[base+w]
			e.seen[base+w] &^= m[w]
			for stale != 0 {
				b := bits.TrailingZeros64(stale)
				stale &= stale - 1
				e.dropAll(uint32(id), int32(w*64+b))
			}
		}
	}
	// ADD-PATH ids and MOAS entries of refreshed sessions not refreshed themselves.
	var ids []uint32
	for id, l := range e.exc {
		for _, en := range l {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				ids = append(ids, id)
				break
			}
		}
	}
	for _, id := range ids {
		l := e.exc[id]
		var touched []int32
		n := 0
		for _, en := range l {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				if !slices.Contains(touched, en.sess) {
					touched = append(touched, en.sess)
				}
				continue
			}
			l[n] = en
			n++
		}
		e.setList(id, l[:n])
		for _, s := range touched {
			if !e.held(id, s) {
				continue
			}
			if e.hasEntries(id, s) {
				e.collapse(id, s)
			} else {
				e.lose(id, s)
			}
		}
		e.eval(id)
	}
	col.inDump = false
	col.seenDirty = false
	e.dumped = true
}

// dropSeen frees the refresh bitset once a whole bin has passed without
// any dump: it is as large as the session bitsets (a bit per prefix and
// session, 160 MB for 1 000 sessions and 1.25 M prefixes) and only needed
// during dumps, a few minutes every 8 hours. Dumps that follow each other
// (a bootstrap loading collector after collector) reuse it instead of
// leaving the collector that much garbage each. TableEnd leaves it all
// zero.
func (e *Engine) dropSeen() {
	dumped := e.dumped
	e.dumped = false
	if dumped {
		return
	}
	for i := range e.colls {
		if e.colls[i].inDump {
			return
		}
	}
	e.seen = nil
}
