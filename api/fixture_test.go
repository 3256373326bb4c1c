package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// The fixture: Kazakhstan, 2022-01-01 .. 2022-01-10 (per-bin country rows),
// a shutdown on 2022-01-05 06:00..12:00 UTC where visible /24s fall from
// 1000 to 100, and AS9198 stored as change points with daily key frames.
var (
	fxStart     = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	fxEnd       = time.Date(2022, 1, 10, 23, 55, 0, 0, time.UTC)
	fxDropStart = time.Date(2022, 1, 5, 6, 0, 0, 0, time.UTC)
	fxDropEnd   = time.Date(2022, 1, 5, 12, 0, 0, 0, time.UTC)
	fxNow       = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // years after the data
)

const adminToken = "test-admin-token-0123456789"

func kzCounts(t time.Time) bgpwatch.Counts {
	if !t.Before(fxDropStart) && t.Before(fxDropEnd) {
		return bgpwatch.Counts{Prefixes: 50, Slash24: 100, V6Prefixes: 5}
	}
	return bgpwatch.Counts{Prefixes: 500, Slash24: 1000, V6Prefixes: 40}
}

func asnCounts(t time.Time) bgpwatch.Counts {
	c := kzCounts(t)
	return bgpwatch.Counts{Prefixes: c.Prefixes / 2, Slash24: c.Slash24 / 2, V6Prefixes: c.V6Prefixes / 2}
}

// fill writes the fixture into db.
func fill(t testing.TB, db *store.DB) (countryEvent, asnEvent int64) {
	t.Helper()
	ctx := context.Background()
	b := &store.SeriesBatch{From: fxStart, To: fxEnd}
	var prev bgpwatch.Counts
	for bin := fxStart; !bin.After(fxEnd); bin = bin.Add(bgpwatch.BinStep) {
		b.Countries = append(b.Countries,
			store.CountryPoint{Country: "KZ", Bin: bin, Counts: kzCounts(bin), ASNs: 100},
			store.CountryPoint{Country: "UZ", Bin: bin, Counts: bgpwatch.Counts{Prefixes: 300, Slash24: 800, V6Prefixes: 10}, ASNs: 80})
		c := asnCounts(bin)
		if c != prev || bin.Equal(bin.Truncate(24*time.Hour)) {
			b.ASNs = append(b.ASNs, store.ASNPoint{ASN: 9198, Bin: bin, Counts: c})
			prev = c
		}
	}
	if err := db.WriteBins(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{
		{ASN: 9198, Name: "KAZTELECOM-AS", Country: "KZ", Access: bgpwatch.AccessFixed},
		{ASN: 21299, Name: "KAR-TEL-AS", Country: "KZ", Access: bgpwatch.AccessMobile},
	}); err != nil {
		t.Fatal(err)
	}
	cev := &bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed,
		StartedAt: fxDropStart, EndedAt: fxDropEnd, BaselineSlash24: 1000, MinSlash24: 100, DropRatio: 0.9,
		ASNs: []bgpwatch.EventASN{{ASN: 9198, BaselineSlash24: 500, MinSlash24: 50}, {ASN: 21299, BaselineSlash24: 200, MinSlash24: 20}}}
	for i := range 5 {
		cev.Withdrawn = append(cev.Withdrawn, bgpwatch.WithdrawnPrefix{
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{2, 72, byte(i), 0}), 24), Origin: 9198,
			WithdrawnAt: fxDropStart.Add(time.Duration(i) * time.Minute)})
	}
	var err error
	if countryEvent, err = db.SaveEvent(ctx, cev, store.SourceReplay, false); err != nil {
		t.Fatal(err)
	}
	aev := &bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: 9198, Access: bgpwatch.AccessFixed,
		StartedAt: fxDropStart.Add(5 * time.Minute), BaselineSlash24: 500, MinSlash24: 50, DropRatio: 0.9,
		ASNs: []bgpwatch.EventASN{{ASN: 9198, BaselineSlash24: 500, MinSlash24: 50}}}
	if asnEvent, err = db.SaveEvent(ctx, aev, store.SourceReplay, false); err != nil {
		t.Fatal(err)
	}
	// Older events to page through.
	for i := range 5 {
		ev := &bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "UZ", StartedAt: fxStart.Add(time.Duration(i) * time.Hour),
			EndedAt: fxStart.Add(time.Duration(i)*time.Hour + 30*time.Minute), BaselineSlash24: 800, MinSlash24: 400, DropRatio: 0.5}
		if _, err := db.SaveEvent(ctx, ev, store.SourceReplay, false); err != nil {
			t.Fatal(err)
		}
	}
	return countryEvent, asnEvent
}

type fixture struct {
	srv       *httptest.Server
	api       *api.Server
	db        *store.DB
	countryEv int64
	asnEv     int64
	metrics   *api.Metrics
}

func newFixture(t *testing.T, mod func(*api.Config)) *fixture {
	t.Helper()
	db := storetest.New(t)
	f := &fixture{db: db}
	f.countryEv, f.asnEv = fill(t, db)
	f.metrics = api.NewMetrics(nil)
	cfg := api.Config{Store: db, Webhooks: db, AdminToken: adminToken, Now: func() time.Time { return fxNow },
		CacheTTL: time.Second, Metrics: f.metrics, Version: "test"}
	if mod != nil {
		mod(&cfg)
	}
	f.api = api.New(cfg)
	f.srv = httptest.NewServer(f.api)
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request and returns the response with its body read.
func (f *fixture) do(t *testing.T, method, path string, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// csvBoth asks for path (which has a query string) as CSV both ways,
// ?format=csv and Accept: text/csv, and checks that each answer is CSV
// with the records want.
func (f *fixture) csvBoth(t *testing.T, path string, want [][]string) {
	t.Helper()
	for _, how := range []struct {
		query string
		hdr   []string
	}{{"&format=csv", nil}, {"", []string{"Accept", "text/csv"}}} {
		res, b := f.do(t, "GET", path+how.query, "", how.hdr...)
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if ct := res.Header.Get("Content-Type"); err != nil || !strings.HasPrefix(ct, "text/csv") || fmt.Sprint(recs) != fmt.Sprint(want) {
			t.Errorf("%s%s %v: %s %q (%v), want %q", path, how.query, how.hdr, ct, recs, err, want)
		}
	}
}
