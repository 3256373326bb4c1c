package visibility

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// model is a deliberately naive re-implementation of the documented
// semantics, recomputing everything from scratch at every bin close. The
// differential test feeds it and the Engine the same random streams.
type model struct {
	cfg       Config
	countryOf func(ASN) string
	rib       map[bgpwatch.Peer]map[netip.Prefix]map[uint32]ASN
	inDump    map[string]bool
	fresh     map[bgpwatch.Peer]map[netip.Prefix]map[uint32]bool
	ff        map[bgpwatch.Peer][2]bool
	prevASN   map[ASN]Counts
	prevCtry  map[string]Counts
	prevVis   map[netip.Prefix]bool
	prevFF    [2]int
}

func newModel(cfg Config, countryOf func(ASN) string) *model {
	return &model{
		cfg: cfg, countryOf: countryOf,
		rib:     map[bgpwatch.Peer]map[netip.Prefix]map[uint32]ASN{},
		inDump:  map[string]bool{},
		fresh:   map[bgpwatch.Peer]map[netip.Prefix]map[uint32]bool{},
		ff:      map[bgpwatch.Peer][2]bool{},
		prevASN: map[ASN]Counts{}, prevCtry: map[string]Counts{}, prevVis: map[netip.Prefix]bool{},
	}
}

