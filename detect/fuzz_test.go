package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// FuzzObserve feeds arbitrary bin sequences (values, feeds, time steps,
// changes) to a detector with short windows: it must never panic, and the
// events it reports must be well formed.
func FuzzObserve(f *testing.F) {
	f.Add([]byte{10, 10, 10, 10, 10, 10, 10, 10, 0, 0, 0, 0, 10, 10, 10, 10, 10})
	f.Add([]byte{200, 1, 200, 1, 0, 255, 3, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.MinHistory = 10 * time.Minute
		cfg.Window = time.Hour
		cfg.ASN.MinSlash24 = 1
		cfg.Country.MinSlash24 = 1
		cfg.ContribMinSlash24 = 1
		cfg.RecomputeEvery = 2
		d := New(cfg, func(a bgpwatch.ASN) bgpwatch.ASNInfo {
			return bgpwatch.ASNInfo{ASN: a, Country: []string{"KZ", "IR", ""}[a%3], Access: bgpwatch.AccessMobile}
		})
		start := t0
		for i := 0; i+3 <= len(data); i += 3 {
			v, ff, dt := int(data[i]), int(data[i+1]%8), int(data[i+2])
			start = start.Add(time.Duration(dt%4-1) * bgpwatch.BinStep) // may go back or repeat
			b := &bgpwatch.Bin{
				Start:     start,
				FullFeed:  ff,
				ASNs:      map[bgpwatch.ASN]bgpwatch.Counts{},
				Countries: map[string]bgpwatch.Counts{},
			}
			for a := bgpwatch.ASN(1); a <= 4; a++ {
				c := bgpwatch.Counts{Slash24: (v * int(a)) % 97}
				b.ASNs[a] = c
				cc := []string{"KZ", "IR", ""}[a%3]
				x := b.Countries[cc]
				x.Slash24 += c.Slash24
				b.Countries[cc] = x
				b.Changes = append(b.Changes, bgpwatch.VisibilityChange{
					Time: start, Origin: a, Visible: v%2 == 0,
					Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(a), byte(v), 0}), 24),
				})
			}
			for _, tr := range d.Observe(b) {
				e := tr.Event
				if e.StartedAt.IsZero() || (tr.Kind == Ended) == e.EndedAt.IsZero() {
					t.Fatalf("bad event times in %v: %+v", tr.Kind, e)
				}
				if !e.EndedAt.IsZero() && !e.EndedAt.After(e.StartedAt) {
					t.Fatalf("ends before it starts: %+v", e)
				}
				if e.DropRatio < 0 || e.DropRatio > 1 || e.MinSlash24 > e.BaselineSlash24 {
					t.Fatalf("bad drop: %+v", e)
				}
			}
		}
		_ = d.Ongoing()
	})
}
