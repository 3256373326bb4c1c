package ingest_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

var t0 = time.Date(2022, 1, 4, 23, 50, 0, 0, time.UTC)

// dumpTables renders every row the replay writes, sorted, without the
// bookkeeping timestamps (created_at, updated_at).
func dumpTables(t *testing.T, db *store.DB) string {
	t.Helper()
	queries := []string{
		`SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes, asns FROM country_series ORDER BY 1, 2`,
		`SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series ORDER BY 1, 2`,
		`SELECT id, scope, country, asn, access, started_at, ended_at, baseline_slash24, min_slash24, drop_ratio, alert_area, withdrawn_prefixes, source FROM events ORDER BY id`,
		`SELECT event_id, asn, baseline_slash24, min_slash24 FROM event_asns ORDER BY 1, 2`,
		`SELECT event_id, prefix, origin_asn, withdrawn_at FROM event_prefixes ORDER BY 1, 2`,
		`SELECT event_id, type FROM event_notices ORDER BY 1, 2`,
		`SELECT asn, name, country, access FROM asns ORDER BY 1`,
	}
	return storetest.Dump(t, db, queries...)
}

func countRows(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// feed runs a small scenario: three full-feed peers see KZ's 9198 and US's
// 701; 9198 withdraws half its space from 00:10 on.
func feed(t *testing.T, db *store.DB, writeFrom time.Time) ingest.Stats {
	t.Helper()
	ctx := context.Background()
	countries := map[bgpwatch.ASN]string{9198: "KZ", 701: "US"}
	p := ingest.New(ingest.Config{
		CountryOf: func(a bgpwatch.ASN) string { return countries[a] },
		WriteFrom: writeFrom,
		FlushBins: 2,
	}, db)
	kz := []netip.Prefix{netip.MustParsePrefix("2.72.0.0/16"), netip.MustParsePrefix("2.73.0.0/16")}
	us := []netip.Prefix{netip.MustParsePrefix("12.0.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
	for i := range 3 {
		peer := bgpwatch.Peer{Collector: "rrc00", ASN: bgpwatch.ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}
		for _, pf := range kz {
			o := bgpwatch.Observation{Time: t0, Kind: bgpwatch.Announce, Peer: peer, Prefix: pf, Origin: 9198}
			if err := p.Observe(ctx, &o); err != nil {
				t.Fatal(err)
			}
		}
		for _, pf := range us {
			o := bgpwatch.Observation{Time: t0, Kind: bgpwatch.Announce, Peer: peer, Prefix: pf, Origin: 701}
			if err := p.Observe(ctx, &o); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		peer := bgpwatch.Peer{Collector: "rrc00", ASN: bgpwatch.ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}
		o := bgpwatch.Observation{Time: t0.Add(21 * time.Minute), Kind: bgpwatch.Withdraw, Peer: peer, Prefix: kz[1]}
		if err := p.Observe(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Advance(ctx, t0.Add(40*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return p.Stats()
}

func TestPipelineSeries(t *testing.T) {
	db := storetest.New(t)
	st := feed(t, db, time.Time{})
	if st.BinsWritten != 8 {
		t.Errorf("bins written = %d, want 8 (23:50 .. 00:25)", st.BinsWritten)
	}
	if n := countRows(t, db, `SELECT count(*) FROM country_series WHERE country = 'KZ'`); n != 8 {
		t.Errorf("KZ country rows = %d, want one per bin (8)", n)
	}
	// 9198: key frame 23:50, key frame 00:00 (day start), change at 00:10.
	rows, err := db.Pool().Query(context.Background(), `SELECT bin, visible_slash24 FROM asn_series WHERE asn = 9198 ORDER BY bin`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var b time.Time
		var v int
		if err := rows.Scan(&b, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", b.UTC().Format("15:04"), v))
	}
	rows.Close()
	want := "23:50=512 00:00=512 00:10=256"
	if strings.Join(got, " ") != want {
		t.Errorf("9198 change points = %v, want %s", got, want)
	}
	if n := countRows(t, db, `SELECT visible_v6_prefixes FROM country_series WHERE country = 'US' AND bin = $1`, t0); n != 1 {
		t.Errorf("US v6 prefixes = %d, want 1", n)
	}
	if n := countRows(t, db, `SELECT asns FROM country_series WHERE country = 'KZ' AND bin = $1`, t0); n != 1 {
		t.Errorf("KZ asns = %d, want 1", n)
	}
}

func TestPipelineIdempotent(t *testing.T) {
	db := storetest.New(t)
	feed(t, db, time.Time{})
	first := dumpTables(t, db)
	feed(t, db, time.Time{})
	if second := dumpTables(t, db); second != first {
		t.Fatalf("second run changed the database:\n%s\nvs\n%s", first, second)
	}
}

func TestPipelineWriteFrom(t *testing.T) {
	db := storetest.New(t)
	from := t0.Add(15 * time.Minute) // 00:05
	st := feed(t, db, from)
	if st.BinsBeforeFrom != 3 || st.BinsWritten != 5 {
		t.Errorf("before/written = %d/%d, want 3/5", st.BinsBeforeFrom, st.BinsWritten)
	}
	if n := countRows(t, db, `SELECT count(*) FROM country_series WHERE bin < $1`, from); n != 0 {
		t.Errorf("%d rows before --from", n)
	}
	// The first written bin is a key frame.
	if n := countRows(t, db, `SELECT count(*) FROM asn_series WHERE bin = $1`, from); n != 2 {
		t.Errorf("key frame rows at from = %d, want 2", n)
	}
}
