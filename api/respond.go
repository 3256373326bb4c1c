package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

var slogInfo = slog.LevelInfo

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

	gzOnce sync.Once
	gz     []byte
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

func cacheControl(maxAge time.Duration) string {
	return "public, max-age=" + itoa(int(maxAge/time.Second))
}

// gzipped returns the gzip form of the body (nil when it is not worth it).
func (rs *response) gzipped() []byte {
	rs.gzOnce.Do(func() {
		if len(rs.body) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(rs.body) //nolint:errcheck // bytes.Buffer does not fail
		zw.Close()        //nolint:errcheck // bytes.Buffer does not fail
		rs.gz = buf.Bytes()
	})
	return rs.gz
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
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
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
		key := r.URL.Path + "?" + r.URL.RawQuery
		if wantsCSV(r) {
			key += "|csv"
		}
		rs, err := s.cache.get(key, func() (*response, error) {
			rs, err := h(r)
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(rs.body)
			rs.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
			return rs, nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hd := w.Header()
		for k, v := range rs.header {
			hd[k] = v
		}
		hd.Set("ETag", rs.etag)
		hd.Set("Cache-Control", rs.cacheControl)
		hd.Set("Vary", "Accept, Accept-Encoding")
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, rs.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hd.Set("Content-Type", rs.ctype)
		hd.Set("X-Content-Type-Options", "nosniff")
		body := rs.body
		if acceptsGzip(r) {
			if gz := rs.gzipped(); gz != nil {
				hd.Set("Content-Encoding", "gzip")
				body = gz
			}
		}
		hd.Set("Content-Length", itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body) //nolint:errcheck // the client went away
		}
	}
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
// requests for the same key wait for one computation.
type respCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	done    chan struct{}
	rs      *response
	err     error
	expires time.Time
}

const maxCacheEntries = 4096

func newRespCache(ttl time.Duration, now func() time.Time) *respCache {
	return &respCache{ttl: ttl, now: now, entries: make(map[string]*cacheEntry)}
}

// get returns the cached response for key or computes it with f. Errors are
// not cached, but concurrent waiters share them.
func (c *respCache) get(key string, f func() (*response, error)) (*response, error) {
	if c.ttl <= 0 {
		return f()
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok {
		select {
		case <-e.done:
			if e.err == nil && now.Before(e.expires) {
				c.mu.Unlock()
				return e.rs, nil
			}
			ok = false
		default:
			c.mu.Unlock()
			<-e.done
			return e.rs, e.err
		}
	}
	if len(c.entries) >= maxCacheEntries {
		for k, old := range c.entries {
			select {
			case <-old.done:
				if !now.Before(old.expires) || old.err != nil {
					delete(c.entries, k)
				}
			default:
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	e = &cacheEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	func() {
		defer close(e.done)
		defer func() {
			if v := recover(); v != nil {
				e.err = panicError{v}
				panic(v)
			}
		}()
		e.rs, e.err = f()
		e.expires = c.now().Add(c.ttl)
	}()
	if e.err != nil {
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key)
		}
		c.mu.Unlock()
	}
	return e.rs, e.err
}

type panicError struct{ v any }

func (p panicError) Error() string { return "handler panicked" }
