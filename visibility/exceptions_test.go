package visibility

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// tallyString renders a vote tally in origin order, for comparisons.
func tallyString(t []originCount) string {
	t = slices.Clone(t)
	slices.SortFunc(t, func(a, b originCount) int { return int(a.origin) - int(b.origin) })
	var sb strings.Builder
	for _, c := range t {
		fmt.Fprintf(&sb, "%d:%d ", c.origin, c.n)
	}
	return sb.String()
}

// The origin vote of a prefix with exception entries is kept up to date
// route by route (voteBefore/voteAfter); after every observation it must
// equal the vote counted from scratch.
func TestVoteTallyMatchesRecount(t *testing.T) {
	checked := 0
	for seed := range 60 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		cfg := DefaultConfig()
		cfg.FullFeedShare = diffShares[seed%3]
		peers := diffPeers
		if seed%3 == 2 {
			peers = append(slices.Clip(peers), diffMany...)
		}
		e := New(cfg, diffCountry)
		now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		emit := func(*bgpwatch.Bin) error { return nil }
		for i := range 600 {
			s := step{r.IntN(40), r.IntN(100), r.IntN(len(peers)), r.IntN(len(diffPrefixes)), r.IntN(12), r.IntN(7)}
			now = now.Add(time.Duration(s.dt%40) * time.Second)
			o := s.observation(now, peers)
			if err := e.AdvanceTo(o.Time, emit); err != nil {
				t.Fatal(err)
			}
			e.Apply(&o)
			for id, x := range e.exc {
				if !x.ok {
					continue
				}
				got := tallyString(x.tally)
				fresh := &excList{ents: x.ents}
				e.recount(id, fresh)
				if want := tallyString(fresh.tally); got != want {
					t.Fatalf("seed %d step %d (%v %v %v): prefix %v tally %q, counted afresh %q",
						seed, i, o.Kind, o.Peer, o.Prefix, e.prefix(id), got, want)
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d tallies checked", checked)
	}
}

// A session joining a collector during its dump widens the collector's
// refresh bitset: the routes the other sessions refreshed before must
// survive TableEnd, the ones they did not refresh must go.
func TestDumpSurvivesNewSessions(t *testing.T) {
	e := New(DefaultConfig(), nil)
	emit := func(*bgpwatch.Bin) error { return nil }
	now := t0
	apply := func(o bgpwatch.Observation) {
		t.Helper()
		if err := e.AdvanceTo(o.Time, emit); err != nil {
			t.Fatal(err)
		}
		e.Apply(&o)
	}
	pfx := []string{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "2001:db8::/32"}
	mk := func(i int) bgpwatch.Peer {
		return bgpwatch.Peer{Collector: "rrc00", ASN: ASN(100 + i), Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}
	}
	// 5 sessions with the whole table, then a dump in which they refresh
	// all but the last prefix while 70 more sessions appear (the bitset
	// grows from 8 to 16, 32, 64 and 128 bits per prefix).
	for i := range 5 {
		for _, p := range pfx {
			apply(ann(now, mk(i), p, 1))
		}
	}
	now = now.Add(bgpwatch.BinStep)
	apply(kind(now, bgpwatch.TableStart, mk(0)))
	for _, p := range pfx[:3] {
		for i := range 75 {
			apply(route(now, mk(i), p, ASN(1+i%2)))
		}
	}
	apply(kind(now, bgpwatch.TableEnd, mk(0)))
	if err := e.AdvanceTo(now.Add(bgpwatch.BinStep), emit); err != nil {
		t.Fatal(err)
	}
	ps := e.Peers()
	if len(ps) != 75 {
		t.Fatalf("%d sessions, want 75", len(ps))
	}
	for _, p := range ps {
		if p.V4 != 3 || p.V6 != 0 {
			t.Fatalf("%v holds %d IPv4 and %d IPv6 prefixes after the dump, want 3 and 0", p.Peer, p.V4, p.V6)
		}
	}
	for _, c := range e.colls {
		if c.seen != nil || c.inDump {
			t.Fatalf("collector %s keeps its refresh bitset after TableEnd", c.name)
		}
	}
}

func TestSeenWidth(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 8}, {1, 8}, {8, 8}, {9, 16}, {16, 16}, {33, 64}, {64, 64}, {65, 128}, {129, 192}} {
		if got := seenWidth(c.n); got != c.want {
			t.Errorf("seenWidth(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// Rebasing a prefix (its simple-path origin changes at another
// collector's TableEnd) during a collector's dump keeps what that dump has
// refreshed: a route not refreshed still goes at its TableEnd, also when
// it turned from an entry into a simple path.
func TestRebaseKeepsRefreshState(t *testing.T) {
	a1, a2, a3, b1 := peer("rrc00", 1), peer("rrc00", 2), peer("rrc00", 3), peer("rv2", 4)
	const p = "10.0.0.0/24"
	obs := cat(
		one(ann(t0, a1, p, 1)), // the simple-path origin is 1
		one(ann(t0, a2, p, 2)), // entries
		one(ann(t0, a3, p, 2)),
		one(ann(t0, b1, p, 2)),
		one(kind(t0, bgpwatch.TableStart, a1)),
		// a2 refreshes another path, not path 0 with origin 2
		one(annPath(t0, a2, p, 1, 5)),
		one(wdPath(t0, a2, p, 1)),
		// rv2's dump ends: origin 2 (a2, a3, b1) outnumbers 1 (a1)
		one(kind(t0, bgpwatch.TableStart, b1)),
		one(route(t0, b1, p, 2)),
		one(kind(t0, bgpwatch.TableEnd, b1)),
		one(route(t0, a1, p, 1)),
		one(route(t0, a3, p, 2)),
		one(kind(t0, bgpwatch.TableEnd, a1)),
	)
	e, _ := run(t, DefaultConfig(), nil, obs, t0.Add(bgpwatch.BinStep))
	want := map[bgpwatch.Peer]int{a1: 1, a2: 0, a3: 1, b1: 1}
	for _, ps := range e.Peers() {
		if ps.V4 != want[ps.Peer] {
			t.Errorf("%v holds %d prefixes, want %d", ps.Peer, ps.V4, want[ps.Peer])
		}
	}
	if id, ok := e.lookup(netip.MustParsePrefix(p)); !ok || e.st[id].origin != 2 {
		t.Errorf("prefix not rebased to origin 2 (%v)", ok)
	}
}
