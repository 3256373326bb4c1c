package visibility

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Short names for the tests.
type (
	ASN    = bgpwatch.ASN
	Counts = bgpwatch.Counts
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func peer(coll string, asn ASN) bgpwatch.Peer {
	return bgpwatch.Peer{Collector: coll, ASN: asn, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(asn)})}
}

var (
	pA = peer("rrc00", 10)
	pB = peer("rrc00", 20)
	pC = peer("rrc00", 30)
	pD = peer("rv2", 40)
)

func ann(t time.Time, p bgpwatch.Peer, pfx string, origin ASN) bgpwatch.Observation {
	return bgpwatch.Observation{Time: t, Kind: bgpwatch.Announce, Peer: p, Prefix: netip.MustParsePrefix(pfx), Origin: origin}
}

func annPath(t time.Time, p bgpwatch.Peer, pfx string, id uint32, origin ASN) bgpwatch.Observation {
	o := ann(t, p, pfx, origin)
	o.PathID = id
	return o
}

func wd(t time.Time, p bgpwatch.Peer, pfx string) bgpwatch.Observation {
	return bgpwatch.Observation{Time: t, Kind: bgpwatch.Withdraw, Peer: p, Prefix: netip.MustParsePrefix(pfx)}
}

func wdPath(t time.Time, p bgpwatch.Peer, pfx string, id uint32) bgpwatch.Observation {
	o := wd(t, p, pfx)
	o.PathID = id
	return o
}

func kind(t time.Time, k bgpwatch.ObservationKind, p bgpwatch.Peer) bgpwatch.Observation {
	return bgpwatch.Observation{Time: t, Kind: k, Peer: p}
}

func route(t time.Time, p bgpwatch.Peer, pfx string, origin ASN) bgpwatch.Observation {
	o := ann(t, p, pfx, origin)
	o.Kind = bgpwatch.TableRoute
	return o
}

// each returns one announcement per peer.
func each(t time.Time, pfx string, origin ASN, peers ...bgpwatch.Peer) []bgpwatch.Observation {
	var out []bgpwatch.Observation
	for _, p := range peers {
		out = append(out, ann(t, p, pfx, origin))
	}
	return out
}

