package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
)

// scenarios caches generated archives per test process.
var scenarios = struct {
	sync.Mutex
	dirs   map[string]string
	truths map[string]*synth.Truth
}{dirs: map[string]string{}, truths: map[string]*synth.Truth{}}

// scenarioDir generates a built-in scenario once per test binary run.
func scenarioDir(t *testing.T, name string) (string, *synth.Truth) {
	t.Helper()
	scenarios.Lock()
	defer scenarios.Unlock()
	if d, ok := scenarios.dirs[name]; ok {
		return d, scenarios.truths[name]
	}
	// A built-in scenario, or a file of synth/testdata/scenarios.
	sc, err := synth.Builtin(name)
	if err != nil {
		var ferr error
		if sc, ferr = synth.LoadScenario(filepath.Join("..", "..", "synth", "testdata", "scenarios", name+".yaml")); ferr != nil {
			// Or one of this package's own (testdata).
			var lerr error
			if sc, lerr = synth.LoadScenario(filepath.Join("testdata", name+".yaml")); lerr != nil {
				t.Fatalf("%v; %v; %v", err, ferr, lerr)
			}
		}
	}
	dir, err := os.MkdirTemp("", "bgpwatch-replay-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	truth, err := synth.Generate(context.Background(), sc, dir, synth.Options{})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("generate %s: %v", name, err)
	}
	scenarios.dirs[name], scenarios.truths[name] = dir, truth
	return dir, truth
}

func TestMain(m *testing.M) {
	if args := os.Getenv("BGPWATCH_REPLAY_CHILD"); args != "" {
		// Child of TestReplayKill9: run one replay and exit.
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			os.Exit(99)
		}
		os.Exit(run(context.Background(), a, strings.NewReader(""), os.Stdout, os.Stderr))
	}
	code := m.Run()
	for _, d := range scenarios.dirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// replayArgs are the replay arguments for a generated scenario.
func replayArgs(dir string, truth *synth.Truth, url string, extra ...string) []string {
	args := []string{"replay", "--db", url, "--json"}
	for _, f := range truth.RIRFiles {
		if strings.Contains(f, "extended") {
			args = append(args, "--delegations", filepath.Join(dir, f))
		}
	}
	if truth.ASNInfo != "" {
		args = append(args, "--asn-info", filepath.Join(dir, truth.ASNInfo))
	}
	args = append(args, extra...)
	return append(args, dir)
}

func replayScenario(t *testing.T, db *store.DB, name string, extra ...string) (*synth.Truth, *ingest.Summary) {
	t.Helper()
	dir, truth := scenarioDir(t, name)
	code, out, errOut := runCLI(t, nil, replayArgs(dir, truth, db.Pool().Config().ConnString(), extra...)...)
	if code != exitOK {
		t.Fatalf("replay %s: exit %d\n%s", name, code, errOut)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("replay --json output: %v\n%s", err, out)
	}
	return truth, &sum
}

