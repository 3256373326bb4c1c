package visibility

import "slices"

// ---- dumps ----

// A collector's refresh bitset exists during its dumps only: a bit per
// prefix and session of that collector (width bits per prefix id, the
// session's local index within it), set when the dump refreshes the
// session's route. Its size follows the collector, not the whole session
// set: 1.25 M prefixes × 16 sessions take 2.5 MB.

// seenWidth returns the bits per prefix id for n sessions: a power of two
// up to 64 (a prefix's bits never straddle two words), then whole words.
func seenWidth(n int) int {
	w := 8
	for w < n {
		if w < 64 {
			w *= 2
		} else {
			w += 64
		}
	}
	return w
}

func (c *collector) seenPos(id uint32, local int32) (int, uint64) {
	i := int(id)*c.width + int(local)
	return i >> 6, 1 << (i & 63)
}

// see marks the route of the collector's session local for prefix id as
// refreshed and reports whether it already was.
func (c *collector) see(id uint32, local int32) bool {
	w, b := c.seenPos(id, local)
	if w >= len(c.seen) {
		c.seen = append(c.seen, make([]uint64, w+1-len(c.seen))...)
	}
	was := c.seen[w]&b != 0
	c.seen[w] |= b
	return was
}

func (c *collector) seenBit(id uint32, local int32) bool {
	w, b := c.seenPos(id, local)
	return w < len(c.seen) && c.seen[w]&b != 0
}

func (c *collector) unsee(id uint32, local int32) {
	if w, b := c.seenPos(id, local); w < len(c.seen) {
		c.seen[w] &^= b
	}
}

// unseeAll clears prefix id's bits (the id is recycled).
func (c *collector) unseeAll(id uint32) {
	for l := range int32(len(c.sess)) {
		c.unsee(id, l)
	}
}

// widen makes room in the refresh bitset for a session joining the
// collector during its dump.
func (c *collector) widen() {
	nw := seenWidth(len(c.sess))
	if nw == c.width {
		return
	}
	old := *c
	n := len(old.seen) * 64 / old.width
	c.seen = make([]uint64, (n*nw+63)>>6)
	c.width = nw
	for id := range uint32(n) {
		for l := range int32(old.width) {
			if old.seenBit(id, l) {
				c.see(id, l)
			}
		}
	}
}

func (e *Engine) tableStart(c int) {
	col := &e.colls[c]
	col.width = seenWidth(len(col.sess))
	col.seen = make([]uint64, (len(e.st)*col.width+63)>>6)
	col.inDump = true
	col.epoch++
}

// tableEnd drops every route of collector c's sessions not refreshed since
// its TableStart.
func (e *Engine) tableEnd(c int) {
	col := &e.colls[c]
	if !col.inDump {
		return
	}
	all := uint64(1)<<len(col.sess) - 1 // the row of a prefix all sessions refreshed (width ≤ 64)
	for id := range uint32(len(e.st)) {
		if e.st[id].holders == 0 {
			continue
		}
		if col.width <= 64 {
			w, _ := col.seenPos(id, 0)
			if w < len(col.seen) && (col.seen[w]>>(int(id)*col.width&63))&all == all {
				continue
			}
		}
		for l, s := range col.sess {
			if e.held(id, s) && !col.seenBit(id, int32(l)) {
				e.dropAll(id, s)
			}
		}
	}
	// ADD-PATH ids and MOAS entries of refreshed sessions not refreshed themselves.
	var ids []uint32
	for id, x := range e.exc {
		for _, en := range x.ents {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				ids = append(ids, id)
				break
			}
		}
	}
	for _, id := range ids {
		x := e.exc[id]
		var touched []int32
		n := 0
		for _, en := range x.ents {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				if !slices.Contains(touched, en.sess) {
					touched = append(touched, en.sess)
				}
				continue
			}
			x.ents[n] = en
			n++
		}
		x.ents = x.ents[:n]
		x.ok = false
		e.dropEmpty(id, x)
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
	for id, x := range e.exc {
		e.rebase(id, x)
	}
	col.inDump = false
	col.seen = nil
}