func cat(parts ...[]bgpwatch.Observation) []bgpwatch.Observation {
	var out []bgpwatch.Observation
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(o ...bgpwatch.Observation) []bgpwatch.Observation { return o }

// binCopy is a Bin with its maps copied (the Engine reuses them).
type binCopy struct {
	start     time.Time
	asns      map[ASN]Counts
	countries map[string]Counts
	changes   []bgpwatch.VisibilityChange
	fullFeed  int
}

// run feeds obs to a fresh Engine and returns every bin up to end.
func run(t *testing.T, cfg Config, countryOf func(ASN) string, obs []bgpwatch.Observation, end time.Time) (*Engine, []binCopy) {
	t.Helper()
	e := New(cfg, countryOf)
	var bins []binCopy
	emit := func(b *bgpwatch.Bin) error {
		c := binCopy{start: b.Start, asns: map[ASN]Counts{}, countries: map[string]Counts{}, fullFeed: b.FullFeed}
		for k, v := range b.ASNs {
			c.asns[k] = v
		}
		for k, v := range b.Countries {
			c.countries[k] = v
		}
		c.changes = append(c.changes, b.Changes...)
		bins = append(bins, c)
		return nil
	}
	for i := range obs {
		if err := e.AdvanceTo(obs[i].Time, emit); err != nil {
			t.Fatal(err)
		}
		e.Apply(&obs[i])
	}
	if err := e.AdvanceTo(end, emit); err != nil {
		t.Fatal(err)
	}
	return e, bins
}

func countsOf(p, s24, v6 int) Counts { return Counts{Prefixes: p, Slash24: s24, V6Prefixes: v6} }

func TestSemantics(t *testing.T) {
	m := t0.Add(time.Minute) // inside the first bin
	bin2 := t0.Add(5*time.Minute + time.Second)
	bin3 := t0.Add(10*time.Minute + time.Second)
	end := t0.Add(15 * time.Minute)
	ctry := func(a ASN) string {
		if a < 100 {
			return "KZ"
		}
		return "UZ"
	}
	var deagg []bgpwatch.Observation
	for i := range 256 {
		deagg = append(deagg, each(bin2, fmt.Sprintf("10.0.%d.0/24", i), 1, pA, pB, pC)...)
	}
	tests := []struct {
		name string
		cfg  func(*Config)
		obs  []bgpwatch.Observation
		// expected ASN and country maps of the bins, in order
		asns      []map[ASN]Counts
		countries []map[string]Counts
		fullFeed  []int
		changes   []int // number of Changes per bin
	}{
		{
			name: "visible when more than half of the full-feed peers see it",
			cfg:  func(c *Config) { c.FullFeedMin = 1 },
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC),
				each(m, "10.1.0.0/16", 2, pA, pB, pC),
				each(m, "10.2.0.0/16", 3, pA, pB), // 2 of 3: visible
				each(m, "10.3.0.0/16", 4, pA, pB, pC),
				each(bin2, "10.3.0.0/16", 4, pA),                              // still 3 of 3
				one(wd(bin2, pB, "10.3.0.0/16"), wd(bin2, pC, "10.3.0.0/16")), // 1 of 3: gone
			),
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0), 3: countsOf(1, 256, 0), 4: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0), 3: countsOf(1, 256, 0), 4: {}},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0), 3: countsOf(1, 256, 0)},
			},
			countries: []map[string]Counts{
				{"KZ": countsOf(4, 1024, 0)},
				{"KZ": countsOf(3, 768, 0)},
				{"KZ": countsOf(3, 768, 0)},
			},
			fullFeed: []int{3, 3, 3},
			changes:  []int{0, 1, 0},
		},
		{
			name: "peer reset is not a drop once the peer re-announces",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC),
				each(m, "10.1.0.0/16", 1, pA, pB, pC),
				one(kind(bin2, bgpwatch.PeerDown, pA), kind(bin2, bgpwatch.PeerDown, pB)),
				each(bin2.Add(time.Minute), "10.0.0.0/16", 1, pA, pB),
				each(bin2.Add(time.Minute), "10.1.0.0/16", 1, pA, pB),
			),
			asns: []map[ASN]Counts{
				{1: countsOf(2, 512, 0)}, {1: countsOf(2, 512, 0)}, {1: countsOf(2, 512, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}},
			fullFeed:  []int{3, 3, 3},
			changes:   []int{0, 0, 0},
		},
		{
			name: "a peer down for good leaves the denominator at the next bin",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC, pD),
				each(m, "10.1.0.0/16", 2, pA, pB, pC, pD),
				one(kind(bin2, bgpwatch.PeerDown, pD)),
			),
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}},
			fullFeed:  []int{4, 3, 3},
			changes:   []int{0, 0, 0},
		},
		{
			name: "de-aggregation keeps the /24 equivalents",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC),
				deagg, // a /16 plus all its /24s: still 256
				one(wd(bin3, pA, "10.0.0.0/16"), wd(bin3, pB, "10.0.0.0/16"), wd(bin3, pC, "10.0.0.0/16")),
			),
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0)}, {1: countsOf(257, 256, 0)}, {1: countsOf(256, 256, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(1, 256, 0)}, {"KZ": countsOf(257, 256, 0)}, {"KZ": countsOf(256, 256, 0)}},
			fullFeed:  []int{3, 3, 3},
			changes:   []int{0, 256, 1},
		},
		{
			name: "overlaps across the ASNs of a country count once; longer than /24 rounds down per union",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC),
				each(m, "10.0.5.0/24", 2, pA, pB, pC),
				each(m, "192.0.2.0/25", 3, pA, pB, pC),
				each(m, "192.0.2.128/25", 4, pA, pB, pC),
				each(m, "198.51.100.0/25", 5, pA, pB, pC),
				each(m, "198.51.100.128/26", 5, pA, pB, pC),
				each(m, "198.51.100.192/26", 5, pA, pB, pC),
				each(m, "2001:db8::/32", 5, pA, pB, pC),
			),
			asns: []map[ASN]Counts{{
				1: countsOf(1, 256, 0), 2: countsOf(1, 1, 0), 3: countsOf(1, 0, 0), 4: countsOf(1, 0, 0), 5: countsOf(3, 1, 1),
			}},
			countries: []map[string]Counts{{"KZ": countsOf(7, 256+1+1, 1)}},
			fullFeed:  []int{3},
			changes:   []int{0},
		},
		{
			name: "partial-feed peers do not count",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB),
				each(m, "10.1.0.0/16", 1, pA, pB),
				each(m, "10.2.0.0/16", 1, pA, pB),
				each(m, "10.3.0.0/16", 2, pA, pB, pC, pD), // seen by both full-feed peers
				each(m, "10.4.0.0/16", 3, pC, pD),         // seen by partial peers only
			),
			asns:      []map[ASN]Counts{{1: countsOf(3, 768, 0), 2: countsOf(1, 256, 0)}},
			countries: []map[string]Counts{{"KZ": countsOf(4, 1024, 0)}},
			fullFeed:  []int{2},
			changes:   []int{0},
		},
		{
			name: "absolute full-feed size",
			cfg:  func(c *Config) { c.FullFeedMin = 2 },
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC),
				each(m, "10.1.0.0/16", 1, pA),
				each(m, "10.2.0.0/16", 1, pB),
				each(m, "10.3.0.0/16", 2, pC), // C holds 2: full-feed too
			),
			asns:      []map[ASN]Counts{{1: countsOf(1, 256, 0)}},
			countries: []map[string]Counts{{"KZ": countsOf(1, 256, 0)}},
			fullFeed:  []int{3},
			changes:   []int{0},
		},
		{
			name: "peers are de-duplicated by peer ASN across collectors",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, peer("rv2", 10)),
				each(m, "10.1.0.0/16", 2, pA, peer("rv2", 10)), // only AS10 (twice): 1 of 2
				each(m, "10.2.0.0/16", 3, pB, peer("rv2", 10)), // 2 of 2
				each(m, "10.3.0.0/16", 4, pA, pB),              // 2 of 2
			),
			asns:      []map[ASN]Counts{{1: countsOf(1, 256, 0), 3: countsOf(1, 256, 0), 4: countsOf(1, 256, 0)}},
			countries: []map[string]Counts{{"KZ": countsOf(3, 768, 0)}},
			fullFeed:  []int{2},
			changes:   []int{0},
		},
		{
			name: "ADD-PATH: withdrawing one path id keeps the prefix",
			cfg:  func(c *Config) { c.FullFeedMin = 1 },
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB),
				one(annPath(m, pA, "10.1.0.0/16", 1, 2), annPath(m, pA, "10.1.0.0/16", 2, 2),
					annPath(m, pB, "10.1.0.0/16", 7, 2), annPath(m, pB, "10.1.0.0/16", 8, 2)),
				one(wdPath(bin2, pA, "10.1.0.0/16", 1), wdPath(bin2, pB, "10.1.0.0/16", 8)),
				one(wdPath(bin3, pA, "10.1.0.0/16", 2), wdPath(bin3, pA, "10.1.0.0/16", 0)),
			),
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: {}}, // 1 of 2 is not more than half
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(1, 256, 0)}},
			fullFeed:  []int{2, 2, 2},
			changes:   []int{0, 0, 1},
		},
		{
			name: "TableEnd removes stale routes; peers absent from the dump lose everything",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB, pC, pD),
				each(m, "10.1.0.0/16", 2, pA, pB, pC, pD),
				one(kind(bin2, bgpwatch.TableStart, pA),
					route(bin2, pA, "10.0.0.0/16", 1), route(bin2, pB, "10.0.0.0/16", 1),
					ann(bin2, pC, "10.0.0.0/16", 1), // an update during the dump refreshes too
					route(bin2, pA, "10.1.0.0/16", 2),
					kind(bin2, bgpwatch.TableEnd, pA)),
			),
			// bin 2: AS2's prefix held by A and D only (B, C dropped it; D is
			// on another collector). Full-feed set re-evaluated at close: A
			// (2), B (1), C (1), D (2) → share 0.9 of 2 → A and D.
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}},
			fullFeed:  []int{4, 2, 2},
			changes:   []int{0, 0, 0},
		},
		{
			name: "MOAS: the origin seen by most full-feed peer ASNs wins, ties go to the lowest",
			obs: cat(
				each(m, "10.0.0.0/16", 7, pA, pB),
				each(m, "10.0.0.0/16", 5, pC),
				each(m, "10.1.0.0/16", 9, pA),
				each(m, "10.1.0.0/16", 8, pB),
				each(m, "10.1.0.0/16", 0, pC), // AS_SET: never preferred
				each(bin2, "10.0.0.0/16", 5, pA),
			),
			asns: []map[ASN]Counts{
				{7: countsOf(1, 256, 0), 8: countsOf(1, 256, 0)},
				{5: countsOf(1, 256, 0), 7: {}, 8: countsOf(1, 256, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(2, 512, 0)}},
			fullFeed:  []int{3, 3},
			changes:   []int{0, 0},
		},
		{
			name: "unknown origin counts for nobody; countries come from countryOf",
			obs: cat(
				each(m, "10.0.0.0/16", 0, pA, pB),
				each(m, "10.1.0.0/16", 150, pA, pB),
				each(m, "2001:db8::/32", 150, pA, pB),
			),
			asns:      []map[ASN]Counts{{150: countsOf(1, 256, 1)}},
			countries: []map[string]Counts{{"UZ": countsOf(1, 256, 1)}},
			fullFeed:  []int{2},
			changes:   []int{0},
		},
		{
			name: "empty bins are emitted and carry the state; zeroed entities leave after one bin",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB),
				each(m, "10.1.0.0/16", 2, pA, pB),
				one(wd(bin2, pA, "10.1.0.0/16"), wd(bin2, pB, "10.1.0.0/16")),
			),
			asns: []map[ASN]Counts{
				{1: countsOf(1, 256, 0), 2: countsOf(1, 256, 0)},
				{1: countsOf(1, 256, 0), 2: {}},
				{1: countsOf(1, 256, 0)},
			},
			countries: []map[string]Counts{{"KZ": countsOf(2, 512, 0)}, {"KZ": countsOf(1, 256, 0)}, {"KZ": countsOf(1, 256, 0)}},
			fullFeed:  []int{2, 2, 2},
			changes:   []int{0, 1, 0},
		},
		{
			name: "a prefix that flaps within a bin is no change",
			obs: cat(
				each(m, "10.0.0.0/16", 1, pA, pB),
				one(wd(bin2, pA, "10.0.0.0/16"), ann(bin2.Add(time.Second), pA, "10.0.0.0/16", 1)),
			),
			asns:      []map[ASN]Counts{{1: countsOf(1, 256, 0)}, {1: countsOf(1, 256, 0)}, {1: countsOf(1, 256, 0)}},
			countries: []map[string]Counts{{"KZ": countsOf(1, 256, 0)}, {"KZ": countsOf(1, 256, 0)}, {"KZ": countsOf(1, 256, 0)}},
			fullFeed:  []int{2, 2, 2},
			changes:   []int{0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			endAt := t0.Add(time.Duration(len(tt.asns)) * 5 * time.Minute)
			_, bins := run(t, cfg, ctry, tt.obs, endAt)
			if len(bins) != len(tt.asns) {
				t.Fatalf("%d bins, want %d", len(bins), len(tt.asns))
			}
			for i, b := range bins {
				if want := t0.Add(time.Duration(i) * 5 * time.Minute); !b.start.Equal(want) {
					t.Errorf("bin %d starts %v, want %v", i, b.start, want)
				}
				if !mapsEqual(b.asns, tt.asns[i]) {
					t.Errorf("bin %d ASNs = %v, want %v", i, b.asns, tt.asns[i])
				}
				if !mapsEqual(b.countries, tt.countries[i]) {
					t.Errorf("bin %d countries = %v, want %v", i, b.countries, tt.countries[i])
				}
				if b.fullFeed != tt.fullFeed[i] {
					t.Errorf("bin %d FullFeed = %d, want %d", i, b.fullFeed, tt.fullFeed[i])
				}
				if len(b.changes) != tt.changes[i] {
					t.Errorf("bin %d has %d changes, want %d: %v", i, len(b.changes), tt.changes[i], b.changes)
				}
			}
		})
	}
	_ = end
}