// dumpDB renders the replay's tables by natural keys (surrogate ids and
// bookkeeping timestamps left out), sorted.
func dumpDB(t *testing.T, db *store.DB) string {
	t.Helper()
	const ek = `e.scope, e.country, e.asn, e.started_at`
	queries := []string{
		`SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes, asns FROM country_series ORDER BY 1, 2`,
		`SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series ORDER BY 1, 2`,
		`SELECT ` + ek + `, access, ended_at, baseline_slash24, min_slash24, drop_ratio, alert_area, withdrawn_prefixes, source FROM events e ORDER BY 1, 2, 3, 4`,
		`SELECT ` + ek + `, x.asn, x.baseline_slash24, x.min_slash24 FROM event_asns x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
		`SELECT ` + ek + `, x.prefix, x.origin_asn, x.withdrawn_at FROM event_prefixes x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
		`SELECT ` + ek + `, x.type FROM event_notices x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
		`SELECT asn, name, country, access FROM asns ORDER BY 1`,
	}
	return storetest.Dump(t, db, queries...)
}

// seriesMismatches compares the stored series with the truth, bin by bin.
func seriesMismatches(t *testing.T, db *store.DB, truth *synth.Truth) (checked int, bad []string) {
	return seriesMismatchesIn(t, db, truth, truth.Start, truth.End)
}

// seriesMismatchesIn compares the bins in [lo, hi) only.
func seriesMismatchesIn(t *testing.T, db *store.DB, truth *synth.Truth, lo, hi time.Time) (checked int, bad []string) {
	t.Helper()
	ctx := context.Background()
	cmp := func(what string, want, got []bgpwatch.Point) {
		byTime := map[int64]bgpwatch.Counts{}
		for _, p := range got {
			byTime[p.Time.Unix()] = p.Counts
		}
		for _, w := range want {
			if w.Time.Before(lo) || !w.Time.Before(hi) {
				continue
			}
			checked++
			g, ok := byTime[w.Time.Unix()]
			if !ok || g != w.Counts {
				bad = append(bad, fmt.Sprintf("%s %s: got %+v (stored %v), want %+v", what, w.Time.Format(time.RFC3339), g, ok, w.Counts))
			}
		}
	}
	end := truth.End.Add(-bgpwatch.BinStep)
	for cc := range truth.Series.Countries {
		got := storetest.CountryRows(t, db, cc, truth.Start, end)
		cmp("country "+cc, truth.CountrySeries(cc), got)
	}
	for a := range truth.Series.ASNs {
		asn, err := bgpwatch.ParseASN(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Series(ctx, bgpwatch.SeriesQuery{ASN: asn, From: truth.Start, To: end})
		if err != nil {
			t.Fatal(err)
		}
		cmp("AS"+a, truth.ASNSeries(asn), got)
	}
	return checked, bad
}

// eventScore matches stored events to the truth's: same scope, country and
// ASN, start and end within tolerance.
type eventScore struct {
	expected, found, falsePos int
	maxErr                    time.Duration
	missing, extra            []string
}

func scoreEvents(t *testing.T, db *store.DB, truth *synth.Truth, tol time.Duration) eventScore {
	t.Helper()
	evs, _, err := db.ListEvents(context.Background(), bgpwatch.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	used := make([]bool, len(evs))
	s := eventScore{expected: len(truth.Events)}
	absDur := func(d time.Duration) time.Duration {
		if d < 0 {
			return -d
		}
		return d
	}
	for _, te := range truth.Events {
		match := -1
		var worst time.Duration
		for i, ev := range evs {
			if used[i] || ev.Scope != te.Scope || ev.Country != te.Country || (te.Scope == bgpwatch.ScopeASN && ev.ASN != te.ASN) {
				continue
			}
			ds := absDur(ev.StartedAt.Sub(te.StartedAt))
			de := time.Duration(0)
			switch {
			case te.EndedAt == nil && !ev.EndedAt.IsZero(), te.EndedAt != nil && ev.EndedAt.IsZero():
				continue
			case te.EndedAt != nil:
				de = absDur(ev.EndedAt.Sub(*te.EndedAt))
			}
			if ds <= tol && de <= tol {
				match, worst = i, max(ds, de)
				break
			}
		}
		if match < 0 {
			s.missing = append(s.missing, fmt.Sprintf("%s %s AS%d %s", te.Scope, te.Country, te.ASN, te.StartedAt.Format(time.RFC3339)))
			continue
		}
		used[match] = true
		s.found++
		s.maxErr = max(s.maxErr, worst)
	}
	for i, ev := range evs {
		if !used[i] {
			s.falsePos++
			s.extra = append(s.extra, fmt.Sprintf("%s %s AS%d %s..%s", ev.Scope, ev.Country, ev.ASN,
				ev.StartedAt.Format(time.RFC3339), ev.EndedAt.Format(time.RFC3339)))
		}
	}
	return s
}

func TestReplayScenarios(t *testing.T) {
	tests := []struct {
		scenario string
		long     bool // not with -short
	}{
		{"small", false},
		{"kazakhstan-2022", false},
		{"traps", false},
		{"mobile-only", true},
		{"quiet", true},
		// Timelines the detector was not tuned on (synth/testdata/scenarios):
		// operators withdrawing one after another over two hours, a partial
		// restoration; two countries at once and a 10-minute blip in a third.
		{"iran-2019", true},
		{"two-countries", true},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			if tt.long && testing.Short() {
				t.Skip("long scenario: not with -short")
			}
			db := storetest.New(t)
			truth, sum := replayScenario(t, db, tt.scenario)
			if sum.Observations == 0 || sum.Pipeline.BinsWritten == 0 {
				t.Fatalf("nothing replayed: %+v", sum)
			}
			checked, bad := seriesMismatches(t, db, truth)
			if len(bad) > 0 {
				for _, b := range bad[:min(len(bad), 10)] {
					t.Error(b)
				}
				t.Errorf("%d of %d series points differ from truth.json", len(bad), checked)
			}
			s := scoreEvents(t, db, truth, 10*time.Minute)
			t.Logf("SCENARIO %-16s events expected %d found %d false %d max start/end error %s; series points checked %d, wrong %d; damaged-file errors %d, skipped files %d",
				tt.scenario, s.expected, s.found, s.falsePos, s.maxErr, checked, len(bad), len(sum.Errors), len(sum.Skipped))
			for _, m := range s.missing {
				t.Errorf("missing event: %s", m)
			}
			for _, x := range s.extra {
				t.Errorf("false event: %s", x)
			}
		})
	}
}

func TestReplayTwiceIdentical(t *testing.T) {
	db := storetest.New(t)
	replayScenario(t, db, "small", "--notify")
	first := dumpDB(t, db)
	if !strings.Contains(first, "event.started") {
		t.Fatal("no notices queued with --notify")
	}
	replayScenario(t, db, "small", "--notify")
	if second := dumpDB(t, db); second != first {
		t.Fatalf("second replay changed the database: %s", storetest.FirstDiff(first, second))
	}
}

// TestReplayKill9 kills a replay subprocess midway and checks that running
// the replay again leaves the same database as one uninterrupted replay.
func TestReplayKill9(t *testing.T) {
	clean := storetest.New(t)
	replayScenario(t, clean, "small")
	want := dumpDB(t, clean)

	db := storetest.New(t)
	dir, truth := scenarioDir(t, "small")
	args, _ := json.Marshal(replayArgs(dir, truth, db.Pool().Config().ConnString(), "--flush-bins", "12"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BGPWATCH_REPLAY_CHILD="+string(args))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.Pool().QueryRow(context.Background(), `SELECT count(DISTINCT bin) FROM country_series`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 100 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := cmd.Wait()
	if !killed {
		t.Fatalf("replay ended (%v) before it could be killed", err)
	}
	partial := dumpDB(t, db)
	if partial == want {
		t.Fatal("killed replay already wrote everything; the test proves nothing")
	}
	replayScenario(t, db, "small")
	if got := dumpDB(t, db); got != want {
		t.Fatalf("replay after kill -9 differs from a clean replay: %s", storetest.FirstDiff(want, got))
	}
}

func TestReplayDamageAndStrict(t *testing.T) {
	db := storetest.New(t)
	_, sum := replayScenario(t, db, "small")
	if len(sum.Errors) == 0 {
		t.Fatal("small scenario has a damaged file, but no error was reported")
	}
	for _, e := range sum.Errors {
		if e.File == "" || e.Reason == "" {
			t.Errorf("error without file or reason: %+v", e)
		}
	}
	dir, truth := scenarioDir(t, "small")
	code, _, errOut := runCLI(t, nil, replayArgs(dir, truth, db.Pool().Config().ConnString(), "--strict")...)
	if code != exitFailure || !strings.Contains(errOut, "offset") {
		t.Fatalf("--strict: exit %d (want %d), stderr %q", code, exitFailure, errOut)
	}
}

func TestReplayUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"replay", "--help"}, exitOK},
		{"no path", []string{"replay", "--db", "postgres://x/y"}, exitUsage},
		{"bad from", []string{"replay", "--from", "yesterday", "x"}, exitUsage},
		{"to before from", []string{"replay", "--from", "2022-01-02T00:00:00Z", "--to", "2022-01-01T00:00:00Z", "x"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, nil, tt.args...); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
		})
	}
}

func TestEventsCommand(t *testing.T) {
	db := storetest.New(t)
	replayScenario(t, db, "small")
	url := db.Pool().Config().ConnString()
	code, out, errOut := runCLI(t, nil, "events", "--db", url)
	if code != exitOK || !strings.Contains(out, "AS12298") || !strings.Contains(out, "mobile") {
		t.Fatalf("events: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, nil, "events", "--db", url, "--json", "--asn", "AS12298")
	var page struct {
		Events []struct {
			ASN       uint32  `json:"asn"`
			StartedAt string  `json:"started_at"`
			EndedAt   *string `json:"ended_at"`
		} `json:"events"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &page) != nil || len(page.Events) != 1 || page.Events[0].ASN != 12298 {
		t.Fatalf("events --json: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "events", "--db", url, "--country", "FR")
	if code != exitOK || !strings.Contains(out, "no events") {
		t.Fatalf("events --country FR: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, nil, "events", "--db", url, "--scope", "planet"); code != exitUsage {
		t.Fatalf("bad scope: exit %d", code)
	}
}

func TestReplayFromTo(t *testing.T) {
	db := storetest.New(t)
	_, truth := scenarioDir(t, "small")
	from := truth.Start.Add(12*time.Hour + 30*time.Minute)
	to := from.Add(6 * time.Hour)
	_, sum := replayScenario(t, db, "small", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
	if sum.Pipeline.BinsBeforeFrom == 0 {
		t.Error("no bins computed before --from: the replay did not start from an earlier RIB")
	}
	if want := int(to.Sub(from) / bgpwatch.BinStep); sum.Pipeline.BinsWritten != want {
		t.Errorf("bins written = %d, want %d", sum.Pipeline.BinsWritten, want)
	}
	var outside, keyFrame int
	ctx := context.Background()
	if err := db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM country_series WHERE bin < $1 OR bin >= $2) +
		(SELECT count(*) FROM asn_series WHERE bin < $1 OR bin >= $2)`, from, to).Scan(&outside); err != nil {
		t.Fatal(err)
	}
	if outside != 0 {
		t.Errorf("%d series rows outside [--from, --to)", outside)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM asn_series WHERE bin = $1`, from).Scan(&keyFrame); err != nil {
		t.Fatal(err)
	}
	if keyFrame == 0 {
		t.Error("no key frame at the first written bin")
	}
	// The series inside the window still agree with the truth.
	checked, bad := seriesMismatchesIn(t, db, truth, from, to)
	for _, b := range bad[:min(len(bad), 10)] {
		t.Error(b)
	}
	if len(bad) > 0 || checked == 0 {
		t.Errorf("%d of %d points in the window differ from the truth", len(bad), checked)
	}
}

// TestReplayOverLiveBins: replay refuses to overwrite bins live ingest
// stored, says which and how to force it; --overwrite-live replaces them.
func TestReplayOverLiveBins(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	dir, truth := scenarioDir(t, "small")
	live := truth.Start.Add(20 * time.Hour)
	b := &store.SeriesBatch{From: live, To: live.Add(bgpwatch.BinStep), Source: store.SourceLive}
	for i := range 2 {
		bin := live.Add(time.Duration(i) * bgpwatch.BinStep)
		b.Countries = append(b.Countries, store.CountryPoint{Country: "ZZ", Bin: bin, Counts: bgpwatch.Counts{Slash24: 7}})
		b.Feeds = append(b.Feeds, store.FeedPoint{Bin: bin, FullFeed: 3})
	}
	if err := db.WriteBins(ctx, b); err != nil {
		t.Fatal(err)
	}
	args := replayArgs(dir, truth, db.Pool().Config().ConnString())
	code, _, errOut := runCLI(t, nil, args...)
	want := "2 bins from " + live.UTC().Format(time.RFC3339) + " to " + live.Add(bgpwatch.BinStep).UTC().Format(time.RFC3339) + " were written by live ingest"
	if code == exitOK || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--overwrite-live") {
		t.Fatalf("replay over live bins: exit %d, want a failure saying %q and naming --overwrite-live:\n%s", code, want, errOut)
	}
	t.Logf("refused: %s", strings.TrimSpace(errOut[strings.LastIndex(strings.TrimSpace(errOut), "\n")+1:]))
	var zz, before int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM country_series WHERE country = 'ZZ'`).Scan(&zz); err != nil || zz != 2 {
		t.Errorf("live rows after the refused replay: %d (%v), want 2", zz, err)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(DISTINCT bin) FROM country_series WHERE bin < $1`, live).Scan(&before); err != nil || before == 0 {
		t.Errorf("replayed bins before the live ones: %d (%v), want them stored", before, err)
	}
	code, _, errOut = runCLI(t, nil, replayArgs(dir, truth, db.Pool().Config().ConnString(), "--overwrite-live")...)
	if code != exitOK {
		t.Fatalf("replay --overwrite-live: exit %d\n%s", code, errOut)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM country_series WHERE country = 'ZZ'`).Scan(&zz); err != nil || zz != 0 {
		t.Errorf("live rows after replay --overwrite-live: %d (%v), want 0", zz, err)
	}
}

// TestReplayWithoutDelegations: without RIR files no ASN has a country;
// replay still writes the ASN series and says what is missing.
func TestReplayWithoutDelegations(t *testing.T) {
	db := storetest.New(t)
	dir, _ := scenarioDir(t, "small")
	code, out, errOut := runCLI(t, nil, "replay", "--db", db.Pool().Config().ConnString(), "--json", filepath.Join(dir, "rrc00"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "no ASN has a country") || !strings.Contains(errOut, "--delegations") {
		t.Errorf("no warning about the missing delegation files:\n%s", errOut)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	var asnRows, countryRows int
	if err := db.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM asn_series), (SELECT count(*) FROM country_series)`).Scan(&asnRows, &countryRows); err != nil {
		t.Fatal(err)
	}
	if asnRows == 0 || countryRows != 0 || sum.Pipeline.BinsWritten == 0 {
		t.Errorf("asn rows %d, country rows %d, bins %d", asnRows, countryRows, sum.Pipeline.BinsWritten)
	}
}

