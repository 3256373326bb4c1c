package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/synth"
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSelect(t *testing.T) {
	o := Options{RISURL: "http://ris.example", RouteViewsURL: "http://rv.example/"}
	tests := []struct {
		name       string
		collectors []string
		from, to   string
		wantFirst  []string // URLs of the first items
		wantCount  int
		wantLast   string
		wantErr    bool
	}{
		{name: "ris mid-period", collectors: []string{"rrc00"}, from: "2022-01-05T09:10:00Z", to: "2022-01-05T09:20:00Z",
			wantFirst: []string{"http://ris.example/rrc00/2022.01/bview.20220105.0800.gz", "http://ris.example/rrc00/2022.01/updates.20220105.0800.gz"},
			wantCount: 1 + 16, wantLast: "http://ris.example/rrc00/2022.01/updates.20220105.0915.gz"},
		{name: "ris exactly at a dump", collectors: []string{"rrc21"}, from: "2022-01-05T16:00:00Z", to: "2022-01-05T16:05:00Z",
			wantFirst: []string{"http://ris.example/rrc21/2022.01/bview.20220105.1600.gz", "http://ris.example/rrc21/2022.01/updates.20220105.1600.gz"},
			wantCount: 2},
		{name: "route-views2 at the root", collectors: []string{"route-views2"}, from: "2022-01-05T03:59:00Z", to: "2022-01-05T04:00:00Z",
			wantFirst: []string{"http://rv.example/bgpdata/2022.01/RIBS/rib.20220105.0200.bz2", "http://rv.example/bgpdata/2022.01/UPDATES/updates.20220105.0200.bz2"},
			wantCount: 1 + 8, wantLast: "http://rv.example/bgpdata/2022.01/UPDATES/updates.20220105.0345.bz2"},
		{name: "other RouteViews collector under its name", collectors: []string{"route-views.linx"}, from: "2022-02-01T00:00:00Z", to: "2022-02-01T00:15:00Z",
			wantFirst: []string{"http://rv.example/route-views.linx/bgpdata/2022.02/RIBS/rib.20220201.0000.bz2", "http://rv.example/route-views.linx/bgpdata/2022.02/UPDATES/updates.20220201.0000.bz2"},
			wantCount: 2},
		{name: "month boundary", collectors: []string{"rrc00"}, from: "2022-02-01T07:00:00Z", to: "2022-02-01T07:01:00Z",
			wantFirst: []string{"http://ris.example/rrc00/2022.02/bview.20220201.0000.gz"}, wantCount: 1 + 85},
		{name: "two collectors interleaved", collectors: []string{"route-views2", "rrc00"}, from: "2022-01-05T08:00:00Z", to: "2022-01-05T08:15:00Z",
			wantFirst: []string{"http://rv.example/bgpdata/2022.01/RIBS/rib.20220105.0800.bz2", "http://ris.example/rrc00/2022.01/bview.20220105.0800.gz", "http://rv.example/bgpdata/2022.01/UPDATES/updates.20220105.0800.bz2", "http://ris.example/rrc00/2022.01/updates.20220105.0800.gz"},
			wantCount: 2 + 1 + 3},
		{name: "unknown collector", collectors: []string{"rrc00", "bogus"}, from: "2022-01-05T08:00:00Z", to: "2022-01-05T08:15:00Z", wantErr: true},
		{name: "empty range", collectors: []string{"rrc00"}, from: "2022-01-05T08:00:00Z", to: "2022-01-05T08:00:00Z", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Select(o, tc.collectors, ts(t, tc.from), ts(t, tc.to))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %d items", len(items))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != tc.wantCount {
				t.Errorf("got %d items, want %d", len(items), tc.wantCount)
			}
			for i, u := range tc.wantFirst {
				if i >= len(items) || items[i].URL != u {
					t.Fatalf("item %d: got %+v, want %s", i, items[min(i, len(items)-1)], u)
				}
			}
			if tc.wantLast != "" && items[len(items)-1].URL != tc.wantLast {
				t.Errorf("last item %s, want %s", items[len(items)-1].URL, tc.wantLast)
			}
			for _, it := range items {
				if !strings.HasPrefix(it.Rel, it.Collector+"/") || strings.Contains(it.Rel, "..") {
					t.Errorf("cache path %q not under the collector %q", it.Rel, it.Collector)
				}
			}
		})
	}
}

