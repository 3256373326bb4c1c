package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
)

// TestServeReplayedScenario generates the kazakhstan-2022 scenario, replays
// it with `bgpwatch replay`, serves it with `bgpwatch serve` and checks the
// API's answers against the scenario's truth.
func TestServeReplayedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and replays a scenario")
	}
	ctx := context.Background()
	sc, err := synth.Builtin("kazakhstan-2022")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Now()
	truth, err := synth.Generate(ctx, sc, dir, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated in %s", time.Since(start))
	db := storetest.New(t)
	url := db.Pool().Config().ConnString()
	args := []string{"replay", "--db", url}
	for _, f := range truth.RIRFiles {
		args = append(args, "--delegations", filepath.Join(dir, f))
	}
	if truth.ASNInfo != "" {
		args = append(args, "--asn-info", filepath.Join(dir, truth.ASNInfo))
	}
	start = time.Now()
	var stderr syncbuf.Buffer
	if code := run(ctx, append(args, dir), strings.NewReader(""), io.Discard, &stderr); code != exitOK {
		t.Fatalf("replay exited %d: %s", code, stderr.String())
	}
	t.Logf("replayed in %s", time.Since(start))

	s := startServe(t, "--db", url, "--webhooks=false")
	getJSON := func(path string, v any) {
		t.Helper()
		code, body := s.get(t, path)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	// The truth's country event of KZ.
	var kzEv *synth.TruthEvent
	for i, e := range truth.Events {
		if e.Scope == bgpwatch.ScopeCountry && e.Country == "KZ" {
			kzEv = &truth.Events[i]
			break
		}
	}
	if kzEv == nil {
		t.Fatalf("truth has no KZ country event: %+v", truth.Events)
	}

	t.Run("countries", func(t *testing.T) {
		var v struct {
			Countries []struct {
				Code    string    `json:"code"`
				Name    string    `json:"name"`
				Slash24 int       `json:"visible_slash24"`
				Time    time.Time `json:"time"`
			} `json:"countries"`
		}
		getJSON("/v1/countries", &v)
		found := false
		for _, c := range v.Countries {
			if c.Code == "KZ" {
				found = true
				if c.Name != "Kazakhstan" || c.Slash24 <= 0 || c.Time.Before(truth.Start) || c.Time.After(truth.End) {
					t.Errorf("KZ %+v", c)
				}
			}
		}
		if !found {
			t.Errorf("no KZ in %+v", v.Countries)
		}
	})

	type series struct {
		Step   int `json:"step"`
		Points []struct {
			Time    time.Time `json:"time"`
			Slash24 int       `json:"visible_slash24"`
		} `json:"points"`
	}
	t.Run("country series matches the truth", func(t *testing.T) {
		var v series
		getJSON("/v1/countries/KZ/series", &v)
		td := truth.Series.Countries["KZ"]
		if len(v.Points) == 0 || td == nil {
			t.Fatalf("%d points, truth %v", len(v.Points), td != nil)
		}
		same, total := 0, 0
		for _, p := range v.Points {
			k := int(p.Time.Sub(truth.Series.Start) / (time.Duration(truth.Series.Step) * time.Second))
			if k < 0 || k >= len(td.Slash24) {
				continue
			}
			total++
			if p.Slash24 == td.Slash24[k] {
				same++
			}
		}
		t.Logf("%d of %d bins equal the truth", same, total)
		if total == 0 || same*10 < total*9 {
			t.Errorf("only %d of %d bins equal the truth", same, total)
		}
		// The shutdown shows: visible /24s at its start+1h are well below
		// those 3 h before it.
		at := func(tm time.Time) int {
			for _, p := range v.Points {
				if p.Time.Equal(tm.Truncate(bgpwatch.BinStep)) {
					return p.Slash24
				}
			}
			return -1
		}
		before, during := at(kzEv.StartedAt.Add(-3*time.Hour)), at(kzEv.StartedAt.Add(time.Hour))
		if before <= 0 || during < 0 || during*2 > before {
			t.Errorf("KZ /24s before %d, during %d", before, during)
		}
	})

	var evID int64
	t.Run("events", func(t *testing.T) {
		var v struct {
			Events []struct {
				ID        int64     `json:"id"`
				Scope     string    `json:"scope"`
				StartedAt time.Time `json:"started_at"`
				Withdrawn int       `json:"withdrawn_prefixes"`
			} `json:"events"`
		}
		getJSON("/v1/events?country=KZ&scope=country", &v)
		for _, e := range v.Events {
			if d := e.StartedAt.Sub(kzEv.StartedAt); d > -30*time.Minute && d < 30*time.Minute {
				evID = e.ID
				if e.Withdrawn == 0 {
					t.Errorf("event %d without withdrawn prefixes", e.ID)
				}
			}
		}
		if evID == 0 {
			t.Fatalf("no KZ country event near %s in %+v", kzEv.StartedAt, v.Events)
		}
		var one struct {
			ID      int64  `json:"id"`
			Country string `json:"country"`
		}
		getJSON(fmt.Sprintf("/v1/events/%d", evID), &one)
		if one.ID != evID || one.Country != "KZ" {
			t.Errorf("event %+v", one)
		}
		var pf struct {
			Prefixes []struct {
				Prefix string `json:"prefix"`
			} `json:"prefixes"`
		}
		getJSON(fmt.Sprintf("/v1/events/%d/prefixes?limit=10", evID), &pf)
		if len(pf.Prefixes) == 0 || !strings.Contains(pf.Prefixes[0].Prefix, "/") {
			t.Errorf("prefixes %+v", pf)
		}
	})

	t.Run("asns", func(t *testing.T) {
		var nw *synth.TruthNetwork
		for i, n := range truth.Networks {
			if n.Country == "KZ" && n.Name != "" {
				nw = &truth.Networks[i]
				break
			}
		}
		if nw == nil {
			t.Skip("no named KZ network in the truth")
		}
		var a struct {
			ASN     uint32 `json:"asn"`
			Name    string `json:"name"`
			Country string `json:"country"`
			Access  string `json:"access"`
		}
		getJSON(fmt.Sprintf("/v1/asns/AS%d", nw.ASN), &a)
		if a.ASN != uint32(nw.ASN) || a.Name != nw.Name || a.Country != "KZ" || a.Access != string(nw.Access) {
			t.Errorf("asn %+v, truth %+v", a, nw)
		}
		var v series
		getJSON(fmt.Sprintf("/v1/asns/%d/series?step=3600", nw.ASN), &v)
		if len(v.Points) == 0 || v.Step != 3600 {
			t.Errorf("asn series: %d points", len(v.Points))
		}
		nonzero := 0
		for _, p := range v.Points {
			if p.Slash24 > 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("asn series all zero")
		}
	})

	t.Run("networks of the country", func(t *testing.T) {
		want := map[uint32]synth.TruthNetwork{}
		for _, n := range truth.Networks {
			if n.Country == "KZ" {
				want[uint32(n.ASN)] = n
			}
		}
		type network struct {
			ASN      uint32 `json:"asn"`
			Name     string `json:"name"`
			Access   string `json:"access"`
			Slash24  int    `json:"visible_slash24"`
			Baseline *int   `json:"baseline_slash24"`
		}
		var v struct {
			Country string    `json:"country"`
			Total   int       `json:"total"`
			Time    time.Time `json:"time"`
			ASNs    []network `json:"asns"`
		}
		getJSON("/v1/countries/KZ/asns", &v)
		if v.Country != "KZ" || v.Total != len(v.ASNs) || v.Total < len(want) || len(want) == 0 {
			t.Fatalf("country %q total %d, %d networks listed, %d in the truth", v.Country, v.Total, len(v.ASNs), len(want))
		}
		seen := 0
		for i, a := range v.ASNs {
			if i > 0 && a.Slash24 > v.ASNs[i-1].Slash24 {
				t.Errorf("not largest first: AS%d (%d) after AS%d (%d)", a.ASN, a.Slash24, v.ASNs[i-1].ASN, v.ASNs[i-1].Slash24)
			}
			if n, ok := want[a.ASN]; ok {
				seen++
				if a.Name != n.Name || a.Access != string(n.Access) || a.Baseline == nil {
					t.Errorf("AS%d: %+v, truth %+v", a.ASN, a, n)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("%d of the truth's %d KZ networks listed", seen, len(want))
		}
		// The three largest, and the same total.
		var top struct {
			Total int       `json:"total"`
			ASNs  []network `json:"asns"`
		}
		getJSON("/v1/countries/KZ/asns?limit=3", &top)
		if top.Total != v.Total || len(top.ASNs) != min(3, v.Total) {
			t.Fatalf("limit=3: total %d, %d networks", top.Total, len(top.ASNs))
		}
		for i := range top.ASNs {
			if top.ASNs[i].ASN != v.ASNs[i].ASN {
				t.Errorf("limit=3: #%d is AS%d, want AS%d", i, top.ASNs[i].ASN, v.ASNs[i].ASN)
			}
		}
	})

	t.Run("csv, etag and chart", func(t *testing.T) {
		code, body := s.get(t, "/v1/countries/KZ/series?format=csv")
		lines := strings.Split(strings.TrimSpace(body), "\n")
		var js series
		getJSON("/v1/countries/KZ/series", &js)
		if code != 200 || len(lines) != len(js.Points)+1 || !strings.HasPrefix(lines[0], "time,") {
			t.Errorf("csv: %d, %d lines for %d points; first %q", code, len(lines), len(js.Points), lines[0])
		}
		if code, body := s.get(t, "/v1/countries/KZ/series", "Accept", "text/csv"); code != 200 || strings.TrimSpace(body) != strings.Join(lines, "\n") {
			t.Errorf("Accept: text/csv: %d, differs from ?format=csv", code)
		}
		code, body = s.get(t, "/v1/countries/KZ/chart.svg")
		if code != 200 || !strings.Contains(body, "<svg") || !strings.Contains(body, "Kazakhstan") {
			t.Errorf("chart: %d %.300s", code, body)
		}
	})

	t.Run("openapi, health and metrics", func(t *testing.T) {
		var doc struct {
			OpenAPI string                     `json:"openapi"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		getJSON("/openapi.json", &doc)
		for _, p := range []string{"/v1/countries", "/v1/countries/{cc}/series", "/v1/countries/{cc}/asns", "/v1/asns/{asn}", "/v1/asns/{asn}/series", "/v1/events", "/v1/events/{id}", "/v1/events/{id}/prefixes"} {
			if doc.Paths[p] == nil {
				t.Errorf("openapi.json has no %s", p)
			}
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.1") {
			t.Errorf("openapi %q", doc.OpenAPI)
		}
		var h struct {
			Status string `json:"status"`
		}
		getJSON("/v1/health", &h)
		if h.Status != "ok" {
			t.Errorf("health %+v", h)
		}
		code, body := s.get(t, "/metrics")
		if code != 200 || !strings.Contains(body, `bgpwatch_http_requests_total{code="200",method="GET",route="/v1/countries/{cc}/series"}`) {
			t.Errorf("metrics: %d, no count of the series requests:\n%.2000s", code, body)
		}
	})
}
