package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/retry"
)

// Status is what happened to one file.
type Status string

// Statuses of a FileResult.
const (
	StatusFetched Status = "fetched" // downloaded and verified in this run
	StatusCached  Status = "cached"  // already in the cache: no request made
	StatusMissing Status = "missing" // the archive does not have it (404)
	StatusFailed  Status = "failed"  // could not be downloaded or verified
)

// FileResult is the outcome for one Item.
type FileResult struct {
	Item
	// Resolved is the item actually used when the expected name was
	// missing and another one stood in (a RIB written a few minutes off
	// schedule, an earlier delegation file).
	Resolved *Item  `json:"resolved,omitempty"`
	Status   Status `json:"status"`
	Local    string `json:"local,omitempty"` // path of the verified file in the cache
	Bytes    int64  `json:"bytes"`           // bytes downloaded in this run
	Error    string `json:"error,omitempty"`
}

// Report summarises a Fetch.
type Report struct {
	Files          []FileResult  `json:"files"`
	Fetched        int           `json:"fetched"`
	Cached         int           `json:"cached"`
	Missing        int           `json:"missing"`
	Failed         int           `json:"failed"`
	Bytes          int64         `json:"bytes"`
	Requests       int64         `json:"requests"`
	Elapsed        time.Duration `json:"-"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
}

// Progress is a snapshot of a running Fetch.
type Progress struct {
	FilesDone, FilesTotal            int
	Fetched, Cached, Missing, Failed int
	Bytes                            int64 // downloaded so far
	Elapsed                          time.Duration
	Active                           []FileProgress // transfers under way
	Done                             bool
}

// FileProgress is one transfer under way.
type FileProgress struct {
	Name        string
	Done, Total int64 // Total is -1 when unknown
}

// Fetch downloads the items into the cache (see Options) and returns the
// local paths of the verified files in item order, and a report. Files
// already in the cache are used without a request; a file the archive does
// not have is reported as missing and skipped, never fatal. The error is
// non-nil only when ctx ends or the cache cannot be written.
func Fetch(ctx context.Context, o Options, items []Item) ([]string, *Report, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("fetch: cache directory: %w", err)
	}
	f := &fetcher{o: o, active: map[*activeFile]struct{}{}, start: o.Now()}
	res := make([]FileResult, len(items))
	jobs := make(chan int)
	var wg sync.WaitGroup
	stopProg := f.runProgress(len(items))
	for w := 0; w < o.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res[i] = f.one(ctx, items[i])
				f.count(res[i].Status)
			}
		}()
	}
feed:
	for i := range items {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	stopProg()

	rep := &Report{Files: res, Requests: f.requests.Load()}
	var paths []string
	for i := range res {
		r := &res[i]
		if r.Status == "" { // never started: ctx ended
			r.Item = items[i]
			r.Status = StatusFailed
			r.Error = "not started: " + context.Cause(ctx).Error()
		}
		switch r.Status {
		case StatusFetched:
			rep.Fetched++
		case StatusCached:
			rep.Cached++
		case StatusMissing:
			rep.Missing++
		case StatusFailed:
			rep.Failed++
		}
		rep.Bytes += r.Bytes
		if r.Local != "" {
			paths = append(paths, r.Local)
		}
	}
	rep.Elapsed = o.Now().Sub(f.start)
	rep.ElapsedSeconds = rep.Elapsed.Seconds()
	if err := ctx.Err(); err != nil {
		return paths, rep, fmt.Errorf("fetch: %w", err)
	}
	return paths, rep, nil
}

type fetcher struct {
	o        Options
	start    time.Time
	requests atomic.Int64
	bytes    atomic.Int64

	mu                               sync.Mutex
	active                           map[*activeFile]struct{}
	done                             int
	fetched, cached, missing, failed int
}

type activeFile struct {
	name  string
	done  atomic.Int64
	total atomic.Int64
}

func (f *fetcher) count(s Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done++
	switch s {
	case StatusFetched:
		f.fetched++
	case StatusCached:
		f.cached++
	case StatusMissing:
		f.missing++
	default:
		f.failed++
	}
}

func (f *fetcher) snapshot(total int, done bool) Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := Progress{FilesDone: f.done, FilesTotal: total, Fetched: f.fetched, Cached: f.cached,
		Missing: f.missing, Failed: f.failed, Bytes: f.bytes.Load(), Elapsed: f.o.Now().Sub(f.start), Done: done}
	for a := range f.active {
		p.Active = append(p.Active, FileProgress{Name: a.name, Done: a.done.Load(), Total: a.total.Load()})
	}
	return p
}

// runProgress reports progress periodically until the returned stop is
// called, which sends the final report.
func (f *fetcher) runProgress(total int) (stop func()) {
	if f.o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.o.Progress(f.snapshot(total, false))
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		f.o.Progress(f.snapshot(total, true))
	}
}

// local is the cache path of a slash-separated relative path.
func (f *fetcher) local(rel string) string {
	return filepath.Join(f.o.CacheDir, filepath.FromSlash(rel))
}

// missingMark is the hidden file that records a file missing upstream and,
// in its content, the relative path of the item that stood in for it.
func (f *fetcher) missingMark(rel string) string {
	dir, name := path.Split(rel)
	return f.local(path.Join(dir, "."+name+".missing"))
}

// settled says whether a missing file can be remembered as missing: the
// archives fill a gap only while the file is recent.
func (f *fetcher) settled(it Item) bool {
	return it.Time.Before(f.o.Now().Add(-48 * time.Hour))
}

// one gets one item: from the cache, the archive, or a stand-in.
func (f *fetcher) one(ctx context.Context, it Item) FileResult {
	r := FileResult{Item: it}
	if p := f.local(it.Rel); fileExists(p) {
		r.Status, r.Local = StatusCached, p
		return r
	}
	if !f.o.RetryMissing {
		if b, err := os.ReadFile(f.missingMark(it.Rel)); err == nil {
			alt := strings.TrimSpace(string(b))
			if alt != "" {
				if p := f.local(alt); fileExists(p) {
					ai := standIn(it, alt)
					r.Resolved, r.Status, r.Local = &ai, StatusCached, p
					return r
				}
			} else {
				r.Status, r.Error = StatusMissing, "missing upstream (remembered; --retry-missing asks again)"
				return r
			}
		}
	}
	n, err := f.download(ctx, it)
	r.Bytes += n
	if err == nil {
		r.Status, r.Local = StatusFetched, f.local(it.Rel)
		return r
	}
	if !errors.Is(err, ErrNotFound) {
		r.Status, r.Error = StatusFailed, err.Error()
		f.o.Logger.Warn("fetch failed", "file", it.URL, "err", err)
		return r
	}
	// Missing upstream: look for a stand-in.
	alts, aerr := f.alternatives(ctx, it)
	if aerr != nil && ctx.Err() != nil {
		r.Status, r.Error = StatusFailed, aerr.Error()
		return r
	}
	for _, alt := range alts {
		if p := f.local(alt.Rel); fileExists(p) {
			r.Resolved, r.Status, r.Local = &alt, StatusCached, p
			f.markMissing(it, alt.Rel)
			return r
		}
		n, err := f.download(ctx, alt)
		r.Bytes += n
		if err == nil {
			r.Resolved, r.Status, r.Local = &alt, StatusFetched, f.local(alt.Rel)
			f.markMissing(it, alt.Rel)
			return r
		}
		if !errors.Is(err, ErrNotFound) {
			r.Resolved, r.Status, r.Error = &alt, StatusFailed, err.Error()
			f.o.Logger.Warn("fetch failed", "file", alt.URL, "err", err)
			return r
		}
	}
	r.Status, r.Error = StatusMissing, "not found upstream"
	f.o.Logger.Warn("missing upstream, skipped", "file", it.URL)
	f.markMissing(it, "")
	return r
}

func standIn(it Item, rel string) Item {
	ai := it
	ai.Rel = rel
	ai.URL = ""
	return ai
}

func (f *fetcher) markMissing(it Item, alt string) {
	if !f.settled(it) {
		return
	}
	p := f.missingMark(it.Rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		_ = os.WriteFile(p, []byte(alt+"\n"), 0o644)
	}
}

// alternatives lists the items that can stand in for a missing one.
func (f *fetcher) alternatives(ctx context.Context, it Item) ([]Item, error) {
	switch it.Kind {
	case KindRIB:
		return f.ribAlternatives(ctx, it)
	case KindDelegation:
		return f.delegationAlternatives(it), nil
	}
	return nil, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

// errRetry is a transfer failure worth retrying; after says how long the
// server asked us to wait.
type errRetry struct {
	err   error
	after time.Duration
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

// download fetches it.URL into the cache: into a hidden .part file first
// (resumed with a Range request when a previous attempt left one), verified,
// then renamed to the final name. It returns the bytes received.
func (f *fetcher) download(ctx context.Context, it Item) (int64, error) {
	final := f.local(it.Rel)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("cache: %w", err)
	}
	part := filepath.Join(dir, "."+filepath.Base(final)+".part")
	a := &activeFile{name: path.Base(it.Rel)}
	a.total.Store(-1)
	f.mu.Lock()
	f.active[a] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.active, a)
		f.mu.Unlock()
	}()

	var got int64
	badVerify := 0
	for attempt := 0; ; attempt++ {
		n, err := f.transfer(ctx, it.URL, part, a)
		got += n
		if err == nil {
			if verr := verify(it, part, final); verr != nil {
				os.Remove(part)
				badVerify++
				f.o.Logger.Warn("downloaded file failed verification, fetching again", "file", it.URL, "err", verr)
				if badVerify >= 2 {
					return got, fmt.Errorf("%s: %w: %v", it.URL, ErrVerify, verr)
				}
				err = &errRetry{err: verr}
			} else {
				return got, nil
			}
		}
		if errors.Is(err, ErrNotFound) {
			os.Remove(part)
			return got, err
		}
		if ctx.Err() != nil {
			return got, fmt.Errorf("%s: %w", it.URL, context.Cause(ctx))
		}
		var re *errRetry
		if !errors.As(err, &re) || attempt >= f.o.Retries {
			return got, fmt.Errorf("%s: %w", it.URL, err)
		}
		d := retry.Exp(f.o.RetryWait, f.o.MaxRetryWait, attempt+1)
		if re.after > 0 {
			d = min(re.after, f.o.MaxRetryWait)
		}
		if !f.o.Sleep(ctx.Done(), d) {
			return got, fmt.Errorf("%s: %w", it.URL, context.Cause(ctx))
		}
	}
}

// transfer makes one request for url, appending to part when the server
// honours a Range request for the rest, restarting it otherwise.
func (f *fetcher) transfer(ctx context.Context, url, part string, a *activeFile) (int64, error) {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", f.o.UserAgent)
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	f.requests.Add(1)
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return 0, &errRetry{err: err}
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && rangeStart(resp.Header.Get("Content-Range")) == have:
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusPartialContent:
		// Range ignored (or answered from elsewhere): start over.
		flags |= os.O_TRUNC
		if resp.StatusCode == http.StatusPartialContent {
			os.Remove(part)
			return 0, &errRetry{err: fmt.Errorf("unexpected Content-Range %q for offset %d", resp.Header.Get("Content-Range"), have)}
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return 0, nil // the part is already complete; verification decides
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return 0, fmt.Errorf("%s: %w (HTTP %d)", url, ErrNotFound, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, &errRetry{err: fmt.Errorf("HTTP %s", resp.Status), after: retry.After(resp.Header.Get("Retry-After"), f.o.Now())}
	default:
		return 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength >= 0 {
		a.total.Store(have + resp.ContentLength)
	}
	a.done.Store(have)
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, fmt.Errorf("cache: %w", err)
	}
	// A stalled transfer is cut after IdleTimeout and resumed on retry.
	idle := time.AfterFunc(f.o.IdleTimeout, func() { cancel(errors.New("transfer stalled")) })
	defer idle.Stop()
	var n int64
	buf := make([]byte, 64<<10)
	for {
		m, rerr := resp.Body.Read(buf)
		if m > 0 {
			idle.Reset(f.o.IdleTimeout)
			if _, werr := out.Write(buf[:m]); werr != nil {
				out.Close()
				return n, fmt.Errorf("cache: %w", werr)
			}
			n += int64(m)
			a.done.Add(int64(m))
			f.bytes.Add(int64(m))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
				rerr = c
			}
			return n, &errRetry{err: fmt.Errorf("transfer cut after %d bytes: %w", have+n, rerr)}
		}
	}
	if err := out.Close(); err != nil {
		return n, fmt.Errorf("cache: %w", err)
	}
	return n, nil
}

// rangeStart parses the first byte of "bytes a-b/c"; -1 when malformed.
func rangeStart(cr string) int64 {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil {
		return -1
	}
	return v
}