func TestRangeStart(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"bytes 100-199/200", 100}, {"bytes */200", -1}, {"", -1}} {
		if got := rangeStart(tc.in); got != tc.want {
			t.Errorf("rangeStart(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// genArchive is a generated scenario, generated once for all tests.
var genArchive struct {
	once sync.Once
	dir  string
	err  error
}

// generated returns the directory of a small generated archive (rrc00 and
// route-views2, 2024-01-01 00:00 to 04:00).
func generated(t testing.TB) string {
	t.Helper()
	genArchive.once.Do(func() {
		sc, err := synth.Builtin("small")
		if err != nil {
			genArchive.err = err
			return
		}
		sc.End = sc.Start.Add(4 * time.Hour)
		sc.Happenings = nil
		sc.Expect = nil
		dir, err := os.MkdirTemp("", "fetch-archive-")
		if err != nil {
			genArchive.err = err
			return
		}
		genArchive.dir = dir
		_, genArchive.err = synth.Generate(context.Background(), sc, dir, synth.Options{Workers: 2})
	})
	if genArchive.err != nil {
		t.Fatalf("generate archive: %v", genArchive.err)
	}
	return genArchive.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if genArchive.dir != "" {
		os.RemoveAll(genArchive.dir)
	}
	os.Exit(code)
}

// server serves a generated archive in the real layouts: RIS under /ris/,
// RouteViews under /rv/ (route-views2 at its root), the RIRs under /rir/
// with their real paths, with faults injected per path.
type server struct {
	t   *testing.T
	dir string
	srv *httptest.Server

	mu       sync.Mutex
	requests map[string]int // by path
	ranges   int            // requests with a Range header
	cut      map[string]bool
	corrupt  map[string]int // serve damaged content this many times
	missing  map[string]bool
	noRange  bool
	busy     map[string]int // answer 503 with Retry-After this many times
}

func newServer(t *testing.T, dir string) *server {
	s := &server{t: t, dir: dir, requests: map[string]int{}, cut: map[string]bool{},
		corrupt: map[string]int{}, missing: map[string]bool{}, busy: map[string]int{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) options(cache string) Options {
	regs, err := MirrorRegistries(s.srv.URL+"/rir", DefaultRegistries())
	if err != nil {
		s.t.Fatal(err)
	}
	return Options{RISURL: s.srv.URL + "/ris", RouteViewsURL: s.srv.URL + "/rv", Registries: regs, CacheDir: cache,
		UserAgent: "bgpwatch/test", RetryWait: time.Millisecond, Parallel: 3}
}

func (s *server) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[p]
}

func (s *server) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.requests {
		n += v
	}
	return n
}

var delegRE = regexp.MustCompile(`^delegated-(\w+)-extended-(\d{8})(\.gz|\.bz2)?$`)

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "bgpwatch/") {
		http.Error(w, "no user agent", http.StatusForbidden)
		return
	}
	p := r.URL.Path
	s.mu.Lock()
	s.requests[p]++
	if r.Header.Get("Range") != "" {
		s.ranges++
	}
	cut := s.cut[p]
	delete(s.cut, p)
	corrupt := s.corrupt[p] > 0
	s.corrupt[p]--
	missing := s.missing[p]
	noRange := s.noRange
	busy := s.busy[p] > 0
	s.busy[p]--
	s.mu.Unlock()
	if missing {
		http.NotFound(w, r)
		return
	}
	if busy {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var local string
	switch {
	case strings.HasPrefix(p, "/ris/"):
		local = filepath.Join(s.dir, filepath.FromSlash(strings.TrimPrefix(p, "/ris/")))
	case strings.HasPrefix(p, "/rv/bgpdata/"):
		local = filepath.Join(s.dir, "route-views2", filepath.FromSlash(strings.TrimPrefix(p, "/rv/")))
	case strings.HasPrefix(p, "/rv/"):
		local = filepath.Join(s.dir, filepath.FromSlash(strings.TrimPrefix(p, "/rv/")))
	case strings.HasPrefix(p, "/rir/"):
		s.serveDelegation(w, r, p)
		return
	default:
		http.NotFound(w, r)
		return
	}
	if st, err := os.Stat(local); err == nil && st.IsDir() {
		http.ServeFile(w, r, local) // an HTML index page
		return
	}
	body, err := os.ReadFile(local)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if noRange {
		r.Header.Del("Range")
	}
	switch {
	case cut:
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops midway
	case corrupt:
		bad := bytes.Clone(body)
		for i := len(bad) / 3; i < len(bad)/3+16 && i < len(bad); i++ {
			bad[i] ^= 0x5a
		}
		body = bad
	}
	http.ServeContent(w, r, path.Base(local), time.Time{}, bytes.NewReader(body))
}

// serveDelegation answers /rir/<real path> from the generated registry
// files, compressing them as the real registry does.
func (s *server) serveDelegation(w http.ResponseWriter, r *http.Request, p string) {
	m := delegRE.FindStringSubmatch(path.Base(p))
	if m == nil {
		http.NotFound(w, r)
		return
	}
	body, err := os.ReadFile(filepath.Join(s.dir, "rir", "delegated-"+m[1]+"-extended-"+m[2]))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch m[3] {
	case ".gz":
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	case ".bz2":
		cmd := exec.Command("bzip2", "-c")
		if bin, err := exec.LookPath("lbzip2"); err == nil {
			cmd = exec.Command(bin, "-c")
		}
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.Output()
		if err != nil {
			http.Error(w, "no bzip2: "+err.Error(), http.StatusInternalServerError)
			return
		}
		body = out
	}
	http.ServeContent(w, r, path.Base(p), time.Time{}, bytes.NewReader(body))
}

func statuses(rep *Report) map[Status]int {
	m := map[Status]int{}
	for _, f := range rep.Files {
		m[f.Status]++
	}
	return m
}

func TestFetchArchive(t *testing.T) {
	dir := generated(t)
	s := newServer(t, dir)
	cache := t.TempDir()
	o := s.options(cache)
	from, to := ts(t, "2024-01-01T02:10:00Z"), ts(t, "2024-01-01T02:40:00Z")
	items, err := Select(o, []string{"rrc00", "route-views2"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	// rrc00: bview 0000 + updates 0000..0235 (32); route-views2: rib 0200 + updates 0200..0230 (3).
	if want := 1 + 32 + 1 + 3; len(items) != want {
		t.Fatalf("selected %d files, want %d", len(items), want)
	}
	cutPath := "/ris/rrc00/2024.01/bview.20240101.0000.gz"
	corruptPath := "/rv/bgpdata/2024.01/RIBS/rib.20240101.0200.bz2"
	corruptUpd := "/ris/rrc00/2024.01/updates.20240101.0100.gz"
	missingPath := "/ris/rrc00/2024.01/updates.20240101.0120.gz"
	s.cut[cutPath] = true
	s.corrupt[corruptPath] = 1
	s.corrupt[corruptUpd] = 1
	s.missing[missingPath] = true
	s.busy["/rv/bgpdata/2024.01/UPDATES/updates.20240101.0215.bz2"] = 1

	var progress []Progress
	var pmu sync.Mutex
	o.Progress = func(p Progress) { pmu.Lock(); progress = append(progress, p); pmu.Unlock() }
	o.ProgressEvery = time.Millisecond

	paths, rep, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetched != len(items)-1 || rep.Missing != 1 || rep.Failed != 0 || rep.Cached != 0 {
		t.Fatalf("report: fetched %d cached %d missing %d failed %d; files %+v", rep.Fetched, rep.Cached, rep.Missing, rep.Failed, rep.Files)
	}
	if len(paths) != len(items)-1 {
		t.Errorf("%d paths, want %d", len(paths), len(items)-1)
	}
	for _, f := range rep.Files {
		if f.Status == StatusMissing && !strings.HasSuffix(f.URL, missingPath) {
			t.Errorf("unexpected missing file %s", f.URL)
		}
	}
	t.Run("interrupted download resumed with Range", func(t *testing.T) {
		if n := s.count(cutPath); n != 2 {
			t.Errorf("%s requested %d times, want 2", cutPath, n)
		}
		if s.ranges < 1 {
			t.Errorf("no Range request seen")
		}
	})
	t.Run("corrupt download detected and fetched again", func(t *testing.T) {
		for _, p := range []string{corruptPath, corruptUpd} {
			if n := s.count(p); n != 2 {
				t.Errorf("%s requested %d times, want 2", p, n)
			}
		}
	})
	t.Run("cached files equal the archive and verify", func(t *testing.T) {
		for _, f := range rep.Files {
			if f.Local == "" {
				continue
			}
			got, err := os.ReadFile(f.Local)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Rel)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the archive", f.Rel)
			}
			if err := VerifyMRT(f.Local, path.Ext(f.Local)); err != nil {
				t.Errorf("%s: %v", f.Rel, err)
			}
		}
	})
	t.Run("progress", func(t *testing.T) {
		pmu.Lock()
		defer pmu.Unlock()
		if len(progress) == 0 || !progress[len(progress)-1].Done {
			t.Fatalf("no final progress report")
		}
		last := progress[len(progress)-1]
		if last.FilesDone != len(items) || last.Bytes != rep.Bytes || last.Missing != 1 {
			t.Errorf("final progress %+v, report bytes %d", last, rep.Bytes)
		}
	})
	t.Run("the cache replays like an archive", func(t *testing.T) {
		files, err := ingest.Discover([]string{cache})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(paths) {
			t.Errorf("discover found %d files, fetch returned %d (hidden .part/.missing files must not show)", len(files), len(paths))
		}
		colls := map[string]int{}
		for _, f := range files {
			colls[f.Collector]++
			if f.Kind == ingest.KindUnknown {
				t.Errorf("%s: kind unknown", f.Path)
			}
		}
		if colls["rrc00"] != 32 || colls["route-views2"] != 4 {
			t.Errorf("collectors in cache: %v", colls)
		}
		if sel := ingest.SelectWindow(files, from, to); len(sel) != len(files) {
			t.Errorf("replay window keeps %d of %d fetched files", len(sel), len(files))
		}
	})
	t.Run("second run downloads nothing", func(t *testing.T) {
		before := s.total()
		o.Progress = nil
		paths2, rep2, err := Fetch(context.Background(), o, items)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.total() - before; n != 0 || rep2.Requests != 0 {
			t.Errorf("second run made %d requests (report %d)", n, rep2.Requests)
		}
		if rep2.Cached != len(items)-1 || rep2.Missing != 1 || rep2.Bytes != 0 {
			t.Errorf("second run: %+v", statuses(rep2))
		}
		if len(paths2) != len(paths) {
			t.Errorf("second run %d paths, first %d", len(paths2), len(paths))
		}
		o.RetryMissing = true
		_, rep3, err := Fetch(context.Background(), o, items)
		if err != nil {
			t.Fatal(err)
		}
		if rep3.Requests != 1 || s.count(missingPath) != 2 {
			t.Errorf("--retry-missing: %d requests, missing file asked %d times", rep3.Requests, s.count(missingPath))
		}
	})
}

func TestFetchServerIgnoresRange(t *testing.T) {
	dir := generated(t)
	s := newServer(t, dir)
	s.noRange = true
	p := "/rv/bgpdata/2024.01/RIBS/rib.20240101.0000.bz2"
	s.cut[p] = true
	o := s.options(t.TempDir())
	a, _ := collectorArchiveOf(o, "route-views2")
	items := []Item{a.item("route-views2", KindRIB, ts(t, "2024-01-01T00:00:00Z"))}
	_, rep, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetched != 1 || s.count(p) != 2 {
		t.Fatalf("fetched %d, requests %d: %+v", rep.Fetched, s.count(p), rep.Files)
	}
	// The whole file came again: the bytes received exceed the file size.
	st, _ := os.Stat(rep.Files[0].Local)
	if rep.Bytes <= st.Size() {
		t.Errorf("received %d bytes for a %d-byte file: the restart did not re-download", rep.Bytes, st.Size())
	}
}

func TestFetchCorruptTwiceFails(t *testing.T) {
	dir := generated(t)
	s := newServer(t, dir)
	p := "/ris/rrc00/2024.01/updates.20240101.0005.gz"
	s.corrupt[p] = 100
	o := s.options(t.TempDir())
	a, _ := collectorArchiveOf(o, "rrc00")
	items := []Item{a.item("rrc00", KindUpdates, ts(t, "2024-01-01T00:05:00Z")), a.item("rrc00", KindUpdates, ts(t, "2024-01-01T00:10:00Z"))}
	paths, rep, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || rep.Fetched != 1 || len(paths) != 1 || !strings.Contains(rep.Files[0].Error, "verification") {
		t.Fatalf("report %+v", rep.Files)
	}
	if matches, _ := filepath.Glob(filepath.Join(o.CacheDir, "rrc00", "2024.01", "*0005*")); len(matches) != 0 {
		t.Errorf("a file that failed verification is in the cache: %v", matches)
	}
}

func TestFetchRIBDrift(t *testing.T) {
	dir := generated(t)
	// Rename the 02:00 RIB to 02:02, as collectors sometimes write them.
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	ribs := filepath.Join(src, "route-views2", "bgpdata", "2024.01", "RIBS")
	if err := os.Rename(filepath.Join(ribs, "rib.20240101.0200.bz2"), filepath.Join(ribs, "rib.20240101.0202.bz2")); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, src)
	o := s.options(t.TempDir())
	o.Now = func() time.Time { return ts(t, "2024-06-01T00:00:00Z") }
	items, err := Select(o, []string{"route-views2"}, ts(t, "2024-01-01T02:30:00Z"), ts(t, "2024-01-01T02:31:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Files[0]
	if f.Status != StatusFetched || f.Resolved == nil || !strings.HasSuffix(f.Resolved.Rel, "rib.20240101.0202.bz2") {
		t.Fatalf("RIB: %+v resolved %+v", f, f.Resolved)
	}
	before := s.total()
	_, rep2, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	if s.total() != before || rep2.Cached != len(items) {
		t.Errorf("second run: %d requests, %+v", s.total()-before, statuses(rep2))
	}
}

func TestFetchBackoff(t *testing.T) {
	dir := generated(t)
	s := newServer(t, dir)
	p := "/ris/rrc00/2024.01/updates.20240101.0005.gz"
	s.busy[p] = 2
	o := s.options(t.TempDir())
	var waits []time.Duration
	var mu sync.Mutex
	o.Sleep = func(<-chan struct{}, time.Duration) bool { return true }
	o.Sleep = func(_ <-chan struct{}, d time.Duration) bool {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return true
	}
	a, _ := collectorArchiveOf(o, "rrc00")
	_, rep, err := Fetch(context.Background(), o, []Item{a.item("rrc00", KindUpdates, ts(t, "2024-01-01T00:05:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetched != 1 || s.count(p) != 3 || len(waits) != 2 {
		t.Fatalf("fetched %d after %d requests and waits %v", rep.Fetched, s.count(p), waits)
	}
	o.Retries = -1 // no retries
	s.busy[p] = 1
	o.CacheDir = t.TempDir()
	_, rep, err = Fetch(context.Background(), o, []Item{a.item("rrc00", KindUpdates, ts(t, "2024-01-01T00:05:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Files[0].Error, "503") {
		t.Errorf("without retries: %+v", rep.Files)
	}
}

func TestFetchDelegations(t *testing.T) {
	dir := generated(t)
	if _, err := exec.LookPath("bzip2"); err != nil {
		if _, err := exec.LookPath("lbzip2"); err != nil {
			t.Skip("no bzip2 tool to serve RIPE NCC's .bz2 file")
		}
	}
	s := newServer(t, dir)
	o := s.options(t.TempDir())
	o.Now = func() time.Time { return ts(t, "2024-06-01T00:00:00Z") }
	day := ts(t, "2024-01-01T00:00:00Z")
	// Asked for the 3rd: the generated files are of the 1st, so each
	// registry steps back two days.
	items := SelectDelegations(o, day.AddDate(0, 0, 2))
	if len(items) != 5 {
		t.Fatalf("%d registries", len(items))
	}
	want := map[string]string{
		"ripencc": "/rir/pub/stats/ripencc/2024/delegated-ripencc-extended-20240101.bz2",
		"apnic":   "/rir/stats/apnic/2024/delegated-apnic-extended-20240101.gz",
		"arin":    "/rir/pub/stats/arin/delegated-arin-extended-20240101",
		"lacnic":  "/rir/pub/stats/lacnic/delegated-lacnic-extended-20240101",
		"afrinic": "/rir/pub/stats/afrinic/2024/delegated-afrinic-extended-20240101",
	}
	paths, rep, err := Fetch(context.Background(), o, items)
	if err != nil {
		t.Fatal(err)
	}
	// The generator writes files only for the registries its scenario uses.
	for _, f := range rep.Files {
		gen := fileExists(filepath.Join(dir, "rir", "delegated-"+f.Collector+"-extended-20240101"))
		switch {
		case gen && (f.Status != StatusFetched || f.Resolved == nil || !strings.HasSuffix(f.Resolved.URL, want[f.Collector])):
			t.Errorf("%s: %+v resolved %+v", f.Collector, f, f.Resolved)
		case !gen && f.Status != StatusMissing:
			t.Errorf("%s: %s, want missing", f.Collector, f.Status)
		}
	}
	if len(paths) == 0 {
		t.Fatal("no delegation file fetched")
	}
	for _, p := range paths {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		wantBody, _ := os.ReadFile(filepath.Join(dir, "rir", filepath.Base(p)))
		if !bytes.Equal(got, wantBody) {
			t.Errorf("%s: cached file is not the decompressed original", p)
		}
	}
	before := s.total()
	if _, _, err := Fetch(context.Background(), o, items); err != nil {
		t.Fatal(err)
	}
	if n := s.total() - before; n != 0 {
		t.Errorf("second run made %d requests", n)
	}
}

func TestInstallDelegationRejects(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"html", "<html><body>Not here</body></html>\n"},
		{"empty", ""},
		{"only header", "2|ripencc|1|0|19830705|20240101|+0000\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			part := filepath.Join(d, "p")
			os.WriteFile(part, []byte(tc.body), 0o644)
			if err := installDelegation(part, filepath.Join(d, "final")); err == nil {
				t.Error("accepted")
			}
			if fileExists(filepath.Join(d, "final")) {
				t.Error("final file written")
			}
		})
	}
}

func TestParseIndex(t *testing.T) {
	page := `<html><a href="../">../</a><a href="rib.20220105.0759.bz2">rib</a> <A HREF="/x/bview.20220105.0802.gz">b</A><a href="sub/">s</a></html>`
	got := parseIndex(page)
	want := []string{"rib.20220105.0759.bz2", "bview.20220105.0802.gz"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// The RIS root page (Apache's layout): the collectors' directories.
	page = `<a href="?C=N;O=D">Name</a><a href="/">Parent Directory</a><a href="rrc00/">rrc00/</a> <a href="rrc01/">rrc01/</a>` +
		`<a href="/rrc01/">again</a><a href="https://www.ripe.net/">RIPE</a><a href="README.txt">README</a><a href="../">up</a>` +
		`<a href="https://data.ris.ripe.net/rrc03/">rrc03</a><a href="https://host">bare</a>`
	if got, want := parseSubdirs(page), []string{"rrc00", "rrc01", "rrc03"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseSubdirs: got %v, want %v", got, want)
	}
}

func TestFetchCanceled(t *testing.T) {
	dir := generated(t)
	s := newServer(t, dir)
	o := s.options(t.TempDir())
	items, _ := Select(o, []string{"rrc00"}, ts(t, "2024-01-01T00:00:00Z"), ts(t, "2024-01-01T03:00:00Z"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, rep, err := Fetch(ctx, o, items)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if rep.Fetched+rep.Cached != 0 || rep.Failed != len(items) {
		t.Errorf("after cancel: %+v", statuses(rep))
	}
	_ = io.Discard
}

// BenchmarkVerifyMRT measures verification of a generated RIS RIB dump
// (bytes/s are of the compressed file).
func BenchmarkVerifyMRT(b *testing.B) {
	dir := generated(b)
	for _, name := range []string{"rrc00/2024.01/bview.20240101.0000.gz", "route-views2/bgpdata/2024.01/RIBS/rib.20240101.0000.bz2"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(path.Ext(name), func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if err := VerifyMRT(p, path.Ext(p)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