// TestReplaySymlinkedArchive replays an archive made only of symbolic links
// (to the files and directories of a generated one), named on the command
// line through a link to it, with a link loop inside: every file is read,
// and the loop is reported in the summary, not dropped unsaid.
func TestReplaySymlinkedArchive(t *testing.T) {
	db := storetest.New(t)
	_, direct := replayScenario(t, db, "small")
	dir, truth := scenarioDir(t, "small")

	links := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(links, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(links, filepath.Join(links, "loop")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "archive")
	if err := os.Symlink(links, root); err != nil {
		t.Fatal(err)
	}
	args := replayArgs(dir, truth, storetest.New(t).Pool().Config().ConnString())
	args[len(args)-1] = root
	code, out, errOut := runCLI(t, nil, args...)
	if code != exitOK {
		t.Fatalf("replay of links: exit %d\n%s", code, errOut)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("replay --json output: %v\n%s", err, out)
	}
	if sum.Files != direct.Files || sum.Observations != direct.Observations {
		t.Errorf("through links: %d files, %d observations; directly: %d files, %d observations",
			sum.Files, sum.Observations, direct.Files, direct.Observations)
	}
	var loop bool
	for _, s := range sum.Skipped {
		if s.File == filepath.Join(root, "loop") && strings.Contains(s.Reason, "symlink loop") {
			loop = true
		}
	}
	if !loop || !strings.Contains(errOut, "symlink loop") {
		t.Errorf("loop not reported: skipped %+v; log %q", sum.Skipped, errOut)
	}
}
