package synth

import (
	"strconv"

	"github.com/bgpwatch/bgpwatch"
)

// ---- truth series

func (g *gen) initTruth(truth *Truth) {
	w := g.w
	g.asCounts = make([]bgpwatch.Counts, len(w.ases))
	g.asDirty = make([]bool, len(w.ases))
	g.ccCounts = map[string]*bgpwatch.Counts{}
	g.trackAS = map[int]*SeriesData{}
	g.trackCC = map[string]*SeriesData{}
	truth.Series = TruthSeries{Start: truth.Start, Step: int(binSec), Countries: map[string]*SeriesData{}, ASNs: map[string]*SeriesData{}}
	for ai := range w.ases {
		a := &w.ases[ai]
		g.asCounts[ai] = g.countAS(ai)
		cc := g.ccCounts[a.country]
		if cc == nil {
			cc = &bgpwatch.Counts{}
			g.ccCounts[a.country] = cc
		}
		addCounts(cc, g.asCounts[ai], 1)
		if a.named {
			sd := &SeriesData{}
			g.trackAS[ai] = sd
			truth.Series.ASNs[strconv.FormatUint(uint64(a.asn), 10)] = sd
			truth.Networks = append(truth.Networks, TruthNetwork{ASN: bgpwatch.ASN(a.asn), Name: a.name, Country: a.country, Access: a.access,
				Prefixes: g.asCounts[ai].Prefixes, V6Prefixes: g.asCounts[ai].V6Prefixes, Slash24: g.asCounts[ai].Slash24})
			if _, ok := g.trackCC[a.country]; !ok {
				g.trackCC[a.country] = &SeriesData{}
				truth.Series.Countries[a.country] = g.trackCC[a.country]
			}
		}
	}
	if g.sc.TrackAll {
		for cc := range g.ccCounts {
			if _, ok := g.trackCC[cc]; !ok {
				g.trackCC[cc] = &SeriesData{}
				truth.Series.Countries[cc] = g.trackCC[cc]
			}
		}
	}
}

func addCounts(dst *bgpwatch.Counts, c bgpwatch.Counts, sign int) {
	dst.Prefixes += sign * c.Prefixes
	dst.Slash24 += sign * c.Slash24
	dst.V6Prefixes += sign * c.V6Prefixes
}

// countAS computes an ASN's visible counts; /24 equivalents count
// overlapping prefixes once (a /16 and its /24s are 256, not 512).
func (g *gen) countAS(ai int) bgpwatch.Counts {
	var c bgpwatch.Counts
	var maxEnd, addrs uint64
	for _, i := range g.w.ases[ai].prefixes {
		if !g.vis.get(i) {
			continue
		}
		p := g.w.pfx[i]
		if i >= g.w.nV4 {
			c.V6Prefixes++
			continue
		}
		c.Prefixes++
		s := addrU32(p.Addr())
		e := s + 1<<(32-p.Bits())
		switch {
		case s >= maxEnd:
			addrs += e - s
			maxEnd = e
		case e > maxEnd:
			addrs += e - maxEnd
			maxEnd = e
		}
	}
	c.Slash24 = int(addrs / 256)
	return c
}

func (g *gen) recordBin() {
	if g.anyDirty {
		for ai, d := range g.asDirty {
			if !d {
				continue
			}
			g.asDirty[ai] = false
			nc := g.countAS(ai)
			cc := g.ccCounts[g.w.ases[ai].country]
			addCounts(cc, g.asCounts[ai], -1)
			addCounts(cc, nc, 1)
			g.asCounts[ai] = nc
		}
		g.anyDirty = false
	}
	for ai, sd := range g.trackAS {
		appendSeries(sd, g.asCounts[ai])
	}
	for cc, sd := range g.trackCC {
		appendSeries(sd, *g.ccCounts[cc])
	}
}

func appendSeries(sd *SeriesData, c bgpwatch.Counts) {
	sd.Prefixes = append(sd.Prefixes, c.Prefixes)
	sd.Slash24 = append(sd.Slash24, c.Slash24)
	sd.V6Prefixes = append(sd.V6Prefixes, c.V6Prefixes)
}