func fam(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

func (m *model) apply(o bgpwatch.Observation) {
	p := o.Prefix.Masked()
	switch o.Kind {
	case bgpwatch.Announce, bgpwatch.TableRoute:
		if m.rib[o.Peer] == nil {
			m.rib[o.Peer] = map[netip.Prefix]map[uint32]ASN{}
		}
		if m.rib[o.Peer][p] == nil {
			m.rib[o.Peer][p] = map[uint32]ASN{}
		}
		m.rib[o.Peer][p][o.PathID] = o.Origin
		if m.inDump[o.Peer.Collector] {
			if m.fresh[o.Peer] == nil {
				m.fresh[o.Peer] = map[netip.Prefix]map[uint32]bool{}
			}
			if m.fresh[o.Peer][p] == nil {
				m.fresh[o.Peer][p] = map[uint32]bool{}
			}
			m.fresh[o.Peer][p][o.PathID] = true
		}
	case bgpwatch.Withdraw:
		if r := m.rib[o.Peer][p]; r != nil {
			delete(r, o.PathID)
			if len(r) == 0 {
				delete(m.rib[o.Peer], p)
			}
		}
	case bgpwatch.PeerDown:
		delete(m.rib, o.Peer)
	case bgpwatch.TableStart:
		m.inDump[o.Peer.Collector] = true
		for peer := range m.fresh {
			if peer.Collector == o.Peer.Collector {
				delete(m.fresh, peer)
			}
		}
	case bgpwatch.TableEnd:
		if !m.inDump[o.Peer.Collector] {
			return
		}
		m.inDump[o.Peer.Collector] = false
		for peer, r := range m.rib {
			if peer.Collector != o.Peer.Collector {
				continue
			}
			for pfx, paths := range r {
				for id := range paths {
					if !m.fresh[peer][pfx][id] {
						delete(paths, id)
					}
				}
				if len(paths) == 0 {
					delete(r, pfx)
				}
			}
		}
		for peer := range m.fresh {
			if peer.Collector == o.Peer.Collector {
				delete(m.fresh, peer)
			}
		}
	}
}

func (m *model) size(peer bgpwatch.Peer, f int) int {
	n := 0
	for p := range m.rib[peer] {
		if fam(p) == f {
			n++
		}
	}
	return n
}

// close computes the expected bin contents.
func (m *model) close() (asns map[ASN]Counts, ctrs map[string]Counts, changes map[netip.Prefix]bool, fullFeed int) {
	peers := map[bgpwatch.Peer]bool{}
	for p := range m.ff {
		peers[p] = true
	}
	for p := range m.rib {
		peers[p] = true
	}
	ffASNs := [2]map[ASN]bool{{}, {}}
	for f := range 2 {
		min := m.cfg.FullFeedMin
		if f == 1 {
			min = m.cfg.FullFeedMinV6
		}
		if min <= 0 {
			largest := 0
			for p := range peers {
				largest = max(largest, m.size(p, f))
			}
			min = max(1, int(math.Ceil(m.cfg.FullFeedShare*float64(largest)-1e-9)))
		}
		for p := range peers {
			v := m.ff[p]
			v[f] = m.size(p, f) >= min
			m.ff[p] = v
			if v[f] {
				ffASNs[f][p.ASN] = true
			}
		}
	}
	// prefix → peer ASN → origins
	seen := map[netip.Prefix]map[ASN]map[ASN]bool{}
	for peer, r := range m.rib {
		for pfx, paths := range r {
			if !m.ff[peer][fam(pfx)] {
				continue
			}
			if seen[pfx] == nil {
				seen[pfx] = map[ASN]map[ASN]bool{}
			}
			if seen[pfx][peer.ASN] == nil {
				seen[pfx][peer.ASN] = map[ASN]bool{}
			}
			for _, o := range paths {
				seen[pfx][peer.ASN][o] = true
			}
		}
	}
	vis := map[netip.Prefix]ASN{}
	for pfx, byPeer := range seen {
		if float64(len(byPeer)) <= m.cfg.VisibleShare*float64(len(ffASNs[fam(pfx)]))+1e-9 {
			continue
		}
		votes := map[ASN]int{}
		for _, os := range byPeer {
			for o := range os {
				votes[o]++
			}
		}
		best, bestN := ASN(0), -1
		for o, n := range votes {
			if o == 0 {
				continue
			}
			if n > bestN || n == bestN && o < best {
				best, bestN = o, n
			}
		}
		vis[pfx] = best
	}
	v4by := map[ASN][]netip.Prefix{}
	v4byC := map[string][]netip.Prefix{}
	asns, ctrs = map[ASN]Counts{}, map[string]Counts{}
	for pfx, o := range vis {
		if o == 0 {
			continue
		}
		cc := m.countryOf(o)
		a, c := asns[o], ctrs[cc]
		if fam(pfx) == 0 {
			a.Prefixes++
			c.Prefixes++
			v4by[o] = append(v4by[o], pfx)
			v4byC[cc] = append(v4byC[cc], pfx)
		} else {
			a.V6Prefixes++
			c.V6Prefixes++
		}
		asns[o] = a
		if cc != "" {
			ctrs[cc] = c
		}
	}
	for o, ps := range v4by {
		a := asns[o]
		a.Slash24 = naiveSlash24(ps)
		asns[o] = a
	}
	for cc, ps := range v4byC {
		if cc == "" {
			continue
		}
		c := ctrs[cc]
		c.Slash24 = naiveSlash24(ps)
		ctrs[cc] = c
	}
	for a, c := range m.prevASN {
		if _, ok := asns[a]; !ok && c != (Counts{}) {
			asns[a] = Counts{}
		}
	}
	for cc, c := range m.prevCtry {
		if _, ok := ctrs[cc]; !ok && c != (Counts{}) {
			ctrs[cc] = Counts{}
		}
	}
	changes = map[netip.Prefix]bool{}
	for pfx := range vis {
		if !m.prevVis[pfx] && m.prevFF[fam(pfx)] > 0 { // the first table is no news
			changes[pfx] = true
		}
	}
	nowVis := map[netip.Prefix]bool{}
	for pfx := range vis {
		nowVis[pfx] = true
	}
	for pfx := range m.prevVis {
		if !nowVis[pfx] {
			changes[pfx] = false
		}
	}
	m.prevVis = nowVis
	m.prevFF = [2]int{len(ffASNs[0]), len(ffASNs[1])}
	m.prevASN, m.prevCtry = asns, ctrs
	return asns, ctrs, changes, len(ffASNs[0])
}

// naiveSlash24 counts the /24 equivalents of a union of IPv4 prefixes
// block by block of 64 addresses (the test prefixes are /26 or shorter).
func naiveSlash24(ps []netip.Prefix) int {
	covered := map[uint32]bool{}
	for _, p := range ps {
		a := p.Addr().As4()
		start := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		for i := uint32(0); i < 1<<(32-p.Bits()); i += 64 {
			covered[(start+i)>>6] = true
		}
	}
	return len(covered) * 64 / 256
}

var (
	diffPrefixes = func() []netip.Prefix {
		var out []netip.Prefix
		for _, s := range []string{"10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.0.0/25", "10.0.0.128/25",
			"10.0.2.0/23", "10.1.0.0/22", "10.1.4.0/24", "192.0.2.0/24", "198.51.100.0/26", "198.51.100.64/26", "203.0.113.0/24",
			"2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:ffff::/64"} {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}()
	diffPeers = []bgpwatch.Peer{
		{Collector: "rrc00", ASN: 100, Addr: netip.MustParseAddr("192.0.2.1")},
		{Collector: "rrc00", ASN: 200, Addr: netip.MustParseAddr("192.0.2.2")},
		{Collector: "rrc00", ASN: 300, Addr: netip.MustParseAddr("2001:db8::3")},
		{Collector: "rv2", ASN: 100, Addr: netip.MustParseAddr("198.51.100.1")},
		{Collector: "rv2", ASN: 400, Addr: netip.MustParseAddr("198.51.100.4")},
		{Collector: "rv2", ASN: 500, Addr: netip.MustParseAddr("198.51.100.5")},
		{Collector: "rv2", ASN: 200, Addr: netip.MustParseAddr("198.51.100.2")},
	}
	// more than 64 sessions: the per-prefix bitsets grow
	diffMany = func() []bgpwatch.Peer {
		var out []bgpwatch.Peer
		for i := range 70 {
			out = append(out, bgpwatch.Peer{Collector: "big", ASN: ASN(1000 + i%60), Addr: netip.AddrFrom4([4]byte{10, 9, 0, byte(i)})})
		}
		return out
	}()
)

func diffCountry(a ASN) string {
	switch a % 3 {
	case 0:
		return "AA"
	case 1:
		return "BB"
	}
	return ""
}

// step is one generated observation: the choices as small numbers.
type step struct {
	dt, kind, peer, prefix, pathID, origin int
}

func (s step) observation(now time.Time, peers []bgpwatch.Peer) bgpwatch.Observation {
	o := bgpwatch.Observation{Time: now, Peer: peers[s.peer%len(peers)], Prefix: diffPrefixes[s.prefix%len(diffPrefixes)]}
	switch k := s.kind % 100; {
	case k < 50:
		o.Kind = bgpwatch.Announce
	case k < 70:
		o.Kind = bgpwatch.Withdraw
	case k < 72:
		o.Kind = bgpwatch.PeerDown
	case k < 75:
		o.Kind = bgpwatch.TableStart
	case k < 90:
		o.Kind = bgpwatch.TableRoute
	default:
		o.Kind = bgpwatch.TableEnd
	}
	if s.pathID%4 == 0 {
		o.PathID = uint32(s.pathID / 4 % 3)
	}
	o.Origin = ASN([]int{0, 1, 2, 3, 3, 4, 5}[s.origin%7])
	return o
}

// checkAgainstModel feeds steps to an Engine and to the model and compares
// every bin.
func checkAgainstModel(t *testing.T, cfg Config, peers []bgpwatch.Peer, steps []step) {
	e := New(cfg, diffCountry)
	m := newModel(cfg, diffCountry)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	emit := func(b *bgpwatch.Bin) error {
		wantA, wantC, wantChg, wantFF := m.close()
		if b.FullFeed != wantFF {
			t.Fatalf("bin %v: FullFeed %d, want %d", b.Start, b.FullFeed, wantFF)
		}
		if !mapsEqual(b.ASNs, wantA) {
			t.Fatalf("bin %v: ASNs\n got %v\nwant %v", b.Start, b.ASNs, wantA)
		}
		if !mapsEqual(b.Countries, wantC) {
			t.Fatalf("bin %v: Countries\n got %v\nwant %v", b.Start, b.Countries, wantC)
		}
		gotChg := map[netip.Prefix]bool{}
		for _, c := range b.Changes {
			if _, dup := gotChg[c.Prefix]; dup {
				t.Fatalf("bin %v: %v listed twice in Changes", b.Start, c.Prefix)
			}
			gotChg[c.Prefix] = c.Visible
			if c.Time.Before(b.Start) || !c.Time.Before(b.Start.Add(cfg.Step)) {
				t.Fatalf("bin %v: change time %v outside the bin", b.Start, c.Time)
			}
		}
		if !mapsEqual(gotChg, wantChg) {
			t.Fatalf("bin %v: Changes\n got %v\nwant %v", b.Start, gotChg, wantChg)
		}
		return nil
	}
	for _, s := range steps {
		now = now.Add(time.Duration(s.dt%40) * time.Second)
		o := s.observation(now, peers)
		if err := e.AdvanceTo(o.Time, emit); err != nil {
			t.Fatal(err)
		}
		e.Apply(&o)
		m.apply(o)
	}
	if err := e.AdvanceTo(now.Add(cfg.Step), emit); err != nil {
		t.Fatal(err)
	}
	for _, ps := range e.Peers() {
		if ps.V4 != m.size(ps.Peer, 0) || ps.V6 != m.size(ps.Peer, 1) {
			t.Fatalf("peer %v: table %d/%d, want %d/%d", ps.Peer, ps.V4, ps.V6, m.size(ps.Peer, 0), m.size(ps.Peer, 1))
		}
	}
	for a := range ASN(6) {
		got := e.VisiblePrefixes(a)
		want := 0
		if c, ok := m.prevASN[a]; ok && a != 0 {
			want = c.Prefixes + c.V6Prefixes
		}
		if len(got) != want {
			t.Fatalf("VisiblePrefixes(%d) = %v, want %d prefixes", a, got, want)
		}
	}
}

var diffShares = []float64{0.9, 0.5, 0.3}

func TestEngineMatchesModel(t *testing.T) {
	for seed := range 300 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 7))
			cfg := DefaultConfig()
			cfg.FullFeedShare = diffShares[seed%3]
			peers := diffPeers
			if seed%5 == 4 {
				peers = append(slices.Clip(peers), diffMany...)
			}
			steps := make([]step, 400)
			for i := range steps {
				steps[i] = step{r.IntN(40), r.IntN(100), r.IntN(len(peers)), r.IntN(len(diffPrefixes)), r.IntN(12), r.IntN(7)}
			}
			checkAgainstModel(t, cfg, peers, steps)
		})
	}
}

// FuzzEngineMatchesModel decodes the input into observations, six bytes
// each (time step, kind, peer, prefix, path id, origin; the first byte picks
// the configuration) and compares Engine and model.
func FuzzEngineMatchesModel(f *testing.F) {
	f.Add([]byte{0, 5, 10, 0, 0, 0, 1, 0, 10, 1, 0, 0, 1, 200, 80, 2, 3, 0, 0, 39, 95, 0, 0, 0, 0})
	f.Add([]byte{4, 1, 72, 3, 12, 4, 2, 0, 20, 5, 12, 0, 3, 0, 80, 6, 12, 0, 3, 30, 92, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 || len(in) > 6*600+1 {
			return
		}
		cfg := DefaultConfig()
		cfg.FullFeedShare = diffShares[int(in[0])%3]
		peers := diffPeers
		if in[0]&4 != 0 {
			peers = append(slices.Clip(peers), diffMany...)
		}
		var steps []step
		for b := in[1:]; len(b) >= 6; b = b[6:] {
			steps = append(steps, step{int(b[0]), int(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5])})
		}
		checkAgainstModel(t, cfg, peers, steps)
	})
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
