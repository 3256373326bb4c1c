package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
)

// requestID returns the request's id. It lives in the response header
// only: putting it into the request context too would copy every request.
func requestID(w http.ResponseWriter) string {
	if v := w.Header()["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// validRequestID accepts a caller's X-Request-Id when it is short and plain.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestIDMiddleware gives every response its X-Request-Id, and its Date
// from a once-a-second cache (net/http would format it per response).
func (s *Server) requestIDMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = s.idPrefix + strconv.FormatUint(s.idSeq.Add(1), 36)
		}
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		h["Date"] = s.date.header(time.Now())
		next.ServeHTTP(w, r)
	})
}

// httpDate is the Date header value of the current second.
type httpDate struct {
	cur atomic.Pointer[dateValue]
}

type dateValue struct {
	unix int64
	h    []string // never modified: shared by all responses of that second
}

func (d *httpDate) header(now time.Time) []string {
	sec := now.Unix()
	if v := d.cur.Load(); v != nil && v.unix == sec {
		return v.h
	}
	v := &dateValue{sec, []string{now.UTC().Format(http.TimeFormat)}}
	d.cur.Store(v)
	return v.h
}

// recoverMiddleware turns a handler panic into a 500 problem; the server
// keeps running.
func (s *Server) recoverMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observeMiddleware counts and times requests by route pattern and writes
// the access log.
func (s *Server) observeMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		if sw.status == 0 {
			sw.status = http.StatusOK
		} else if f, ok := w.(http.Flusher); ok {
			// Send the response before the bookkeeping below instead of
			// when this returns: the client does not wait for the log.
			f.Flush()
		}
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" && sw.status != http.StatusNotFound && sw.status != http.StatusMethodNotAllowed {
			route = rc.RoutePattern()
		}
		s.metrics.observeRequest(route, r.Method, sw.status, d)
		if s.cfg.AccessLog && s.access != nil {
			s.access.write(time.Now(), &accessEntry{
				id: requestID(w), client: s.clientIP(r).String(), method: r.Method, path: r.URL.Path,
				route: route, status: sw.status, bytes: sw.bytes, duration: d,
			})
		} else if s.cfg.AccessLog {
			s.log.LogAttrs(r.Context(), slogInfo, "request",
				strAttr("request_id", requestID(w)),
				strAttr("client", s.clientIP(r).String()),
				strAttr("method", r.Method),
				strAttr("path", r.URL.Path),
				strAttr("route", route),
				intAttr("status", sw.status),
				intAttr("bytes", sw.bytes),
				durAttr("duration", d))
		}
	})
}

// Header values set on every response; net/http never modifies them.
var (
	corsOrigin = []string{"*"}
	corsExpose = []string{"ETag, X-Request-Id, X-Next-Cursor, Link"}
	varyHeader = []string{"Accept, Accept-Encoding"}
	nosniff    = []string{"nosniff"}
	gzipHeader = []string{"gzip"}
)

// timeoutMiddleware bounds a request's context by the query timeout: the
// admin endpoints, the health check, metrics and mounted routes (charts)
// give up on a hung database after it. Reads through the cache do not need
// it: they set their own bound (see read), since their work is detached
// from the request, and a cache hit needs no timer.
func (s *Server) timeoutMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// corsMiddleware lets browser tools on any origin read the public API.
// The admin endpoints get no CORS headers, so browsers keep other origins
// out of them.
func (s *Server) corsMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/webhooks") {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h["Access-Control-Allow-Origin"] = corsOrigin
		h["Access-Control-Expose-Headers"] = corsExpose
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Accept, If-None-Match, X-Request-Id")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the remote address, or, when the request comes from a trusted
// proxy, the right-most X-Forwarded-For address that is not a trusted proxy.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	addr = addr.Unmap()
	if !s.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
