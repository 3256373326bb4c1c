package visibility

import (
	"math/bits"
	"slices"

	"github.com/bgpwatch/bgpwatch"
)

// ---- exception entries (ADD-PATH ids, origins differing from the dominant one) ----

// excList holds the exception entries of one prefix, sorted by session and
// path id, and the origin vote of its full-feed peer ASNs, kept up to date
// route by route: a prefix seen by a thousand sessions costs no scan of
// its sessions per route.
type excList struct {
	ents []pathEntry
	// tally: per origin, the full-feed peer ASNs of the prefix's family
	// voting for it (see vote); valid when ok. A list is created with ok
	// false and counted on its first eval; a change of the full-feed set
	// invalidates every list.
	tally []originCount
	ok    bool
}

type originCount struct {
	origin bgpwatch.ASN
	n      int32
}

// search returns the index of entry (s, pathID), or where it would go.
func (x *excList) search(s int32, pathID uint32) (int, bool) {
	lo, hi := 0, len(x.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if en := &x.ents[m]; en.sess < s || en.sess == s && en.pathID < pathID {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(x.ents) && x.ents[lo].sess == s && x.ents[lo].pathID == pathID
}

// span returns the index range of session s's entries.
func (x *excList) span(s int32) (int, int) {
	i, _ := x.search(s, 0)
	j := i
	for j < len(x.ents) && x.ents[j].sess == s {
		j++
	}
	return i, j
}

func (e *Engine) hasEntries(id uint32, s int32) bool {
	x := e.exc[id]
	if x == nil {
		return false
	}
	i, j := x.span(s)
	return i < j
}

func (e *Engine) setEntry(id uint32, s int32, pathID uint32, origin bgpwatch.ASN, epoch uint32) {
	x := e.exc[id]
	if x == nil {
		x = &excList{}
		e.exc[id] = x
		e.st[id].flags |= flagExc
	}
	i, ok := x.search(s, pathID)
	if ok {
		x.ents[i].origin = origin
		x.ents[i].epoch = epoch
		return
	}
	x.ents = slices.Insert(x.ents, i, pathEntry{sess: s, pathID: pathID, origin: origin, epoch: epoch})
}

// delEntry removes one path; it reports whether the path was there.
func (e *Engine) delEntry(id uint32, s int32, pathID uint32) bool {
	x := e.exc[id]
	if x == nil {
		return false
	}
	i, ok := x.search(s, pathID)
	if !ok {
		return false
	}
	x.ents = slices.Delete(x.ents, i, i+1)
	e.dropEmpty(id, x)
	return true
}

func (e *Engine) delSession(id uint32, s int32) {
	x := e.exc[id]
	if x == nil {
		return
	}
	i, j := x.span(s)
	x.ents = slices.Delete(x.ents, i, j)
	e.dropEmpty(id, x)
}

// dropEmpty deletes a prefix's list once its last entry is gone.
func (e *Engine) dropEmpty(id uint32, x *excList) {
	if len(x.ents) == 0 {
		delete(e.exc, id)
		e.st[id].flags &^= flagExc
	}
}

// collapse turns a session's entries back into a simple path when its only
// path is path id 0 with the dominant origin.
func (e *Engine) collapse(id uint32, s int32) {
	x := e.exc[id]
	if x == nil {
		return
	}
	i, j := x.span(s)
	if j-i != 1 || x.ents[i].pathID != 0 || x.ents[i].origin != e.st[id].origin {
		return
	}
	if c := &e.colls[e.sess[s].coll]; c.inDump && x.ents[i].epoch != c.epoch {
		c.unsee(id, e.sess[s].local)
	}
	x.ents = slices.Delete(x.ents, i, i+1)
	e.dropEmpty(id, x)
}

// ---- the origin vote of prefixes with exception entries ----

// The vote (see the package documentation): every full-feed peer ASN votes
// once for every distinct origin among the paths of its full-feed sessions
// holding the prefix; a session without entries holds the prefix's simple
// path, with origin st.origin.

// sessVotes appends to dst the origins of session s's paths for prefix id,
// when s holds it, without duplicates.
func (e *Engine) sessVotes(id uint32, x *excList, s int32, dst []bgpwatch.ASN) []bgpwatch.ASN {
	if !e.held(id, s) {
		return dst
	}
	i, j := x.span(s)
	if i == j {
		return addOrigin(dst, e.st[id].origin)
	}
	for ; i < j; i++ {
		dst = addOrigin(dst, x.ents[i].origin)
	}
	return dst
}

// peerVotes returns the origins session s's peer ASN votes for on prefix
// id, s being a full-feed session of family f.
func (e *Engine) peerVotes(id uint32, x *excList, s int32, f int, dst []bgpwatch.ASN) []bgpwatch.ASN {
	dst = e.sessVotes(id, x, s, dst[:0])
	for _, o := range e.sess[s].ffOthers[f] {
		dst = e.sessVotes(id, x, o, dst)
	}
	return dst
}

func addOrigin(dst []bgpwatch.ASN, o bgpwatch.ASN) []bgpwatch.ASN {
	if slices.Contains(dst, o) {
		return dst
	}
	return append(dst, o)
}

// voteBefore starts a change of session s's paths for prefix id: when the
// prefix has a counted vote and s is full-feed, it notes the origins s's
// peer ASN votes for and returns the list, for voteAfter.
func (e *Engine) voteBefore(id uint32, s int32) *excList {
	if e.st[id].flags&flagExc == 0 {
		return nil // the common case, inlined
	}
	return e.noteVotes(id, s)
}

func (e *Engine) noteVotes(id uint32, s int32) *excList {
	f := e.st[id].fam()
	x := e.exc[id]
	if !x.ok || !e.sess[s].ff[f] {
		return nil
	}
	e.vbuf[0] = e.peerVotes(id, x, s, f, e.vbuf[0])
	return x
}

// voteAfter ends the change voteBefore started: it moves the peer ASN's
// votes from the origins noted to the ones it votes for now. A list that
// came or went during the change is counted afresh by eval.
func (e *Engine) voteAfter(id uint32, s int32, x *excList) {
	if x != nil {
		e.moveVotes(id, s, x)
	}
}

func (e *Engine) moveVotes(id uint32, s int32, x *excList) {
	if e.exc[id] != x {
		return
	}
	f := e.st[id].fam()
	before := e.vbuf[0]
	after := e.peerVotes(id, x, s, f, e.vbuf[1])
	e.vbuf[1] = after
	x.moveVote(before, after)
}

func (x *excList) add(o bgpwatch.ASN, d int32) {
	for i := range x.tally {
		if x.tally[i].origin == o {
			x.tally[i].n += d
			if x.tally[i].n == 0 {
				x.tally = slices.Delete(x.tally, i, i+1)
			}
			return
		}
	}
	x.tally = append(x.tally, originCount{o, d})
}

// recount counts prefix id's vote from scratch: the full-feed sessions
// holding it in session order, merged with the entries (sorted by
// session); a session's vote for an origin counts unless a lower session
// of the same peer ASN already voted for it.
func (e *Engine) recount(id uint32, x *excList) {
	x.tally = x.tally[:0]
	f := e.st[id].fam()
	k := 0
	for w, plane := range e.bits {
		m := plane[id] & e.ffMask[f][w]
		for m != 0 {
			b := bits.TrailingZeros64(m)
			m &= m - 1
			s := int32(w*64 + b)
			for k < len(x.ents) && x.ents[k].sess < s {
				k++
			}
			own := e.vbuf[2][:0]
			if k == len(x.ents) || x.ents[k].sess != s {
				own = append(own, e.st[id].origin)
			} else {
				for j := k; j < len(x.ents) && x.ents[j].sess == s; j++ {
					own = addOrigin(own, x.ents[j].origin)
				}
			}
			e.vbuf[2] = own
			lower := e.vbuf[3][:0]
			for _, o := range e.sess[s].ffOthers[f] {
				if o < s {
					lower = e.sessVotes(id, x, o, lower)
				}
			}
			e.vbuf[3] = lower
			for _, o := range own {
				if !slices.Contains(lower, o) {
					x.add(o, +1)
				}
			}
		}
	}
	x.ok = true
}

// vote returns the attributed origin of a prefix with exception entries:
// the origin most full-feed peer ASNs vote for, ties to the lowest ASN,
// 0 only when no real origin has a vote, the prefix's simple-path origin
// when nobody votes.
func (e *Engine) vote(id uint32) bgpwatch.ASN {
	x := e.exc[id]
	if !x.ok {
		e.recount(id, x)
	}
	best, bestN := bgpwatch.ASN(0), int32(0)
	for _, t := range x.tally {
		switch {
		case t.n <= 0:
		case bestN == 0, best == 0 && t.origin != 0:
			best, bestN = t.origin, t.n
		case t.origin != 0 && (t.n > bestN || t.n == bestN && t.origin < best):
			best, bestN = t.origin, t.n
		}
	}
	if bestN == 0 {
		return e.st[id].origin
	}
	return best
}

// rebase makes the origin that most sessions hold as their only path (path
// id 0) the prefix's simple-path origin when fewer sessions hold the
// current one: those sessions' entries go, the simple paths of the
// current origin become entries. Nothing a session holds changes, nor the
// vote; the list shrinks (a MOAS prefix seen first with its minority
// origin would otherwise keep an entry for most of its sessions). It also
// returns the spare capacity of lists that have more than an eighth of
// it: a table load grows them by appends (a whole-table ADD-PATH session
// of 4 paths per prefix left 40 entries in room for 64), and once a dump
// is over they change little.
func (e *Engine) rebase(id uint32, x *excList) {
	p := &e.st[id]
	counts := e.obuf[:0]
	withEntries := 0
	for i := 0; i < len(x.ents); {
		j := i + 1
		for j < len(x.ents) && x.ents[j].sess == x.ents[i].sess {
			j++
		}
		withEntries++
		if j == i+1 && x.ents[i].pathID == 0 {
			o := x.ents[i].origin
			k := slices.IndexFunc(counts, func(c originCount) bool { return c.origin == o })
			if k < 0 {
				counts = append(counts, originCount{o, 0})
				k = len(counts) - 1
			}
			counts[k].n++
		}
		i = j
	}
	e.obuf = counts
	best := originCount{}
	for _, c := range counts {
		if c.n > best.n || c.n == best.n && c.origin < best.origin {
			best = c
		}
	}
	simple := int(p.holders) - withEntries
	if int(best.n) <= simple {
		if slack(x.ents) {
			x.ents = slices.Clone(x.ents)
		}
		return
	}
	ents := make([]pathEntry, 0, len(x.ents)-int(best.n)+simple)
	k := 0
	for w, plane := range e.bits {
		m := plane[id]
		for m != 0 {
			b := bits.TrailingZeros64(m)
			m &= m - 1
			s := int32(w*64 + b)
			for k < len(x.ents) && x.ents[k].sess < s {
				k++
			}
			j := k
			for j < len(x.ents) && x.ents[j].sess == s {
				j++
			}
			c := &e.colls[e.sess[s].coll]
			local := e.sess[s].local
			switch {
			case j == k: // the simple path becomes an entry
				var epoch uint32
				if c.inDump && c.seenBit(id, local) {
					epoch = c.epoch
				}
				ents = append(ents, pathEntry{sess: s, origin: p.origin, epoch: epoch})
			case j == k+1 && x.ents[k].pathID == 0 && x.ents[k].origin == best.origin: // becomes the simple path
				if c.inDump && x.ents[k].epoch != c.epoch {
					c.unsee(id, local)
				}
			default:
				ents = append(ents, x.ents[k:j]...)
			}
			k = j
		}
	}
	x.ents = ents
	p.origin = best.origin
	e.dropEmpty(id, x)
}

// shiftVotes moves prefix id's vote to a new full-feed set: every peer ASN
// whose full-feed sessions changed votes with its new sessions instead of
// its old ones.
func (e *Engine) shiftVotes(id uint32, deltas []ffChange) {
	x := e.exc[id]
	if !x.ok {
		return
	}
	for _, c := range deltas {
		before, after := e.vbuf[0][:0], e.vbuf[1][:0]
		for _, s := range c.old {
			before = e.sessVotes(id, x, s, before)
		}
		for _, s := range c.new {
			after = e.sessVotes(id, x, s, after)
		}
		e.vbuf[0], e.vbuf[1] = before, after
		x.moveVote(before, after)
	}
}

// moveVote moves one peer ASN's vote from the origins before to the
// origins after.
func (x *excList) moveVote(before, after []bgpwatch.ASN) {
	for _, o := range before {
		if !slices.Contains(after, o) {
			x.add(o, -1)
		}
	}
	for _, o := range after {
		if !slices.Contains(before, o) {
			x.add(o, +1)
		}
	}
}

// slack reports whether a list's spare capacity is worth giving back.
func slack(ents []pathEntry) bool {
	return cap(ents)-len(ents) > len(ents)/8+2
}