func TestChangesCarryTimeAndOrigin(t *testing.T) {
	m := t0.Add(90 * time.Second)
	w := t0.Add(7 * time.Minute)
	a := t0.Add(12 * time.Minute)
	obs := cat(each(m, "10.0.0.0/16", 1, pA, pB), each(m, "10.9.0.0/16", 9, pA, pB),
		one(wd(w, pA, "10.0.0.0/16"), ann(a, pA, "10.0.0.0/16", 1)))
	cfg := DefaultConfig()
	cfg.FullFeedMin = 1
	_, bins := run(t, cfg, nil, obs, t0.Add(15*time.Minute))
	want := [][]bgpwatch.VisibilityChange{
		nil, // the first table is the initial state, not news
		{{Time: w, Prefix: netip.MustParsePrefix("10.0.0.0/16"), Origin: 1, Visible: false}},
		{{Time: a, Prefix: netip.MustParsePrefix("10.0.0.0/16"), Origin: 1, Visible: true}},
	}
	if len(bins) != len(want) {
		t.Fatalf("%d bins, want %d", len(bins), len(want))
	}
	for i, w := range want {
		if !slices.Equal(bins[i].changes, w) {
			t.Errorf("bin %d changes = %+v, want %+v", i, bins[i].changes, w)
		}
	}
	if len(bins[0].countries) != 0 {
		t.Errorf("countries without countryOf: %v", bins[0].countries)
	}
}

