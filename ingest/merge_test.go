package ingest

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// TestMergeOrder runs random sources through the merge as a replay does
// (each read on in chunks as the merge needs it; the next source held
// back by its start time) and checks the order against the plain k-way
// merge Replay ran before: it takes the source whose next observation is
// the earliest (ties to the earlier source), opening a
// source once the earliest pending observation reaches its start, and
// going on with one source while its next observation is not past the
// next source's start. Sources
// go back in time now and then, as MRT files do.
func TestMergeOrder(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 1 + rng.IntN(6)
		type src struct {
			start time.Time
			obs   []bgpwatch.Observation
		}
		srcs := make([]src, n)
		for i := range srcs {
			start := t0.Add(time.Duration(i*rng.IntN(40)) * time.Second)
			at := start
			k := rng.IntN(60)
			for j := 0; j < k; j++ {
				switch rng.IntN(10) {
				case 0:
					at = at.Add(-time.Duration(rng.IntN(5)) * time.Second) // back in time
				case 1, 2, 3:
				default:
					at = at.Add(time.Duration(rng.IntN(4)) * time.Second)
				}
				srcs[i].obs = append(srcs[i].obs, bgpwatch.Observation{Time: at, Kind: bgpwatch.Announce,
					Peer: bgpwatch.Peer{Collector: "c", ASN: bgpwatch.ASN(i + 1), Addr: netip.MustParseAddr("192.0.2.1")}, PathID: uint32(j)})
			}
			srcs[i].start = start
		}
		// Reference: the k-way merge replay ran before the merge existed.
		var want []bgpwatch.Observation
		{
			heads := make([]int, n)
			opened := 0
			root := func() int {
				best := -1
				for i := 0; i < opened; i++ {
					if heads[i] < len(srcs[i].obs) && (best < 0 || srcs[i].obs[heads[i]].Time.Before(srcs[best].obs[heads[best]].Time)) {
						best = i
					}
				}
				return best
			}
			for {
				for opened < n && (root() < 0 || !srcs[opened].start.After(srcs[root()].obs[heads[root()]].Time)) {
					opened++
				}
				s := root()
				if s < 0 {
					break
				}
				for {
					want = append(want, srcs[s].obs[heads[s]])
					heads[s]++
					if heads[s] >= len(srcs[s].obs) {
						break
					}
					if opened < n && srcs[s].obs[heads[s]].Time.After(srcs[opened].start) {
						break
					}
					if r := root(); r != s {
						break
					}
				}
			}
		}
		// The merge, the sources read in chunks of 1 to 5.
		var m merge
		m.cfg, m.now, m.exact = &LiveConfig{}, time.Now, true
		next := 0
		open := func() {
			s := srcs[next]
			next++
			pos := 0
			f := &Feed{}
			f.fill = func(_ context.Context, f *Feed) error {
				if pos >= len(s.obs) {
					f.q, f.head, f.ended, f.done = nil, 0, true, true
					return nil
				}
				k := min(len(s.obs)-pos, 1+rng.IntN(5))
				f.q, f.head = s.obs[pos:pos+k], 0
				pos += k
				return nil
			}
			if f.fill(context.Background(), f); !f.ended {
				m.add(f)
			}
		}
		m.bound = func() (time.Time, bool) {
			if next < n {
				return srcs[next].start, true
			}
			return time.Time{}, false
		}
		m.before = func(_ context.Context, head time.Time) (bool, error) {
			if next >= n || srcs[next].start.After(head) {
				return false, nil
			}
			open()
			return true, nil
		}
		var got []bgpwatch.Observation
		for {
			if err := m.release(context.Background(), func(o *bgpwatch.Observation) error { got = append(got, *o); return nil }); err != nil {
				t.Fatal(err)
			}
			if next >= n {
				break
			}
			open()
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d observations merged, want %d", seed, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("seed %d: observation %d is %v of AS%d #%d, want %v of AS%d #%d", seed, i,
					got[i].Time.Sub(t0), got[i].Peer.ASN, got[i].PathID, want[i].Time.Sub(t0), want[i].Peer.ASN, want[i].PathID)
			}
		}
		if !m.empty() {
			t.Fatalf("seed %d: feeds left after the merge", seed)
		}
	}
}
