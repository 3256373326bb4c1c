package detect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/synth"
)

// The scenario test runs the detector over the expected per-bin visibility
// of generated archives (truth.json written by package synth) and compares
// the events found with the events the truth lists. It reads the truth
// with its own minimal types so that this package does not depend on
// synth's types. BGPWATCH_SCENARIOS may name a directory holding
// <name>/truth.json (for example the output of `bgpwatch generate` for a
// scenario file of your own); without it the test generates every built-in
// scenario but "scale" into a temporary directory first.
//
// The truth series hold the countries and the named networks only, and no
// per-prefix changes, so this checks start, end, scope and access, not the
// evidence; the replay end-to-end test (package ingest) covers the rest.

type truthFile struct {
	Scenario       string       `json:"scenario"`
	FullFeedASNsV4 int          `json:"full_feed_asns_v4"`
	Networks       []truthNet   `json:"networks"`
	Events         []truthEvent `json:"events"`
	Series         struct {
		Start     time.Time                  `json:"start"`
		Step      int                        `json:"step"`
		Countries map[string]truthSeriesData `json:"countries"`
		ASNs      map[string]truthSeriesData `json:"asns"`
	} `json:"series"`
}

type truthNet struct {
	ASN     bgpwatch.ASN    `json:"asn"`
	Name    string          `json:"name"`
	Country string          `json:"country"`
	Access  bgpwatch.Access `json:"access"`
}

type truthEvent struct {
	Scope     bgpwatch.Scope  `json:"scope"`
	Country   string          `json:"country"`
	ASN       bgpwatch.ASN    `json:"asn"`
	Access    bgpwatch.Access `json:"access"`
	StartedAt time.Time       `json:"started_at"`
	EndedAt   *time.Time      `json:"ended_at"`
	Note      string          `json:"note"`
}

type truthSeriesData struct {
	Prefixes []int `json:"prefixes"`
	Slash24  []int `json:"slash24"`
}

// binsFromTruth turns the truth series into bins.
func binsFromTruth(t *testing.T, tr *truthFile) []*bgpwatch.Bin {
	t.Helper()
	step := time.Duration(tr.Series.Step) * time.Second
	if step <= 0 {
		step = bgpwatch.BinStep
	}
	n := 0
	for _, s := range tr.Series.Countries {
		n = max(n, len(s.Slash24))
	}
	asns := map[bgpwatch.ASN]truthSeriesData{}
	for k, s := range tr.Series.ASNs {
		a, err := bgpwatch.ParseASN(k)
		if err != nil {
			t.Fatalf("series ASN %q: %v", k, err)
		}
		asns[a] = s
		n = max(n, len(s.Slash24))
	}
	ff := max(tr.FullFeedASNsV4, 1)
	var out []*bgpwatch.Bin
	for i := range n {
		b := &bgpwatch.Bin{
			Start:     tr.Series.Start.Add(time.Duration(i) * step),
			ASNs:      map[bgpwatch.ASN]bgpwatch.Counts{},
			Countries: map[string]bgpwatch.Counts{},
			FullFeed:  ff,
		}
		for a, s := range asns {
			if i < len(s.Slash24) {
				b.ASNs[a] = bgpwatch.Counts{Prefixes: at2(s.Prefixes, i), Slash24: s.Slash24[i]}
			}
		}
		for cc, s := range tr.Series.Countries {
			if i < len(s.Slash24) {
				b.Countries[cc] = bgpwatch.Counts{Prefixes: at2(s.Prefixes, i), Slash24: s.Slash24[i]}
			}
		}
		out = append(out, b)
	}
	return out
}

func at2(v []int, i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

func TestScenarios(t *testing.T) {
	dir := os.Getenv("BGPWATCH_SCENARIOS")
	if dir == "" || dir == "all" {
		dir = generateScenarios(t)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "truth.json"))
	if f := filepath.Join(dir, "truth.json"); fileExists(f) {
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no */truth.json under %s", dir)
	}
	sort.Strings(files)
	const tol = 10 * time.Minute
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var tr truthFile
			if err := json.Unmarshal(raw, &tr); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			info := map[bgpwatch.ASN]bgpwatch.ASNInfo{}
			for _, n := range tr.Networks {
				info[n.ASN] = bgpwatch.ASNInfo{ASN: n.ASN, Name: n.Name, Country: n.Country, Access: n.Access}
			}
			d := New(DefaultConfig(), func(a bgpwatch.ASN) bgpwatch.ASNInfo {
				if i, ok := info[a]; ok {
					return i
				}
				return bgpwatch.ASNInfo{ASN: a, Access: bgpwatch.AccessUnknown}
			})
			var trs []Transition
			for _, b := range binsFromTruth(t, &tr) {
				trs = append(trs, d.Observe(b)...)
			}
			found := final(trs)
			used := make([]bool, len(found))
			near := func(a, b time.Time) bool { return a.Sub(b).Abs() <= tol }
			for _, want := range tr.Events {
				ok := false
				for i, e := range found {
					if used[i] || e.Scope != want.Scope || e.Country != want.Country ||
						(want.Scope == bgpwatch.ScopeASN && e.ASN != want.ASN) || !near(e.StartedAt, want.StartedAt) {
						continue
					}
					if (want.EndedAt == nil) != e.EndedAt.IsZero() || (want.EndedAt != nil && !near(e.EndedAt, *want.EndedAt)) {
						continue
					}
					used[i], ok = true, true
					if want.Access != "" && e.Access != want.Access {
						t.Errorf("%s %s AS%d at %s: access %q, want %q", want.Scope, want.Country, want.ASN, want.StartedAt, e.Access, want.Access)
					}
					break
				}
				if !ok {
					t.Errorf("missed: %s %s AS%d %s–%v (%s)", want.Scope, want.Country, want.ASN, want.StartedAt.Format(time.RFC3339), want.EndedAt, want.Note)
				}
			}
			for i, e := range found {
				if !used[i] {
					t.Errorf("unexpected: %s %s AS%d %s–%s drop %.2f", e.Scope, e.Country, e.ASN,
						e.StartedAt.Format(time.RFC3339), e.EndedAt.Format(time.RFC3339), e.DropRatio)
				}
			}
		})
	}
}

// generateScenarios writes the built-in scenarios (all but "scale") into a
// temporary directory, one subdirectory each.
func generateScenarios(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range synth.BuiltinNames() {
		if name == "scale" {
			continue
		}
		sc, err := synth.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := synth.Generate(context.Background(), sc, filepath.Join(dir, name), synth.Options{}); err != nil {
			t.Fatalf("generate %s: %v", name, err)
		}
	}
	return dir
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
