package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
)

// archiveServer generates a 4-hour archive and serves it in the public
// layouts: RIS under /ris/, RouteViews under /rv/ (route-views2 at its
// root). It counts requests.
func archiveServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	sc, err := synth.Builtin("small")
	if err != nil {
		t.Fatal(err)
	}
	sc.End = sc.Start.Add(4 * time.Hour)
	sc.Happenings, sc.Expect = nil, nil
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), sc, dir, synth.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	fsrv := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/ris/"):
			r.URL.Path = strings.TrimPrefix(p, "/ris")
		case strings.HasPrefix(p, "/rv/bgpdata/"):
			r.URL.Path = "/route-views2" + strings.TrimPrefix(p, "/rv")
		default:
			http.NotFound(w, r)
			return
		}
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFetchCommand(t *testing.T) {
	srv, requests := archiveServer(t)
	cache := t.TempDir()
	base := []string{"fetch", "--collectors", "rrc00,route-views2",
		"--from", "2024-01-01T02:10:00Z", "--to", "2024-01-01T02:40:00Z",
		"--dir", cache, "--ris-url", srv.URL + "/ris", "--routeviews-url", srv.URL + "/rv"}
	want := 1 + 32 + 1 + 3

	type report struct {
		Fetched, Cached, Missing, Failed int
		Files                            []struct{ Status string }
	}
	runJSON := func(t *testing.T, args ...string) (report, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(append([]string{}, base...), args...), nil, &out, &errb); code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var r report
		if strings.Contains(strings.Join(args, " "), "--json") {
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("json: %v: %s", err, out.String())
			}
		}
		return r, out.String() + errb.String()
	}

	t.Run("dry run makes no request", func(t *testing.T) {
		_, out := runJSON(t, "--dry-run")
		if requests.Load() != 0 {
			t.Errorf("%d requests", requests.Load())
		}
		if got := strings.Count(out, "fetch  http"); got != want {
			t.Errorf("dry run lists %d files to fetch, want %d:\n%s", got, want, out)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		r, _ := runJSON(t, "--json")
		if r.Fetched != want || r.Failed != 0 || len(r.Files) != want {
			t.Errorf("report %+v", r)
		}
	})
	t.Run("second run downloads nothing", func(t *testing.T) {
		before := requests.Load()
		r, _ := runJSON(t, "--json")
		if r.Cached != want || r.Fetched != 0 || requests.Load() != before {
			t.Errorf("report %+v, %d requests", r, requests.Load()-before)
		}
	})
	t.Run("replay helper", func(t *testing.T) {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		fs := newFlagSet(e, "replay", "", "")
		a := addArchiveFlags(fs, e, true)
		if err := fs.Parse([]string{"--collectors", "rrc00,route-views2", "--cache-dir", cache,
			"--ris-url", srv.URL + "/ris", "--routeviews-url", srv.URL + "/rv", "--delegations-date", "none"}); err != nil {
			t.Fatal(err)
		}
		from, to := time.Date(2024, 1, 1, 2, 10, 0, 0, time.UTC), time.Date(2024, 1, 1, 2, 40, 0, 0, time.UTC)
		files, dels, err := a.fetchForReplay(context.Background(), e, from, to, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != want || len(dels) != 0 {
			t.Fatalf("%d files, %d delegation files", len(files), len(dels))
		}
		af, err := ingest.Discover(files)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ingest.SelectWindow(af, from, to)); got != want {
			t.Errorf("replay window keeps %d files, want %d", got, want)
		}
		for _, f := range af {
			if f.Collector != "rrc00" && f.Collector != "route-views2" {
				t.Errorf("%s: collector %q", f.Path, f.Collector)
			}
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"fetch"},
			{"fetch", "--collectors", "rrc00"},
			{"fetch", "--collectors", "nope", "--from", "2024-01-01T00:00:00Z", "--to", "2024-01-01T01:00:00Z"},
			{"fetch", "--delegations", "--date", "01/02/2024"},
		} {
			var out, errb bytes.Buffer
			if code := run(context.Background(), args, nil, &out, &errb); code != exitUsage {
				t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
			}
		}
	})
	if _, err := os.Stat(filepath.Join(cache, "route-views2", "bgpdata", "2024.01", "RIBS", "rib.20240101.0200.bz2")); err != nil {
		t.Errorf("cache layout: %v", err)
	}
}

// TestReplayCollectors replays straight from a (local) public-archive layout:
// replay --collectors fetches into the cache, then replays what it fetched;
// a second run downloads nothing and leaves the database as it was.
func TestReplayCollectors(t *testing.T) {
	srv, requests := archiveServer(t)
	db := storetest.New(t)
	cache := t.TempDir()
	args := []string{"replay", "--db", db.Pool().Config().ConnString(), "--json",
		"--collectors", "rrc00,route-views2", "--cache-dir", cache,
		"--from", "2024-01-01T01:00:00Z", "--to", "2024-01-01T03:00:00Z",
		"--ris-url", srv.URL + "/ris", "--routeviews-url", srv.URL + "/rv", "--delegations-date", "none"}
	var first string
	for i := range 2 {
		before := requests.Load()
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitOK {
			t.Fatalf("run %d: exit %d\n%s", i, code, errOut)
		}
		var sum ingest.Summary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("run %d: --json output: %v\n%s", i, err, out)
		}
		if sum.Files < 20 || sum.Pipeline.BinsWritten < 20 || len(sum.Errors) != 0 {
			t.Errorf("run %d: files %d, bins %d, errors %v", i, sum.Files, sum.Pipeline.BinsWritten, sum.Errors)
		}
		if i == 0 {
			first = dumpDB(t, db)
			if requests.Load() == before {
				t.Errorf("first run made no request")
			}
			continue
		}
		if n := requests.Load() - before; n != 0 {
			t.Errorf("second run made %d requests", n)
		}
		if got := dumpDB(t, db); got != first {
			t.Errorf("second replay changed the database: %s", storetest.FirstDiff(first, got))
		}
	}
}
