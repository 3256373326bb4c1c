package ingest_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
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
