package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// charge, set by the cache when it keeps the response, is told the
	// bytes of the gzip form once it is made.
	charge func(n int)
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
	var buf []byte
	buf = appendCSVRow(buf, header)
	for i := range n {
		buf = appendCSVRow(buf, row(i))
	}
	return &response{ctype: "text/csv; charset=utf-8", body: buf, cacheControl: cacheControl(maxAge)}, nil
}

// appendCSVRow appends one CSV record (RFC 4180 quoting, "\n" line end) to
// b. Every CSV the API writes goes through here, and so through the
// formula-injection rule of csvCell.
func appendCSVRow(b []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVCell(b, f)
	}
	return append(b, '\n')
}

// appendCSVCell appends one cell. A cell that a spreadsheet would take for
// a formula (it starts with =, +, -, @, tab or carriage return) is
// neutralised as OWASP recommends: prefixed with a single quote and
// quoted, so `=HYPERLINK(...)` in a network's self-chosen name shows as
// text. Plain decimal numbers ("-3", "-0.25", "1e-05") are left as they
// are: they are the server's own numeric cells, and a number is never a
// formula. Other cells are quoted only when they need it (comma, quote,
// line break, leading space).
func appendCSVCell(b []byte, f string) []byte {
	if f == "" {
		return b
	}
	formula := f != "" && strings.IndexByte("=+-@\t\r", f[0]) >= 0 && !isCSVNumber(f)
	if !formula && f[0] != ' ' && !strings.ContainsAny(f, ",\"\r\n") {
		return append(b, f...)
	}
	b = append(b, '"')
	if formula {
		b = append(b, '\'')
	}
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		b = append(append(b, f[:i+1]...), '"')
		f = f[i+1:]
	}
	return append(append(b, f...), '"')
}

// isCSVNumber reports whether s is a plain decimal number: an optional
// sign, digits with an optional fraction, an optional exponent.
func isCSVNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
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
		if rs.charge != nil {
			rs.charge(len(rs.gz) + len(rs.gzLenH[0]))
		}
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
//
// Its memory is bounded by bytes, not only by entries: a series of years of
// history is about 1 MB, and clients asking with a different from= each
// would otherwise fill it with gigabytes. Each finished entry is charged
// its key, body, gzip form (when made) and header values plus a fixed
// overhead; when the total passes maxBytes, entries past their stale time
// go first, then the least recently used, down to 7/8 of the budget (so
// that a full cache does not evict on every insert). A response larger
// than the budget on its own is served but not kept.
type respCache struct {
	ttl      time.Duration
	now      func() time.Time
	maxBytes int64

	mu      sync.RWMutex
	entries map[string]*cacheEntry
	bytes   int64 // charged bytes of the entries in the map; guarded by mu

	evictions atomic.Uint64
}

type cacheEntry struct {
	done       chan struct{}
	rs         *response
	err        error
	expires    time.Time
	refreshing bool  // guarded by respCache.mu
	size       int64 // charged bytes, 0 until finished; guarded by respCache.mu
	// used is the last time (Unix ns) the entry answered a request: the
	// hit path stores it atomically under the read lock.
	used atomic.Int64
}

const (
	maxCacheEntries = 4096
	staleFor        = 30 * time.Second
	// DefaultCacheMaxBytes is the response cache's memory budget when
	// Config.CacheMaxBytes is 0.
	DefaultCacheMaxBytes = 32 << 20
	// entryOverhead approximates what an entry costs besides its bytes:
	// map slot, structs, header slices, channel.
	entryOverhead = 512
)

func newRespCache(ttl time.Duration, now func() time.Time, maxBytes int64) *respCache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheMaxBytes
	}
	return &respCache{ttl: ttl, now: now, maxBytes: maxBytes, entries: make(map[string]*cacheEntry)}
}

// CacheStats is the response cache's accounting, for /metrics and tests.
type CacheStats struct {
	Bytes     int64 // charged bytes of the entries kept
	MaxBytes  int64 // the budget
	Entries   int
	Evictions uint64 // entries removed to keep within the budget or the entry limit
}

func (c *respCache) stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Bytes: c.bytes, MaxBytes: c.maxBytes, Entries: len(c.entries), Evictions: c.evictions.Load()}
}

