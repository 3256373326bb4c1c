package visibility

import (
	"math/bits"

	"github.com/bgpwatch/bgpwatch"
)

// ---- visibility ----

// eval re-derives visibility and attribution of prefix id and records flips.
func (e *Engine) eval(id uint32) {
	p := &e.st[id]
	f := p.fam()
	vis := int(p.cnt) >= e.thr[f]
	attr := p.origin
	if p.flags&flagExc != 0 {
		attr = e.vote(id)
	}
	was := p.flags&flagVisible != 0
	if !vis && !was {
		p.attr = attr
		return
	}
	if vis && was && attr == p.attr {
		return
	}
	if was {
		e.count(id, p.attr, -1)
	}
	if vis {
		e.count(id, attr, +1)
		p.flags |= flagVisible
	} else {
		p.flags &^= flagVisible
	}
	if vis != was {
		o := attr
		if !vis {
			o = p.attr
		}
		e.recordChange(id, vis, o)
	}
	p.attr = attr
}

func (e *Engine) recordChange(id uint32, vis bool, origin bgpwatch.ASN) {
	p := &e.st[id]
	if e.quiet[p.fam()] {
		return
	}
	t := e.changeTime()
	if p.chg > 0 {
		c := &e.changes[p.chg-1]
		c.t, c.visible, c.origin = t, vis, origin
		return
	}
	e.changes = append(e.changes, changeRec{id: id, t: t, origin: origin, visible: vis, initial: !vis})
	p.chg = int32(len(e.changes))
}

type vote struct {
	peer, origin bgpwatch.ASN
}

// vote returns the attributed origin of a prefix with exception entries.
func (e *Engine) vote(id uint32) bgpwatch.ASN {
	p := &e.st[id]
	f := p.fam()
	vs := e.votes[:0]
	l := e.exc[id]
	base := int(id) * e.stride
	for w := range e.stride {
		m := e.bits[base+w] & e.ffMask[f][w]
		for m != 0 {
			b := bits.TrailingZeros64(m)
			m &= m - 1
			s := int32(w*64 + b)
			peer := e.sess[s].peer.ASN
			special := false
			for _, en := range l {
				if en.sess == s {
					special = true
					vs = append(vs, vote{peer, en.origin})
				}
			}
			if !special {
				vs = append(vs, vote{peer, p.origin})
			}
		}
	}
	e.votes = vs
	if len(vs) == 0 {
		return p.origin
	}
	// Sort by (origin, peer) and count distinct peers per origin.
	sortVotes(vs)
	best, bestN := bgpwatch.ASN(0), 0
	for i := 0; i < len(vs); {
		j, n := i, 0
		for j < len(vs) && vs[j].origin == vs[i].origin {
			if j == i || vs[j].peer != vs[j-1].peer {
				n++
			}
			j++
		}
		o := vs[i].origin
		switch {
		case bestN == 0, best == 0 && o != 0, o != 0 && n > bestN:
			best, bestN = o, n
		}
		i = j
	}
	return best
}

func sortVotes(vs []vote) {
	// insertion sort: vote lists are short (sessions of one prefix)
	for i := 1; i < len(vs); i++ {
		v := vs[i]
		j := i - 1
		for j >= 0 && (vs[j].origin > v.origin || vs[j].origin == v.origin && vs[j].peer > v.peer) {
			vs[j+1] = vs[j]
			j--
		}
		vs[j+1] = v
	}
}
