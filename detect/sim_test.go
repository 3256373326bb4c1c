package detect

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// t0 is the start of every synthetic series.
var t0 = time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC)

// at is the start of bin i.
func at(i int) time.Time { return t0.Add(time.Duration(i) * bgpwatch.BinStep) }

// simASN is one synthetic network of size /24 prefixes; prefix j is
// visible in bin i when vis(i, j) (or j < count(i) when vis is nil).
type simASN struct {
	asn    bgpwatch.ASN
	cc     string
	access bgpwatch.Access
	size   int
	count  func(i int) int
	vis    func(i, j int) bool
}

func (a *simASN) visible(i, j int) bool {
	if a.vis != nil {
		return a.vis(i, j)
	}
	if a.count == nil {
		return true
	}
	return j < a.count(i)
}

// prefix j of network k (k-th in the sim) as a /24.
func simPrefix(k, j int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(11 + k), byte(j >> 8), byte(j), 0}), 24)
}

// sim builds a series of bins from synthetic networks.
type sim struct {
	asns  []simASN
	n     int              // number of bins
	feed  func(i int) int  // FullFeed; 20 when nil
	drop  func(i int) bool // bin missing (gap) when true
	deagg func(i int) bool // prefixes counted twice (de-aggregated)
}

// steps returns a count function: full, but v in each [from, to, v).
func steps(full int, spans ...[3]int) func(int) int {
	return func(i int) int {
		for _, s := range spans {
			if i >= s[0] && i < s[1] {
				return s[2]
			}
		}
		return full
	}
}

// outage returns a count function: full outside [from, to), low inside.
func outage(full, low int, spans ...[2]int) func(int) int {
	return func(i int) int {
		for _, s := range spans {
			if i >= s[0] && i < s[1] {
				return low
			}
		}
		return full
	}
}

func (s *sim) info(a bgpwatch.ASN) bgpwatch.ASNInfo {
	for _, x := range s.asns {
		if x.asn == a {
			return bgpwatch.ASNInfo{ASN: a, Name: fmt.Sprintf("NET-%d", a), Country: x.cc, Access: x.access}
		}
	}
	return bgpwatch.ASNInfo{ASN: a, Access: bgpwatch.AccessUnknown}
}

func (s *sim) bins() []*bgpwatch.Bin {
	var out []*bgpwatch.Bin
	prev := make([][]bool, len(s.asns))
	for i := 0; i < s.n; i++ {
		b := &bgpwatch.Bin{
			Start:     at(i),
			ASNs:      map[bgpwatch.ASN]bgpwatch.Counts{},
			Countries: map[string]bgpwatch.Counts{},
			FullFeed:  20,
		}
		if s.feed != nil {
			b.FullFeed = s.feed(i)
		}
		for k := range s.asns {
			a := &s.asns[k]
			cur := make([]bool, a.size)
			n := 0
			for j := range cur {
				cur[j] = a.visible(i, j)
				if cur[j] {
					n++
				}
				was := prev[k] == nil || prev[k][j]
				if cur[j] != was && prev[k] != nil {
					b.Changes = append(b.Changes, bgpwatch.VisibilityChange{
						Time: at(i).Add(time.Minute), Prefix: simPrefix(k, j), Origin: a.asn, Visible: cur[j],
					})
				}
			}
			prev[k] = cur
			c := bgpwatch.Counts{Prefixes: n, Slash24: n}
			if s.deagg != nil && s.deagg(i) {
				c.Prefixes = 2 * n
			}
			if n > 0 || i > 0 {
				b.ASNs[a.asn] = c
			}
			if a.cc != "" {
				cc := b.Countries[a.cc]
				cc.Prefixes += c.Prefixes
				cc.Slash24 += c.Slash24
				b.Countries[a.cc] = cc
			}
		}
		if s.drop != nil && s.drop(i) {
			continue
		}
		out = append(out, b)
	}
	return out
}

// run feeds all bins to a new detector and returns the transitions.
func (s *sim) run(cfg Config) ([]Transition, *Detector) {
	d := New(cfg, s.info)
	var tr []Transition
	for _, b := range s.bins() {
		tr = append(tr, d.Observe(b)...)
	}
	return tr, d
}

// final returns the last state of each event, in order of first appearance.
func final(tr []Transition) []bgpwatch.Event {
	type key struct {
		s  bgpwatch.Scope
		cc string
		a  bgpwatch.ASN
		t  time.Time
	}
	idx := map[key]int{}
	var out []bgpwatch.Event
	for _, t := range tr {
		k := key{t.Event.Scope, t.Event.Country, t.Event.ASN, t.Event.StartedAt}
		if i, ok := idx[k]; ok {
			out[i] = t.Event
			continue
		}
		idx[k] = len(out)
		out = append(out, t.Event)
	}
	return out
}

// span is an event summary for comparisons.
type span struct {
	Scope   bgpwatch.Scope
	Country string
	ASN     bgpwatch.ASN
	Start   int // bin index
	End     int // bin index; -1 while ongoing
}

func spans(evs []bgpwatch.Event) []span {
	var out []span
	for _, e := range evs {
		s := span{Scope: e.Scope, Country: e.Country, ASN: e.ASN, Start: int(e.StartedAt.Sub(t0) / bgpwatch.BinStep), End: -1}
		if !e.EndedAt.IsZero() {
			s.End = int(e.EndedAt.Sub(t0) / bgpwatch.BinStep)
		}
		out = append(out, s)
	}
	return out
}