// sizeOf is what an entry of key holding rs is charged.
func sizeOf(key string, rs *response) int64 {
	n := int64(len(key)+len(rs.body)+len(rs.etag)+len(rs.cacheControl)+len(rs.ctype)) + entryOverhead
	for k, v := range rs.header {
		n += int64(len(k))
		for _, x := range v {
			n += int64(len(x))
		}
	}
	return n
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
			e.used.Store(now.UnixNano())
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
				e.used.Store(now.UnixNano())
				c.mu.Unlock()
				return e.rs, nil
			}
			if e.err == nil && now.Before(e.expires.Add(staleFor)) {
				if !e.refreshing {
					e.refreshing = true
					go c.refresh(key, e, f)
				}
				e.used.Store(now.UnixNano())
				c.mu.Unlock()
				return e.rs, nil
			}
		default:
			c.mu.Unlock()
			<-e.done
			return e.rs, e.err
		}
		c.remove(key, e) // past its stale time: computed anew below
	}
	if len(c.entries) >= maxCacheEntries {
		c.evict(now, c.maxBytes)
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
		if e.err == nil {
			// Set before any waiter can see the response.
			e.rs.charge = func(n int) { c.charge(key, e, n) }
		}
	}()
	if e.err != nil {
		c.drop(key, e)
		return e.rs, e.err
	}
	c.admit(key, e)
	return e.rs, e.err
}

// admit charges a finished entry, or removes it when it alone is larger
// than the budget (its waiters have their answer already), and evicts
// others when the total passes the budget.
func (c *respCache) admit(key string, e *cacheEntry) {
	size := sizeOf(key, e.rs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e {
		return
	}
	e.size += size // a gzip form may have been charged already
	c.bytes += size
	if e.size > c.maxBytes {
		c.remove(key, e)
		return
	}
	e.used.Store(c.now().UnixNano())
	if c.bytes > c.maxBytes {
		c.evict(c.now(), c.maxBytes-c.maxBytes/8)
	}
}

// charge adds n bytes (a gzip form made later) to the entry of key, if it
// is still kept.
func (c *respCache) charge(key string, e *cacheEntry, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e {
		return
	}
	e.size += int64(n)
	c.bytes += int64(n)
	if c.bytes > c.maxBytes {
		c.evict(c.now(), c.maxBytes-c.maxBytes/8)
	}
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
	old.refreshing = false
	if err != nil || c.entries[key] != old {
		c.mu.Unlock()
		return
	}
	done := make(chan struct{})
	close(done)
	e := &cacheEntry{done: done, rs: rs, expires: c.now().Add(c.ttl)}
	e.used.Store(old.used.Load())
	rs.charge = func(n int) { c.charge(key, e, n) }
	c.remove(key, old)
	c.entries[key] = e
	c.mu.Unlock()
	c.admit(key, e)
}

func (c *respCache) drop(key string, e *cacheEntry) {
	c.mu.Lock()
	if c.entries[key] == e {
		c.remove(key, e)
	}
	c.mu.Unlock()
}

// remove deletes the entry of key (which must be e) and its charge.
// Callers hold c.mu.
func (c *respCache) remove(key string, e *cacheEntry) {
	delete(c.entries, key)
	c.bytes -= e.size
	e.size = 0
}

// evict brings the cache under maxCacheEntries entries and target bytes:
// first the finished entries past their stale time (or failed), then the
// least recently used finished ones. Entries being computed are never
// evicted (they hold no bytes yet). Callers hold c.mu.
func (c *respCache) evict(now time.Time, target int64) {
	over := func() bool { return len(c.entries) >= maxCacheEntries || c.bytes > target }
	type cand struct {
		key  string
		e    *cacheEntry
		used int64
	}
	var live []cand
	for k, e := range c.entries {
		select {
		case <-e.done:
			if !now.Before(e.expires.Add(staleFor)) || e.err != nil {
				c.remove(k, e)
				c.evictions.Add(1)
			} else {
				live = append(live, cand{k, e, e.used.Load()})
			}
		default:
		}
	}
	if !over() {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].used < live[j].used })
	for _, x := range live {
		if !over() {
			break
		}
		c.remove(x.key, x.e)
		c.evictions.Add(1)
	}
}

type panicError struct{ v any }

func (p panicError) Error() string { return "handler panicked" }