func TestBinsAlignAndOldObservations(t *testing.T) {
	e := New(DefaultConfig(), nil)
	start := time.Date(2024, 3, 1, 12, 3, 17, 0, time.UTC)
	var starts []time.Time
	emit := func(b *bgpwatch.Bin) error { starts = append(starts, b.Start); return nil }
	if err := e.AdvanceTo(start, emit); err != nil {
		t.Fatal(err)
	}
	o := ann(start.Add(-time.Hour), pA, "10.0.0.0/16", 1) // older than the open bin
	e.Apply(&o)
	if err := e.AdvanceTo(start.Add(12*time.Minute), emit); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{t0, t0.Add(5 * time.Minute), t0.Add(10 * time.Minute)}
	if len(starts) != len(want) || !starts[0].Equal(want[0]) || !starts[2].Equal(want[2]) {
		t.Fatalf("bin starts %v, want %v", starts, want)
	}
	if got := e.VisiblePrefixes(1); len(got) != 1 {
		t.Fatalf("VisiblePrefixes = %v", got)
	}
	ps := e.Peers()
	if len(ps) != 1 || ps[0].V4 != 1 || !ps[0].FullFeedV4 || ps[0].FullFeedV6 || !ps[0].LastSeen.Equal(o.Time) {
		t.Fatalf("Peers = %+v", ps)
	}
}

