package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bgpwatch/bgpwatch/backfill"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// child is a bgpwatch subprocess (this test binary running run()); its
// output is the buffer.
type child struct {
	cmd *exec.Cmd
	syncbuf.Buffer
}

func (c *child) log() string { return c.String() }

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	a, _ := json.Marshal(args)
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), "BGPWATCH_REPLAY_CHILD="+string(a))
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	})
	return c
}

// history reads every bin's value of every ASN and country, and each bin's
// full-feed count, of [from, to).
func history(t *testing.T, db *store.DB, from, to time.Time) *store.DetectorHistory {
	t.Helper()
	h, err := db.DetectorHistory(context.Background(), store.HistoryQuery{Before: to, Span: to.Sub(from), Source: store.SourceReplay})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Bins) == 0 || len(h.ASNs) == 0 || len(h.Countries) == 0 {
		t.Fatalf("empty history: %d bins", len(h.Bins))
	}
	h.Events, h.LastASNs = nil, nil
	return h
}

// TestBackfillWorkers: a three-day archive of two collectors backfilled by
// three worker processes, one of them killed with kill -9 in the middle of
// a window, stores the series (every bin of every ASN and country) and the
// events of one sequential replay.
func TestBackfillWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (30 s): not with -short")
	}
	dir, truth := scenarioDir(t, "backfill")
	from, to := truth.Start.UTC(), truth.End.UTC()
	seq := storetest.New(t)
	replayScenario(t, seq, "backfill", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))

	db := storetest.New(t)
	url := db.Pool().Config().ConnString()
	args := replayArgs(dir, truth, url)
	args[0] = "backfill"
	args = insertAt(args, len(args)-1, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--max-attempts", "10")
	code, out, errOut := runCLI(t, nil, args...)
	if code != exitOK || !strings.Contains(out, "3 windows queued") {
		t.Fatalf("backfill: exit %d %s %s", code, out, errOut)
	}
	worker := []string{"worker", "--db", url, "--job-timeout", "10s", "--rescue-after", "12s", "--retry-base", "1s"}
	// The first worker is killed as soon as it works on a window.
	first := startChild(t, worker...)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(first.log(), "window started") {
		if time.Now().After(deadline) {
			t.Fatalf("the first worker started no window:\n%s", first.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	if strings.Contains(first.log(), "all windows stored") {
		t.Fatal("the killed worker had finished the run: the test shows nothing")
	}
	others := []*child{startChild(t, worker...), startChild(t, worker...)}
	var st backfill.Status
	deadline = time.Now().Add(4 * time.Minute)
	for {
		ss, err := backfill.Statuses(context.Background(), db.Pool())
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 {
			st = ss[0]
		}
		if st.Done == 3 && st.Detected && st.Running == 0 {
			break
		}
		if time.Now().After(deadline) || st.Failed > 0 {
			t.Fatalf("backfill not done: %+v\nworker 2:\n%s\nworker 3:\n%s", st, others[0].log(), others[1].log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The killed worker's window was taken over (a second attempt).
	var maxAttempt int
	if err := db.Pool().QueryRow(context.Background(), `SELECT max(attempt) FROM river_job WHERE kind = $1`, backfill.WindowArgs{}.Kind()).Scan(&maxAttempt); err != nil || maxAttempt < 2 {
		t.Errorf("no window was attempted twice (%d, %v): the killed worker's window was not rescued", maxAttempt, err)
	}
	code, out, _ = runCLI(t, nil, "backfill", "--db", url, "--status")
	if code != exitOK || !strings.Contains(out, "3 windows: 3 done, 0 running, 0 pending (0 retrying), 0 failed; detected yes") {
		t.Errorf("status: %d %q", code, out)
	}

	// /metrics (serve registers the same collector).
	reg := prometheus.NewRegistry()
	reg.MustRegister(backfill.NewCollector(db.Pool()))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var done, detected float64 = -1, -1
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch {
			case mf.GetName() == "bgpwatch_backfill_windows" && labels["state"] == "done":
				done = m.GetGauge().GetValue()
			case mf.GetName() == "bgpwatch_backfill_detected":
				detected = m.GetGauge().GetValue()
			}
		}
	}
	if done != 3 || detected != 1 {
		t.Errorf("metrics: %v windows done, detected %v", done, detected)
	}

	want, got := history(t, seq, from, to), history(t, db, from, to)
	if !reflect.DeepEqual(want.Bins, got.Bins) || !reflect.DeepEqual(want.FullFeed, got.FullFeed) {
		t.Fatalf("bins or full-feed counts differ: %d vs %d bins", len(want.Bins), len(got.Bins))
	}
	for a, s := range want.ASNs {
		if !reflect.DeepEqual(s, got.ASNs[a]) {
			t.Errorf("AS%d: series differ:\n got %v\nwant %v", a, got.ASNs[a], s)
		}
	}
	for cc, s := range want.Countries {
		if !reflect.DeepEqual(s, got.Countries[cc]) {
			t.Errorf("%s: series differ:\n got %v\nwant %v", cc, got.Countries[cc], s)
		}
	}
	if len(want.ASNs) != len(got.ASNs) || len(want.Countries) != len(got.Countries) {
		t.Errorf("%d ASNs and %d countries, want %d and %d", len(got.ASNs), len(got.Countries), len(want.ASNs), len(want.Countries))
	}
	we, ge := eventRows(t, seq), eventRows(t, db)
	if we != ge {
		t.Errorf("events differ from the sequential replay's: %s", storetest.FirstDiff(we, ge))
	}
	if !strings.Contains(we, "country AM") {
		t.Errorf("the sequential replay found no AM country event:\n%s", we)
	}
}

func insertAt(s []string, i int, v ...string) []string {
	return append(s[:i], append(v, s[i:]...)...)
}

// TestBackfillCollectors: windows queued with --collectors are fetched by
// the worker from the public archives' layout into its cache, and give
// the series of a replay --collectors of the same range.
func TestBackfillCollectors(t *testing.T) {
	srv, requests := archiveServer(t)
	from, to := "2024-01-01T00:00:00Z", "2024-01-01T04:00:00Z"
	src := []string{"--collectors", "rrc00,route-views2", "--ris-url", srv.URL + "/ris", "--routeviews-url", srv.URL + "/rv"}
	// The archive server's scenario's delegation files, for countries.
	dir, truth := scenarioDir(t, "small")
	for _, f := range truth.RIRFiles {
		if strings.Contains(f, "extended") {
			src = append(src, "--delegations", filepath.Join(dir, f))
		}
	}
	seq := storetest.New(t)
	args := append([]string{"replay", "--db", seq.Pool().Config().ConnString(), "--cache-dir", t.TempDir(), "--from", from, "--to", to, "--delegations-date", "none"}, src...)
	if code, _, errOut := runCLI(t, nil, args...); code != exitOK {
		t.Fatalf("replay: %d %s", code, errOut)
	}
	db := storetest.New(t)
	url := db.Pool().Config().ConnString()
	args = append([]string{"backfill", "--db", url, "--from", from, "--to", to}, src...)
	if code, out, errOut := runCLI(t, nil, args...); code != exitOK || !strings.Contains(out, "1 windows queued") {
		t.Fatalf("backfill: %d %s %s", code, out, errOut)
	}
	before := requests.Load()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	cache := t.TempDir()
	go func() {
		code, _, _ := runCLIContext(ctx, t, "worker", "--db", url, "--cache-dir", cache, "-v=false")
		done <- code
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ss, err := backfill.Statuses(context.Background(), db.Pool())
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].Detected && ss[0].Done == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %+v", ss)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("worker exit %d", code)
	}
	if requests.Load() == before {
		t.Error("the worker fetched nothing")
	}
	f, tt := mustTime(t, from), mustTime(t, to)
	want, got := history(t, seq, f, tt), history(t, db, f, tt)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("series differ from replay --collectors: %d vs %d bins, %d vs %d ASNs", len(want.Bins), len(got.Bins), len(want.ASNs), len(got.ASNs))
	}
}

// runCLIContext is runCLI with a context (a command that runs until it ends).
func runCLIContext(ctx context.Context, t *testing.T, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	c := commands[args[0]]
	code := exitCode(e, c.name, c.run(ctx, e, args[1:]))
	return code, out.String(), errb.String()
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWorkerSettings: a worker given --config or settings flags takes only
// windows of runs with the same settings, and gives the others back
// without using an attempt; a worker with the run's settings does them.
func TestWorkerSettings(t *testing.T) {
	dir, truth := scenarioDir(t, "thresholds")
	db := storetest.New(t)
	url := db.Pool().Config().ConnString()
	args := replayArgs(dir, truth, url, "--from", truth.Start.Format(time.RFC3339), "--to", truth.End.Format(time.RFC3339), "--asn-drop", "0.4")
	args[0] = "backfill"
	if code, out, errOut := runCLI(t, nil, args...); code != exitOK || !strings.Contains(out, "1 windows queued") {
		t.Fatalf("backfill: %d %s %s", code, out, errOut)
	}
	work := func(wait func() bool, flags ...string) string {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan string)
		go func() {
			_, _, errOut := runCLIContext(ctx, t, append([]string{"worker", "--db", url}, flags...)...)
			done <- errOut
		}()
		deadline := time.Now().Add(time.Minute)
		for !wait() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		return <-done
	}
	status := func() backfill.Status {
		ss, err := backfill.Statuses(context.Background(), db.Pool())
		if err != nil || len(ss) != 1 {
			t.Fatalf("status %v %v", ss, err)
		}
		return ss[0]
	}
	// Other settings: the window is given back, untouched.
	var snoozed bool
	log := work(func() bool {
		var n int
		db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'scheduled' AND attempt = 0`).Scan(&n)
		snoozed = n == 1
		return snoozed
	}, "--asn-drop", "0.3")
	if st := status(); !snoozed || st.Done != 0 || st.Failed != 0 || !strings.Contains(log, "other settings") {
		t.Fatalf("a worker with other settings: snoozed %v, %+v\n%s", snoozed, st, log)
	}
	// The run's settings, from a file: the window is done.
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("detection: {asn: {drop: 0.4}}\n"), 0o644)
	db.Pool().Exec(context.Background(), `UPDATE river_job SET scheduled_at = now()`) // end the snooze
	log = work(func() bool { return status().Detected }, "--config", file)
	if st := status(); st.Done != 1 || !st.Detected {
		t.Fatalf("a worker with the run's settings: %+v\n%s", st, log)
	}
}
