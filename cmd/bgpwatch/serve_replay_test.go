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
	var stderr lockedBuffer
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
}
