package api_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
)

// TestBenchFill fills the database of scripts/bench-api.sh when no
// generated replay is available (see benchFill). It runs only with
// BGPWATCH_BENCH_DB (a URL) or BGPWATCH_BENCH_DATA_DIR (an embedded data
// directory) set.
func TestBenchFill(t *testing.T) {
	url, dir := os.Getenv("BGPWATCH_BENCH_DB"), os.Getenv("BGPWATCH_BENCH_DATA_DIR")
	if url == "" && dir == "" {
		t.Skip("BGPWATCH_BENCH_DB or BGPWATCH_BENCH_DATA_DIR not set; used by scripts/bench-api.sh")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: url, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	benchFill(t, db, 10)
}

// benchASNs is the number of networks benchFill registers to KZ.
const benchASNs = 2500

// benchFill writes the fixture (KZ and UZ, 2022-01-01 .. 2022-01-10) and,
// for the first days days, 248 more countries and 2500 ASNs that change
// every 37 bins (AS100000 .. AS102499, registered to KZ, so that KZ has
// 2502 networks).
func benchFill(tb testing.TB, db *store.DB, days int) {
	tb.Helper()
	ctx := context.Background()
	fill(tb, db)
	infos := make([]bgpwatch.ASNInfo, benchASNs)
	for a := range infos {
		infos[a] = bgpwatch.ASNInfo{ASN: bgpwatch.ASN(100000 + a), Name: fmt.Sprintf("NET-%d", 100000+a), Country: "KZ",
			Access: []bgpwatch.Access{bgpwatch.AccessFixed, bgpwatch.AccessMobile, bgpwatch.AccessHosting}[a%3]}
	}
	if err := db.UpsertASNs(ctx, infos); err != nil {
		tb.Fatal(err)
	}
	for d := range days {
		from := fxStart.Add(time.Duration(d) * 24 * time.Hour)
		to := from.Add(24*time.Hour - bgpwatch.BinStep)
		b := &store.SeriesBatch{From: from, To: to}
		for bin := from; !bin.After(to); bin = bin.Add(bgpwatch.BinStep) {
			b.Countries = append(b.Countries, store.CountryPoint{Country: "KZ", Bin: bin, Counts: kzCounts(bin), ASNs: 100},
				store.CountryPoint{Country: "UZ", Bin: bin, Counts: bgpwatch.Counts{Prefixes: 300, Slash24: 800, V6Prefixes: 10}, ASNs: 80})
			for c := range 248 {
				cc := fmt.Sprintf("%c%c", 'A'+c/26, 'A'+c%26) // AA .. JN, never KZ or UZ
				b.Countries = append(b.Countries, store.CountryPoint{Country: cc, Bin: bin,
					Counts: bgpwatch.Counts{Prefixes: 1000 + c, Slash24: 4000 + c + int(bin.Unix()/300)%7, V6Prefixes: 100}, ASNs: 50})
			}
			for a := range benchASNs {
				if bin.Equal(from) || (bin.Unix()/300+int64(a))%37 == 0 {
					b.ASNs = append(b.ASNs, store.ASNPoint{ASN: bgpwatch.ASN(100000 + a), Bin: bin,
						Counts: bgpwatch.Counts{Prefixes: 10 + a%5, Slash24: 40 + int(bin.Unix()/300+int64(a))%3, V6Prefixes: 1}})
				}
			}
		}
		if err := db.WriteBins(ctx, b); err != nil {
			tb.Fatal(err)
		}
	}
}
