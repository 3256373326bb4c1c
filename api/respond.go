package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

var slogInfo = slog.LevelInfo

// defaultQueryTimeout bounds the database work behind one request when
// Config.QueryTimeout is 0.
const defaultQueryTimeout = 15 * time.Second

func strAttr(k, v string) slog.Attr               { return slog.String(k, v) }
func intAttr(k string, v int) slog.Attr           { return slog.Int(k, v) }
func durAttr(k string, v time.Duration) slog.Attr { return slog.Duration(k, v) }

// response is a finished read response: body, type and validators. The
// gzip form is made once, on first demand, and cached with it.
type response struct {
	ctype        string
	body         []byte
	etag         string
	cacheControl string
	header       http.Header // extra headers (Link, X-Next-Cursor)

	// Header values made once per cached response.
	etagH, cacheH, ctypeH, lenH []string

	gzOnce sync.Once
	gz     []byte
	gzLenH []string
}

// readFunc answers a read request with a response or an error.
type readFunc func(r *http.Request) (*response, error)

// jsonResponse encodes v.
func jsonResponse(v any, maxAge time.Duration) (*response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &response{ctype: "application/json", body: append(b, '\n'), cacheControl: cacheControl(maxAge)}, nil
}

// tableResponse answers a read of a list: CSV when the client asks for it
// (wantsCSV), a header line and then row(i) for i in [0, n), else out as
// JSON.
func tableResponse(r *http.Request, maxAge time.Duration, out any, header []string, n int, row func(i int) []string) (*response, error) {
	if !wantsCSV(r) {
		return jsonResponse(out, maxAge)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(header) // bytes.Buffer
	for i := range n {
		cw.Write(row(i)) // bytes.Buffer
	}
	cw.Flush()
	return &response{ctype: "text/csv; charset=utf-8", body: buf.Bytes(), cacheControl: cacheControl(maxAge)}, nil
}

func cacheControl(maxAge time.Duration) string {
	return "public, max-age=" + itoa(int(maxAge/time.Second))
}

// gzipped returns the gzip form of the body and its Content-Length value
// (nil when it is not worth it).
func (rs *response) gzipped() ([]byte, []string) {
	rs.gzOnce.Do(func() {
		if len(rs.body) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(rs.body) // bytes.Buffer does not fail
		zw.Close()        // bytes.Buffer does not fail
		rs.gz = buf.Bytes()
		rs.gzLenH = []string{itoa(len(rs.gz))}
	})
	return rs.gz, rs.gzLenH
}

// wantsCSV reports whether the client asked for CSV (?format=csv or an
// Accept header preferring text/csv).
func wantsCSV(r *http.Request) bool {
	if !strings.Contains(r.URL.RawQuery, "format") {
		acc := r.Header.Get("Accept")
		return strings.Contains(acc, "text/csv") && !strings.Contains(acc, "application/json")
	}
	if f := r.URL.Query().Get("format"); f != "" {
		return strings.EqualFold(f, "csv")
	}
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "text/csv") && !strings.Contains(acc, "application/json")
}

func acceptsGzip(r *http.Request) bool {
	rest := r.Header.Get("Accept-Encoding")
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// read wraps a read handler with the response cache, ETag and
// If-None-Match (304), Cache-Control and gzip.
func (s *Server) read(h readFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var kb [256]byte
		k := append(kb[:0], r.URL.Path...)
		k = append(append(k, '?'), r.URL.RawQuery...)
		if wantsCSV(r) {
			k = append(k, "|csv"...)
		}
		rs := s.cache.fresh(k)
		var err error
		if rs == nil {
			rs, err = s.compute(string(k), h, r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hd := w.Header()
		for hk, v := range rs.header {
			hd[hk] = v
		}
		hd["Etag"] = rs.etagH
		hd["Cache-Control"] = rs.cacheH
		hd["Vary"] = varyHeader
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, rs.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hd["Content-Type"] = rs.ctypeH
		hd["X-Content-Type-Options"] = nosniff
		body, blen := rs.body, rs.lenH
		if acceptsGzip(r) {
			if gz, gzlen := rs.gzipped(); gz != nil {
				hd["Content-Encoding"] = gzipHeader
				body, blen = gz, gzlen
			}
		}
		hd["Content-Length"] = blen
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body) // the client went away
		}
	}
}

