package visibility

import (
	"math"
	"math/bits"

	"github.com/bgpwatch/bgpwatch"
)

// ---- full-feed set ----

// ffChange is a peer ASN's full-feed sessions of one family before and
// after a re-evaluation.
type ffChange struct{ old, new []int32 }

// evalFullFeed re-evaluates the full-feed sessions of both families and,
// when the set changed, recounts every prefix.
func (e *Engine) evalFullFeed() {
	var newFF [][2]bool // nil until a session changes
	for f := range 2 {
		min := e.cfg.FullFeedMin
		if f == famV6 {
			min = e.cfg.FullFeedMinV6
		}
		if min <= 0 {
			largest := 0
			for i := range e.sess {
				largest = max(largest, e.sess[i].size[f])
			}
			min = int(math.Ceil(e.cfg.FullFeedShare*float64(largest) - 1e-9))
			min = max(min, 1)
		}
		for i := range e.sess {
			ff := e.sess[i].size[f] >= min
			if ff != e.sess[i].ff[f] && newFF == nil {
				newFF = make([][2]bool, len(e.sess))
				for j := range e.sess {
					newFF[j] = e.sess[j].ff
				}
			}
			if newFF != nil {
				newFF[i][f] = ff
			}
		}
	}
	if newFF == nil {
		return
	}
	// The peer ASNs whose full-feed sessions change, with their sessions
	// before and after: every prefix's count changes by at most those.
	var deltas [2][]ffChange
	var deltaCost [2]int
	byASN := map[bgpwatch.ASN][]int32{}
	var asns []bgpwatch.ASN
	for i := range e.sess {
		a := e.sess[i].peer.ASN
		if _, ok := byASN[a]; !ok {
			asns = append(asns, a)
		}
		byASN[a] = append(byASN[a], int32(i))
	}
	for f := range 2 {
		for _, a := range asns {
			var c ffChange
			moved := false
			for _, s := range byASN[a] {
				if e.sess[s].ff[f] {
					c.old = append(c.old, s)
				}
				if newFF[s][f] {
					c.new = append(c.new, s)
				}
				moved = moved || e.sess[s].ff[f] != newFF[s][f]
			}
			if moved {
				deltas[f] = append(deltas[f], c)
				deltaCost[f] += len(c.old) + len(c.new)
			}
		}
	}
	for i := range e.sess {
		e.sess[i].ff = newFF[i]
	}
	wasN := e.ffN
	var fullCost [2]int
	for f := range 2 {
		groups := map[bgpwatch.ASN][]int32{}
		var order []bgpwatch.ASN
		for i := range e.sess {
			e.sess[i].ffOthers[f] = nil
			if e.sess[i].ff[f] {
				a := e.sess[i].peer.ASN
				if _, ok := groups[a]; !ok {
					order = append(order, a)
				}
				groups[a] = append(groups[a], int32(i))
			}
		}
		clear(e.ffMask[f])
		clear(e.ffSingle[f])
		e.ffMulti[f] = e.ffMulti[f][:0]
		fullCost[f] = e.stride
		for _, a := range order {
			g := groups[a]
			for _, s := range g {
				e.ffMask[f][s>>6] |= 1 << (s & 63)
				for _, o := range g {
					if o != s {
						e.sess[s].ffOthers[f] = append(e.sess[s].ffOthers[f], o)
					}
				}
			}
			if len(g) == 1 {
				e.ffSingle[f][g[0]>>6] |= 1 << (g[0] & 63)
			} else {
				e.ffMulti[f] = append(e.ffMulti[f], g)
				fullCost[f] += len(g)
			}
		}
		e.ffN[f] = len(order)
		e.thr[f] = int(math.Floor(e.cfg.VisibleShare*float64(e.ffN[f])+1e-9)) + 1
	}
	// The first table of a family is the initial state, not news: its
	// prefixes becoming visible are not listed in Changes.
	for f := range 2 {
		e.quiet[f] = wasN[f] == 0
	}
	defer func() { e.quiet = [2]bool{} }()
	// Recount every prefix, from scratch or, when fewer sessions are
	// involved (a collector's sessions joining a world of full feeds),
	// by the changed peer ASNs only: the counts are exact for the old
	// full-feed set.
	incremental := [2]bool{deltaCost[0] < fullCost[0], deltaCost[1] < fullCost[1]}
	for id := range e.st {
		p := &e.st[id]
		f := p.fam()
		if incremental[f] {
			n := int(p.cnt)
			for _, c := range deltas[f] {
				if e.othersHold(uint32(id), c.old) {
					n--
				}
				if e.othersHold(uint32(id), c.new) {
					n++
				}
			}
			p.cnt = uint16(n)
			if p.flags&flagExc != 0 {
				e.shiftVotes(uint32(id), deltas[f])
			}
			e.eval(uint32(id))
			continue
		}
		if p.flags&flagExc != 0 {
			e.exc[uint32(id)].ok = false // eval counts the vote afresh
		}
		n := 0
		for w, plane := range e.bits {
			n += bits.OnesCount64(plane[id] & e.ffSingle[f][w])
		}
		for _, g := range e.ffMulti[f] {
			if e.othersHold(uint32(id), g) {
				n++
			}
		}
		p.cnt = uint16(n)
		e.eval(uint32(id))
	}
}
