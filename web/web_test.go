package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/web"
)

var (
	fxStart     = time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)
	fxEnd       = time.Date(2022, 1, 6, 23, 55, 0, 0, time.UTC)
	fxDropStart = time.Date(2022, 1, 5, 12, 30, 0, 0, time.UTC)
	fxDropEnd   = time.Date(2022, 1, 5, 16, 0, 0, 0, time.UTC)
	fxNow       = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

// hostileName is an ASN name that tries to break out of SVG text.
const hostileName = `EVIL</text><script>alert(1)</script><text x="0">&amp; "q" 'a' ]]>`

// fill writes a small Kazakhstan history through the store's write
// methods: visible /24s drop from 1000 to 100 during the event.
func fill(t testing.TB, db *store.DB) int64 {
	t.Helper()
	ctx := context.Background()
	b := &store.SeriesBatch{From: fxStart, To: fxEnd}
	for bin := fxStart; !bin.After(fxEnd); bin = bin.Add(bgpwatch.BinStep) {
		c := bgpwatch.Counts{Prefixes: 500, Slash24: 1000, V6Prefixes: 40}
		if !bin.Before(fxDropStart) && bin.Before(fxDropEnd) {
			c = bgpwatch.Counts{Prefixes: 50, Slash24: 100, V6Prefixes: 4}
		}
		b.Countries = append(b.Countries, store.CountryPoint{Country: "KZ", Bin: bin, Counts: c, ASNs: 2})
		if bin.Equal(bin.Truncate(24*time.Hour)) || bin.Equal(fxDropStart) || bin.Equal(fxDropEnd) {
			b.ASNs = append(b.ASNs, store.ASNPoint{ASN: 9198, Bin: bin, Counts: bgpwatch.Counts{Prefixes: c.Prefixes / 2, Slash24: c.Slash24 / 2}})
		}
	}
	if err := db.WriteBins(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{{ASN: 9198, Name: hostileName, Country: "KZ", Access: bgpwatch.AccessFixed}}); err != nil {
		t.Fatal(err)
	}
	ev := &bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed,
		StartedAt: fxDropStart, EndedAt: fxDropEnd, BaselineSlash24: 1000, MinSlash24: 100, DropRatio: 0.9,
		ASNs:      []bgpwatch.EventASN{{ASN: 9198, BaselineSlash24: 500, MinSlash24: 50}},
		Withdrawn: []bgpwatch.WithdrawnPrefix{{Prefix: netip.MustParsePrefix("2.72.0.0/16"), Origin: 9198, WithdrawnAt: fxDropStart}}}
	id, err := db.SaveEvent(ctx, ev, store.SourceReplay, false)
	if err != nil {
		t.Fatal(err)
	}
	aev := &bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: 9198, Access: bgpwatch.AccessFixed,
		StartedAt: fxDropStart, EndedAt: fxDropEnd, BaselineSlash24: 500, MinSlash24: 50, DropRatio: 0.9}
	if _, err := db.SaveEvent(ctx, aev, store.SourceReplay, false); err != nil {
		t.Fatal(err)
	}
	return id
}

// newServer mounts the web routes next to the real API, as serve does.
func newServer(t testing.TB, db *store.DB) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	web.New(db, nil, web.WithClock(func() time.Time { return fxNow })).Mount(r)
	a := api.New(api.Config{Store: db, Now: func() time.Time { return fxNow }})
	r.Handle("/v1/*", a)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
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