// compute runs h for a cache miss (or an expired entry) of key. The
// computation outlives this request when others wait for it or it
// refreshes the cache in the background: it is detached from the client's
// cancellation, but bounded.
func (s *Server) compute(key string, h readFunc, r *http.Request) (*response, error) {
	return s.cache.get(key, func() (*response, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.queryTimeout)
		defer cancel()
		rs, err := h(r.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(rs.body)
		rs.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		rs.etagH, rs.cacheH, rs.ctypeH = []string{rs.etag}, []string{rs.cacheControl}, []string{rs.ctype}
		rs.lenH = []string{itoa(len(rs.body))}
		return rs, nil
	})
}

func etagMatch(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// respCache keeps finished responses for a short time and makes concurrent
// requests for the same key wait for one computation. An expired entry is
// still served for up to staleFor while one background refresh runs, so a
// busy endpoint never makes its clients wait for the database.
type respCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	done       chan struct{}
	rs         *response
	err        error
	expires    time.Time
	refreshing bool // guarded by respCache.mu
}

const (
	maxCacheEntries = 4096
	staleFor        = 30 * time.Second
)

func newRespCache(ttl time.Duration, now func() time.Time) *respCache {
	return &respCache{ttl: ttl, now: now, entries: make(map[string]*cacheEntry)}
}

// fresh returns the cached response for key when it is there and has not
// expired, else nil: the common case, without allocating or waiting.
func (c *respCache) fresh(key []byte) *response {
	if c.ttl <= 0 {
		return nil
	}
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[string(key)]
	if !ok {
		return nil
	}
	select {
	case <-e.done:
		if e.err == nil && now.Before(e.expires) {
			return e.rs
		}
	default:
	}
	return nil
}

// get returns the cached response for key or computes it with f. Errors are
// not cached, but concurrent waiters share them.
func (c *respCache) get(key string, f func() (*response, error)) (*response, error) {
	if c.ttl <= 0 {
		return f()
	}
	now := c.now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		select {
		case <-e.done:
			if e.err == nil && now.Before(e.expires) {
				c.mu.Unlock()
				return e.rs, nil
			}
			if e.err == nil && now.Before(e.expires.Add(staleFor)) {
				if !e.refreshing {
					e.refreshing = true
					go c.refresh(key, e, f)
				}
				c.mu.Unlock()
				return e.rs, nil
			}
		default:
			c.mu.Unlock()
			<-e.done
			return e.rs, e.err
		}
	}
	if len(c.entries) >= maxCacheEntries {
		c.evict(now)
	}
	e := &cacheEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	func() {
		defer close(e.done)
		defer func() {
			if v := recover(); v != nil {
				e.err = panicError{v}
				c.drop(key, e)
				panic(v)
			}
		}()
		e.rs, e.err = f()
		e.expires = c.now().Add(c.ttl)
	}()
	if e.err != nil {
		c.drop(key, e)
	}
	return e.rs, e.err
}

// refresh recomputes an expired entry in the background; on failure the
// stale entry stays and the next request tries again.
func (c *respCache) refresh(key string, old *cacheEntry, f func() (*response, error)) {
	var rs *response
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = panicError{v}
			}
		}()
		rs, err = f()
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	old.refreshing = false
	if err != nil || c.entries[key] != old {
		return
	}
	done := make(chan struct{})
	close(done)
	c.entries[key] = &cacheEntry{done: done, rs: rs, expires: c.now().Add(c.ttl)}
}

func (c *respCache) drop(key string, e *cacheEntry) {
	c.mu.Lock()
	if c.entries[key] == e {
		delete(c.entries, key)
	}
	c.mu.Unlock()
}

// evict removes finished entries past their stale time, or everything
// finished when that is not enough. Callers hold c.mu.
func (c *respCache) evict(now time.Time) {
	for k, e := range c.entries {
		select {
		case <-e.done:
			if !now.Before(e.expires.Add(staleFor)) || e.err != nil {
				delete(c.entries, k)
			}
		default:
		}
	}
	if len(c.entries) < maxCacheEntries {
		return
	}
	for k, e := range c.entries {
		select {
		case <-e.done:
			delete(c.entries, k)
		default:
		}
	}
}

type panicError struct{ v any }

func (p panicError) Error() string { return "handler panicked" }