func TestEmitErrorStops(t *testing.T) {
	e := New(DefaultConfig(), nil)
	if err := e.AdvanceTo(t0, nil); err != nil {
		t.Fatal(err)
	}
	boom := fmt.Errorf("boom")
	n := 0
	err := e.AdvanceTo(t0.Add(time.Hour), func(*bgpwatch.Bin) error { n++; return boom })
	if err != boom || n != 1 {
		t.Fatalf("err %v after %d bins, want boom after 1", err, n)
	}
}

func TestWithdrawnPrefixesAreRecycled(t *testing.T) {
	e := New(DefaultConfig(), nil)
	emit := func(*bgpwatch.Bin) error { return nil }
	now := t0
	for i := range 2000 {
		// A fresh more-specific every minute, withdrawn a minute later.
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		for _, o := range []bgpwatch.Observation{
			{Time: now, Kind: bgpwatch.Announce, Peer: pA, Prefix: pfx, Origin: 1},
			{Time: now.Add(time.Minute), Kind: bgpwatch.Withdraw, Peer: pA, Prefix: pfx},
		} {
			if err := e.AdvanceTo(o.Time, emit); err != nil {
				t.Fatal(err)
			}
			e.Apply(&o)
		}
		now = now.Add(time.Minute)
	}
	if n := len(e.st); n > 20 {
		t.Errorf("%d prefix slots after 2000 short-lived prefixes, want a handful", n)
	}
	if n := len(e.v4ids); n > 10 {
		t.Errorf("%d interned prefixes, want only the live ones", n)
	}
}
