package synth

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

var scenarioSeries = flag.Bool("scenario-series", false, "TestScenarioFiles: generate the update files too and check the expected events against the truth series (about 40 s)")

// TestScenarioFiles keeps the scenario files in testdata/scenarios valid:
// each parses, generates and its expected events fit it: an ASN event is
// about a named network of that country, inside the archive after the 2 h
// warm-up. By default only the first RIB is written (quick) and the
// series is not checked; with -args -scenario-series the update files are
// generated too (no RIBs, a few seconds per file) and the truth series
// must show a drop to the detection level (ASN 50%, country 70% of the
// value just before the start) inside each expected event. The replay scores are in the
// commit that added the files.
func TestScenarioFiles(t *testing.T) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", "scenarios", pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files in testdata/scenarios")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		t.Run(name, func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Name != name {
				t.Errorf("name %q, file %s", sc.Name, f)
			}
			only := "rib"
			if *scenarioSeries {
				only = "updates"
			}
			truth, err := Generate(context.Background(), sc, t.TempDir(), Options{Only: only, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(truth.Events) != len(sc.Expect) {
				t.Fatalf("truth has %d events, scenario expects %d", len(truth.Events), len(sc.Expect))
			}
			nets := map[bgpwatch.ASN]Network{}
			for _, n := range sc.Networks {
				nets[n.ASN] = n
			}
			step := time.Duration(truth.Series.Step) * time.Second
			for _, e := range sc.Expect {
				what := string(e.Scope) + " " + e.Country
				var series []bgpwatch.Point
				level := 0.7
				switch e.Scope {
				case bgpwatch.ScopeCountry:
					series = truth.CountrySeries(e.Country)
				case bgpwatch.ScopeASN:
					what += " AS" + e.ASN.String()
					n, ok := nets[e.ASN]
					if !ok || n.Country != e.Country {
						t.Errorf("%s: not a named network of %s", what, e.Country)
						continue
					}
					series, level = truth.ASNSeries(e.ASN), 0.5
				default:
					t.Errorf("%s: unknown scope", what)
					continue
				}
				end := sc.End
				if e.EndedAt != nil {
					end = *e.EndedAt
				}
				if e.StartedAt.Before(sc.Start.Add(2*time.Hour)) || !end.After(e.StartedAt) || end.After(sc.End) {
					t.Errorf("%s: %s..%s outside the archive or its 2 h warm-up", what, e.StartedAt, end)
					continue
				}
				if !*scenarioSeries {
					continue
				}
				before, low := -1, -1
				for _, p := range series {
					switch {
					case p.Time.Before(e.StartedAt.Truncate(step)):
						before = p.Counts.Slash24
					case p.Time.Before(end) && (low < 0 || p.Counts.Slash24 < low):
						low = p.Counts.Slash24
					}
				}
				if before <= 0 || low < 0 || float64(low) > level*float64(before) {
					t.Errorf("%s at %s: truth series goes from %d /24s to a minimum of %d, not to %.0f%% or less",
						what, e.StartedAt.Format(time.RFC3339), before, low, level*100)
				}
			}
		})
	}
}
