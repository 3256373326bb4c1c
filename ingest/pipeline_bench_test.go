package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// BenchmarkPipelineRIB feeds a RIB dump (20 full-feed peers × 50k IPv4
// prefixes of 5k origin ASNs) through the pipeline into PostgreSQL and
// writes its bin; one iteration is one whole dump.
func BenchmarkPipelineRIB(b *testing.B) {
	const peers, prefixes, origins = 20, 50000, 5000
	db := storetest.New(b)
	ctx := context.Background()
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]bgpwatch.Observation, 0, peers*prefixes+2)
	coll := bgpwatch.Peer{Collector: "rrc00"}
	obs = append(obs, bgpwatch.Observation{Time: base, Kind: bgpwatch.TableStart, Peer: coll})
	for p := range peers {
		peer := bgpwatch.Peer{Collector: "rrc00", ASN: bgpwatch.ASN(64500 + p), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(p + 1)})}
		for i := range prefixes {
			pf := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0}), 24)
			obs = append(obs, bgpwatch.Observation{Time: base, Kind: bgpwatch.TableRoute, Peer: peer, Prefix: pf, Origin: bgpwatch.ASN(1000 + i%origins)})
		}
	}
	obs = append(obs, bgpwatch.Observation{Time: base, Kind: bgpwatch.TableEnd, Peer: coll})
	cc := func(a bgpwatch.ASN) string { return [...]string{"KZ", "DE", "US", "BR"}[a%4] }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := ingest.New(ingest.Config{CountryOf: cc}, db)
		day := base.Add(time.Duration(i) * 24 * time.Hour)
		for j := range obs {
			obs[j].Time = day
			if err := p.Observe(ctx, &obs[j]); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Advance(ctx, day.Add(bgpwatch.BinStep)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(obs)*b.N)/b.Elapsed().Seconds(), "obs/s")
}

// BenchmarkResume measures resuming a pipeline's detector from a stored
// history of 80k ASNs and 250 countries: 36 hours of series (daily key
// frames, 2000 ASNs changing per bin, each bin's FullFeed) before the
// first bin. "query" is the
// store's DetectorHistory alone, "resume" adds detect.Resume (26 hours of bins through the state machine). Run it with
// -benchtime=1x: the setup writes about a million rows.
func BenchmarkResume(b *testing.B) {
	const nASN, nCC, changes = 80000, 250, 2000
	db := storetest.New(b)
	ctx := context.Background()
	day0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	before := day0.Add(36 * time.Hour)
	cc := func(a bgpwatch.ASN) string { return fmt.Sprintf("C%03d", int(a)%nCC) }
	size := func(a bgpwatch.ASN) int { return 1 + int(a)%97 }
	cur := make([]int, nASN)
	for i := range cur {
		cur[i] = size(bgpwatch.ASN(i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := 0
	for d := day0; d.Before(before); d = d.Add(12 * time.Hour) {
		batch := store.SeriesBatch{From: d, To: d.Add(12*time.Hour - bgpwatch.BinStep), Source: store.SourceLive}
		for t := d; !t.After(batch.To); t = t.Add(bgpwatch.BinStep) {
			// As the live pipeline writes them: 40 full-feed peers a bin.
			batch.Feeds = append(batch.Feeds, store.FeedPoint{Bin: t, FullFeed: 40})
			key := t.Truncate(24 * time.Hour).Equal(t)
			if !key {
				seen := make(map[int]bool, changes)
				for range changes {
					i := rng.IntN(nASN)
					if seen[i] {
						continue
					}
					seen[i] = true
					cur[i] = max(0, size(bgpwatch.ASN(i))-rng.IntN(3))
					batch.ASNs = append(batch.ASNs, store.ASNPoint{ASN: bgpwatch.ASN(i), Bin: t, Counts: bgpwatch.Counts{Prefixes: cur[i], Slash24: cur[i]}})
				}
			}
			var sums [nCC]int
			for i, v := range cur {
				sums[i%nCC] += v
				if key {
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
	dc := detect.DefaultConfig()
	q := store.HistoryQuery{Before: before, Span: dc.Window + dc.MinHistory, Source: store.SourceLive, Open: dc.RecoverFor}
	b.Run("query", func(b *testing.B) {
		var h *store.DetectorHistory
		for b.Loop() {
			var err error
			if h, err = db.DetectorHistory(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		steps := 0
		for _, s := range h.ASNs {
			steps += len(s)
		}
		b.ReportMetric(float64(len(h.ASNs)), "asns")
		b.ReportMetric(float64(len(h.Bins)), "bins")
		feeds := 0
		for _, f := range h.FullFeed {
			if f > 0 {
				feeds++
			}
		}
		if feeds != len(h.Bins) {
			b.Fatalf("%d of %d bins have a stored FullFeed", feeds, len(h.Bins))
		}
		b.ReportMetric(float64(steps), "asn-steps")
		b.ReportMetric(float64(rows), "stored-rows")
	})
	b.Run("resume", func(b *testing.B) {
		for b.Loop() {
			p := ingest.New(ingest.Config{CountryOf: cc, History: db, Source: store.SourceLive}, db)
			if err := p.Resume(ctx, before); err != nil {
				b.Fatal(err)
			}
			if p.Stats().ResumedBins == 0 {
				b.Fatal("nothing resumed")
			}
		}
	})
}