func TestCharts(t *testing.T) {
	db := storetest.New(t)
	fill(t, db)
	srv := newServer(t, db)
	tests := []struct {
		name      string
		path      string
		events    int
		title     string
		hostile   bool
		wantRange string
	}{
		{"country default range", "/v1/countries/KZ/chart.svg", 1, "Kazakhstan (KZ): routed IPv4 address space, visible /24s", false, "4 Jan 2022 00:00 – 6 Jan 2022 23:55"},
		{"country lower case, explicit range", "/v1/countries/kz/chart.svg?from=2022-01-05T00:00:00Z&to=2022-01-06T00:00:00Z", 1, "Kazakhstan (KZ)", false, "5 Jan 2022 00:00 – 6 Jan 2022 00:00"},
		{"country range without events", "/v1/countries/KZ/chart.svg?from=2022-01-04T00:00:00Z&to=2022-01-05T00:00:00Z", 0, "Kazakhstan (KZ)", false, "4 Jan 2022 00:00 – 5 Jan 2022 00:00"},
		{"asn with hostile name", "/v1/asns/AS9198/chart.svg", 1, "AS9198 EVIL</text><script>", true, "4 Jan 2022 00:00"},
		{"range beyond history is clipped", "/v1/countries/KZ/chart.svg?from=2021-12-01T00:00:00Z&to=2022-02-01T00:00:00Z", 1, "Kazakhstan", false, "4 Jan 2022 00:00 – 6 Jan 2022 23:55"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := get(t, srv.URL+tt.path)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/svg+xml") {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
				t.Errorf("Cache-Control %q", cc)
			}
			s := web.ParseSVG(t, b)
			if s.Root != "svg" || s.XMLNS != "http://www.w3.org/2000/svg" || s.ViewBox == "" {
				t.Errorf("root %q xmlns %q viewBox %q", s.Root, s.XMLNS, s.ViewBox)
			}
			if !strings.HasPrefix(s.Title, tt.title) {
				t.Errorf("title %q, want prefix %q", s.Title, tt.title)
			}
			if s.Desc == "" || !strings.Contains(s.Desc, "RIPE RIS") {
				t.Errorf("desc %q", s.Desc)
			}
			if s.Elems["path.series"] != 1 || s.Elems["rect.event"] != tt.events {
				t.Errorf("%d series paths, %d event rects; want 1, %d", s.Elems["path.series"], s.Elems["rect.event"], tt.events)
			}
			if s.Elems["script"] != 0 {
				t.Error("a script element got into the chart")
			}
			if tt.hostile && strings.Contains(string(b), "<script") {
				t.Error("unescaped ASN name in the SVG")
			}
			if !strings.Contains(strings.Join(s.Text, "|"), tt.wantRange) {
				t.Errorf("range %q not in the chart text %q", tt.wantRange, s.Text)
			}
			if !strings.Contains(string(b), "Source: bgpwatch, BGP data from RIPE RIS / RouteViews") {
				t.Error("no credit")
			}
		})
	}
}

func TestChartErrors(t *testing.T) {
	db := storetest.New(t)
	fill(t, db)
	srv := newServer(t, db)
	tests := []struct {
		path   string
		status int
	}{
		{"/v1/countries/K1/chart.svg", 400},
		{"/v1/countries/KAZ/chart.svg", 400},
		{"/v1/countries/ZZ/chart.svg", 404},
		{"/v1/asns/0/chart.svg", 400},
		{"/v1/asns/AS99999999999/chart.svg", 400},
		{"/v1/asns/%3Cscript%3E/chart.svg", 400},
		{"/v1/asns/64999/chart.svg", 404},
		{"/v1/countries/KZ/chart.svg?from=yesterday", 400},
		{"/v1/countries/KZ/chart.svg?from=2022-01-06T00:00:00Z&to=2022-01-05T00:00:00Z", 400},
		{"/v1/countries/KZ/chart.svg?from=2020-01-01T00:00:00Z&to=2022-01-05T00:00:00Z", 400},
		{"/v1/countries/KZ/chart.svg?width=5", 400},
		{"/v1/countries/KZ/chart.svg?from=2022-01-05T00:00:00Z&from=2022-01-05T00:00:00Z", 400},
		{"/v1/asns/9198/chart.svg?x=%3Csvg%3E", 400},
		{"/assets/../web.go", 404},
		{"/assets/nothing.js", 404},
		{"/assets/index.html", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, b := get(t, srv.URL+tt.path)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.status == 404 && strings.HasPrefix(tt.path, "/assets/..") {
				return // the client cleans the path; whatever answers, it is not the file
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(b, &p); err != nil || p.Status != tt.status || p.Type == "" {
				t.Errorf("problem %s (%v)", b, err)
			}
			if strings.Contains(p.Detail, "<svg") && tt.status == 400 && !strings.Contains(string(b), `\u003csvg`) {
				t.Errorf("detail echoes markup unescaped: %s", b)
			}
		})
	}
}

func TestAppFiles(t *testing.T) {
	db := storetest.New(t)
	srv := newServer(t, db)
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<script src="/assets/app.js"`},
		{"/assets/app.js", "javascript", "function route()"},
		{"/assets/app.css", "text/css", ".chart svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, b := get(t, srv.URL+tt.path)
			if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), tt.ctype) {
				t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(b), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
				t.Errorf("%s refers to another origin (the app must work offline)", tt.path)
			}
		})
	}
	res, _ := get(t, srv.URL+"/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}
