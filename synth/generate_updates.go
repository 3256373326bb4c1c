package synth

import (
	"cmp"
	"slices"
)

// ---- update messages

func (g *gen) state(t int64, s *session, from, to uint16) error {
	c := g.cols[s.col]
	if c.enc == nil {
		return nil
	}
	c.info.Records++
	c.info.State++
	if from == StateEstablished {
		c.info.PeerDown++
	}
	return c.enc.StateChange(uint32(t), &s.mrt, from, to)
}

func (g *gen) prep(t int64, si int, i int, op uint8) error {
	p := &g.pend[si]
	if p.t != t || p.ops[int32(i)] != 0 {
		if err := g.flush(si); err != nil {
			return err
		}
		p.t = t
	}
	p.ops[int32(i)] = op
	return nil
}

func (g *gen) announce(t int64, si int, i int) error {
	s := g.w.sessions[si]
	if g.cols[s.col].enc == nil {
		return nil
	}
	if err := g.prep(t, si, i, 2); err != nil {
		return err
	}
	g.orig[uint64(si)<<32|uint64(i)] = uint32(t)
	g.hasO[si].set(i, true)
	p := &g.pend[si]
	ver := g.verOf(si, i)
	base := uint64(g.w.owner[i])<<32 | uint64(ver)<<16 | uint64(btoi(i >= g.w.nV4))
	p.a = append(p.a, pendA{key: base | 1<<8, i: int32(i), pathID: 1})
	if s.spec.AddPath && g.w.twoPaths(i) {
		p.a = append(p.a, pendA{key: base | 2<<8, i: int32(i), pathID: 2})
	}
	return nil
}

func (g *gen) withdraw(t int64, si int, i int) error {
	s := g.w.sessions[si]
	if g.cols[s.col].enc == nil {
		return nil
	}
	if err := g.prep(t, si, i, 1); err != nil {
		return err
	}
	p := &g.pend[si]
	n := NLRI{Prefix: g.w.pfx[i], PathID: 1}
	if i < g.w.nV4 {
		p.w4 = append(p.w4, n)
	} else {
		p.w6 = append(p.w6, n)
	}
	if s.spec.AddPath && g.w.twoPaths(i) {
		n.PathID = 2
		if i < g.w.nV4 {
			p.w4 = append(p.w4, n)
		} else {
			p.w6 = append(p.w6, n)
		}
	}
	return nil
}

func (g *gen) verOf(si, i int) uint8 {
	if !g.hasV[si].get(i) {
		return 0
	}
	return g.ver[uint64(si)<<32|uint64(i)]
}

func (g *gen) flushAll() error {
	for si := range g.pend {
		if err := g.flush(si); err != nil {
			return err
		}
	}
	return nil
}

const nlriBudget = 3800

func (g *gen) flush(si int) error {
	p := &g.pend[si]
	if len(p.w4)+len(p.w6)+len(p.a) == 0 {
		return nil
	}
	s := g.w.sessions[si]
	c := g.cols[s.col]
	ts := uint32(p.t)
	ap := s.spec.AddPath
	for _, ws := range [][]NLRI{p.w4, p.w6} {
		for len(ws) > 0 {
			k, size := 0, 0
			for k < len(ws) && size+nlriSize(ws[k].Prefix, ap) < nlriBudget {
				size += nlriSize(ws[k].Prefix, ap)
				k++
			}
			if c.enc != nil {
				if err := c.enc.Update(ts, &s.mrt, ws[:k], nil, nil); err != nil {
					return err
				}
				c.info.Records++
				c.info.Withdraw += k
			}
			ws = ws[k:]
		}
	}
	slices.SortStableFunc(p.a, func(x, y pendA) int { return cmp.Compare(x.key, y.key) })
	var nl []NLRI
	for x := 0; x < len(p.a); {
		y := x
		for y < len(p.a) && p.a[y].key == p.a[x].key {
			y++
		}
		pa := p.a[x]
		g.w.attrsFor(&g.attrs, s, int(pa.i), g.verOf(si, int(pa.i)), pa.pathID)
		nl = nl[:0]
		size := 0
		for z := x; z <= y; z++ {
			if z == y || size+nlriSize(g.w.pfx[p.a[z].i], ap) >= nlriBudget-200 {
				if c.enc != nil && len(nl) > 0 {
					if err := c.enc.Update(ts, &s.mrt, nil, &g.attrs, nl); err != nil {
						return err
					}
					c.info.Records++
					c.info.Announce += len(nl)
				}
				nl, size = nl[:0], 0
				if z == y {
					break
				}
			}
			nl = append(nl, NLRI{Prefix: g.w.pfx[p.a[z].i], PathID: p.a[z].pathID})
			size += nlriSize(g.w.pfx[p.a[z].i], ap)
		}
		x = y
	}
	p.w4, p.w6, p.a = p.w4[:0], p.w6[:0], p.a[:0]
	clear(p.ops)
	return nil
}
