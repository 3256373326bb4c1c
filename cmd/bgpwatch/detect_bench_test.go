package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// BenchmarkDetectMonth measures `bgpwatch detect` over a month of stored
// series: 80k ASNs in 250 countries, 30 days of 5-minute bins (daily key
// frames, BENCH_CHANGES ASNs changing per bin, default 200), each bin's
// FullFeed, and one country cut for two hours. "query" is the store's
// read of the series alone; "detect" is the whole recomputation (read,
// detector, comparison with the stored events). Run it with
// -benchtime=1x (scripts/bench-detect.sh): the setup writes millions of
// rows.
func BenchmarkDetectMonth(b *testing.B) {
	const nASN, nCC, days = 80000, 250, 30
	changes := 200
	if v, err := strconv.Atoi(os.Getenv("BENCH_CHANGES")); err == nil && v >= 0 {
		changes = v
	}
	db := storetest.New(b)
	ctx := context.Background()
	day0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	end := day0.Add(days * 24 * time.Hour)
	cc := func(a bgpwatch.ASN) string { return fmt.Sprintf("C%03d", int(a)%nCC) }
	infos := make([]bgpwatch.ASNInfo, nASN)
	for i := range infos {
		infos[i] = bgpwatch.ASNInfo{ASN: bgpwatch.ASN(i), Country: cc(bgpwatch.ASN(i)), Access: bgpwatch.AccessFixed}
	}
	if err := db.UpsertASNs(ctx, infos); err != nil {
		b.Fatal(err)
	}
	size := func(a int) int { return 1 + a%97 }
	cur := make([]int, nASN)
	for i := range cur {
		cur[i] = size(i)
	}
	cutFrom, cutTo := day0.Add(15*24*time.Hour+10*time.Hour), day0.Add(15*24*time.Hour+12*time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	rows := 0
	began := time.Now()
	for d := day0; d.Before(end); d = d.Add(12 * time.Hour) {
		batch := store.SeriesBatch{From: d, To: d.Add(12*time.Hour - bgpwatch.BinStep), Source: store.SourceReplay}
		for t := d; !t.After(batch.To); t = t.Add(bgpwatch.BinStep) {
			batch.Feeds = append(batch.Feeds, store.FeedPoint{Bin: t, FullFeed: 40})
			key := t.Truncate(24 * time.Hour).Equal(t)
			cut := !t.Before(cutFrom) && t.Before(cutTo)
			val := func(i int) int {
				if cut && i%nCC == 7 {
					return 0
				}
				return cur[i]
			}
			switch {
			case key:
			case t.Equal(cutFrom) || t.Equal(cutTo):
				for i := 7; i < nASN; i += nCC {
					batch.ASNs = append(batch.ASNs, store.ASNPoint{ASN: bgpwatch.ASN(i), Bin: t, Counts: bgpwatch.Counts{Prefixes: val(i), Slash24: val(i)}})
				}
			default:
				seen := make(map[int]bool, changes)
				for range changes {
					i := rng.IntN(nASN)
					if seen[i] || i%nCC == 7 {
						continue
					}
					seen[i] = true
					cur[i] = max(0, size(i)-rng.IntN(3))
					batch.ASNs = append(batch.ASNs, store.ASNPoint{ASN: bgpwatch.ASN(i), Bin: t, Counts: bgpwatch.Counts{Prefixes: cur[i], Slash24: cur[i]}})
				}
			}
			var sums [nCC]int
			for i := range cur {
				v := val(i)
				sums[i%nCC] += v
				if key && v > 0 {
					batch.ASNs = append(batch.ASNs, store.ASNPoint{ASN: bgpwatch.ASN(i), Bin: t, Counts: bgpwatch.Counts{Prefixes: v, Slash24: v}})
				}
			}
			for c, s := range sums {
				batch.Countries = append(batch.Countries, store.CountryPoint{Country: cc(bgpwatch.ASN(c)), Bin: t, Counts: bgpwatch.Counts{Prefixes: s, Slash24: s}})
			}
		}
		rows += len(batch.ASNs) + len(batch.Countries) + len(batch.Feeds)
		if err := db.WriteBins(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d rows in %s", rows, time.Since(began).Round(time.Second))
	dc := detect.DefaultConfig()
	q := redetectQuery{Source: store.SourceReplay, From: day0, To: end, Follow: 0, Detect: dc}
	b.Run("query", func(b *testing.B) {
		var h *store.DetectorHistory
		for b.Loop() {
			var err error
			h, err = db.DetectorHistory(ctx, store.HistoryQuery{Before: end, Span: end.Sub(day0) + dc.Window + dc.MinHistory, Source: store.SourceReplay})
			if err != nil {
				b.Fatal(err)
			}
		}
		steps := 0
		for _, s := range h.ASNs {
			steps += len(s)
		}
		b.ReportMetric(float64(len(h.ASNs)), "asns")
		b.ReportMetric(float64(len(h.Bins)), "bins")
		b.ReportMetric(float64(steps), "asn-steps")
		b.ReportMetric(float64(rows), "stored-rows")
	})
	sh, err := db.DetectorHistory(ctx, store.HistoryQuery{Before: end, Span: end.Sub(day0) + dc.Window + dc.MinHistory, Source: store.SourceReplay})
	if err != nil {
		b.Fatal(err)
	}
	info := func(a bgpwatch.ASN) bgpwatch.ASNInfo { return infos[a] }
	b.Run("recompute", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n = 0
			for _, seg := range segments(sh) {
				n += len(detect.New(dc, info).Recompute(seg))
			}
		}
		b.ReportMetric(float64(n), "transitions")
	})
	b.Run("detect", func(b *testing.B) {
		var r *redetectResult
		for b.Loop() {
			var err error
			if r, err = redetect(ctx, db, q); err != nil {
				b.Fatal(err)
			}
		}
		c := r.counts()
		if c["new"] == 0 {
			b.Fatalf("the country cut was not found: %v", c)
		}
		b.ReportMetric(float64(r.Bins), "bins")
		b.ReportMetric(float64(c["new"]), "events")
	})
}
