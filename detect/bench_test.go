package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// benchWorld is a full-scale synthetic Internet: 80k ASNs with a skewed
// size distribution (half of them 1–3 /24s, a few thousand large), 240
// countries, and a little churn in every bin.
type benchWorld struct {
	rng   *rand.Rand
	bin   bgpwatch.Bin
	sizes map[bgpwatch.ASN]int
	cc    map[bgpwatch.ASN]string
	order []bgpwatch.ASN
	i     int
}

func newBenchWorld(n int) *benchWorld {
	w := &benchWorld{
		rng:   rand.New(rand.NewPCG(1, 2)),
		sizes: make(map[bgpwatch.ASN]int, n),
		cc:    make(map[bgpwatch.ASN]string, n),
	}
	w.bin.ASNs = make(map[bgpwatch.ASN]bgpwatch.Counts, n)
	w.bin.Countries = make(map[string]bgpwatch.Counts)
	w.bin.FullFeed = 40
	for k := 0; k < n; k++ {
		asn := bgpwatch.ASN(1000 + k)
		var size int
		switch r := w.rng.IntN(100); {
		case r < 50:
			size = 1 + w.rng.IntN(3)
		case r < 80:
			size = 4 + w.rng.IntN(12)
		case r < 97:
			size = 16 + w.rng.IntN(240)
		default:
			size = 256 + w.rng.IntN(20000)
		}
		w.sizes[asn] = size
		w.cc[asn] = fmt.Sprintf("%c%c", 'A'+k%20, 'A'+(k/20)%12)
		w.order = append(w.order, asn)
	}
	return w
}

func (w *benchWorld) info(a bgpwatch.ASN) bgpwatch.ASNInfo {
	return bgpwatch.ASNInfo{ASN: a, Name: "x", Country: w.cc[a], Access: bgpwatch.AccessFixed}
}

// next fills the bin in place (as producers may reuse maps): 200 random
// ASNs change by a few /24s, with matching visibility changes.
func (w *benchWorld) next() *bgpwatch.Bin {
	b := &w.bin
	b.Start = t0.Add(time.Duration(w.i) * bgpwatch.BinStep)
	b.Changes = b.Changes[:0]
	if w.i == 0 {
		for _, asn := range w.order {
			s := w.sizes[asn]
			b.ASNs[asn] = bgpwatch.Counts{Prefixes: s, Slash24: s}
		}
	}
	for k := 0; k < 200; k++ {
		asn := w.order[w.rng.IntN(len(w.order))]
		c := b.ASNs[asn]
		s := w.sizes[asn]
		vis := c.Slash24 < s // flip the last prefix
		if vis {
			c.Slash24++
		} else {
			c.Slash24--
		}
		c.Prefixes = c.Slash24
		b.ASNs[asn] = c
		b.Changes = append(b.Changes, bgpwatch.VisibilityChange{
			Time: b.Start.Add(time.Minute), Origin: asn, Visible: vis,
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(asn >> 8), byte(asn), 0, 0}), 24),
		})
	}
	clear(b.Countries)
	for _, asn := range w.order {
		cc := w.cc[asn]
		x := b.Countries[cc]
		x.Slash24 += b.ASNs[asn].Slash24
		b.Countries[cc] = x
	}
	w.i++
	return b
}

// BenchmarkObserve measures one Observe call (one 5-minute bin) at 80k
// ASNs after a day of warm-up; ns/op is ns per bin, ×288 per day. The
// bins cycle through a few prepared states with 200 changed ASNs each.
func BenchmarkObserve(b *testing.B) {
	w := newBenchWorld(80000)
	d := New(DefaultConfig(), w.info)
	for range 288 {
		d.Observe(w.next())
	}
	// Prepare the bins outside the timer: the country sums above cost more
	// than the detector.
	const pre = 12
	prepared := make([]bgpwatch.Bin, pre)
	for i := range prepared {
		src := w.next()
		cp := *src
		cp.ASNs = make(map[bgpwatch.ASN]bgpwatch.Counts, len(src.ASNs))
		for k, v := range src.ASNs {
			cp.ASNs[k] = v
		}
		cp.Countries = make(map[string]bgpwatch.Counts, len(src.Countries))
		for k, v := range src.Countries {
			cp.Countries[k] = v
		}
		cp.Changes = append([]bgpwatch.VisibilityChange(nil), src.Changes...)
		prepared[i] = cp
	}
	var hist int
	for _, a := range d.asns {
		hist += 4 * cap(a.hist.ring)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bin := prepared[i%pre]
		// Keep time moving forward past the prepared range.
		bin.Start = t0.Add(time.Duration(2*pre+i) * bgpwatch.BinStep)
		d.Observe(&bin)
	}
	b.ReportMetric(float64(len(d.asns)), "tracked-asns")
	b.ReportMetric(float64(hist)/(1<<20), "history-MiB")
}
