package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bgpwatch/bgpwatch"
)

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// RequestID lets a user quote the failing request in a bug report.
	RequestID string `json:"request_id,omitempty"`
}

// Errors the handlers return for conditions that have no domain sentinel.
var (
	errUnauthorized   = errors.New("unauthorized")
	errAdminDisabled  = errors.New("admin endpoints disabled")
	errUnavailable    = errors.New("not available")
	errDatabase       = errors.New("the database cannot be reached (restarting?); try again shortly")
	errTooLarge       = errors.New("request body too large")
	errRateLimited    = errors.New("rate limited")
	errRouteNotFound  = errors.New("no such route")
	errMethodNotAllow = errors.New("method not allowed")
)

// errorStatus is the one table that maps errors to HTTP status and problem
// type; the first entry whose error matches (errors.Is) wins. Anything not
// listed is an internal error: its text is logged, not shown.
var errorStatus = []struct {
	err    error
	status int
	typ    string
	title  string
}{
	{bgpwatch.ErrInvalid, http.StatusBadRequest, "invalid-request", "Invalid request"},
	{bgpwatch.ErrNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errRouteNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errMethodNotAllow, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	{errUnauthorized, http.StatusUnauthorized, "unauthorized", "Missing or wrong admin token"},
	{errAdminDisabled, http.StatusForbidden, "admin-disabled", "Admin endpoints are disabled"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Request body too large"},
	{errRateLimited, http.StatusTooManyRequests, "rate-limited", "Too many requests"},
	{errUnavailable, http.StatusServiceUnavailable, "unavailable", "Not available"},
	{errDatabase, http.StatusServiceUnavailable, "database-unavailable", "Database unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "The database did not answer in time"},
}

// problemTypeBase prefixes the problem type names.
const problemTypeBase = "https://bgpwatch.dev/problems/"

// problemFor builds the problem for err.
func problemFor(err error) Problem {
	if errors.Is(err, errDatabase) || errors.Is(err, bgpwatch.ErrUnavailable) {
		// The driver's text names sockets and roles: logged, not shown.
		err = errDatabase
	}
	for _, e := range errorStatus {
		if errors.Is(err, e.err) {
			return Problem{Type: problemTypeBase + e.typ, Title: e.title, Status: e.status, Detail: err.Error()}
		}
	}
	return Problem{Type: problemTypeBase + "internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "the server failed to answer; the request id identifies the failure in its log"}
}

// writeError answers with the problem for err and logs server-side failures.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(s.log, w, r, err)
}

// WriteError answers a request with the problem+json document for err, as
// every API error is answered (see errorStatus); a server-side failure
// (5xx) is logged on log, its text not shown. Handlers mounted beside the
// API (the web page) use it so that errors look the same everywhere.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.Instance = r.URL.Path
	p.RequestID = requestID(w)
	if p.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", p.RequestID, "path", r.URL.Path, "err", err)
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	b, _ := json.Marshal(p)
	h := w.Header()
	h.Del("ETag")
	h.Del("Content-Encoding")
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n')) // the client went away
}

// errorf wraps a sentinel with a detail message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
