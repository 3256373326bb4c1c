package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Limits on what a request may ask for.
const (
	maxRange      = 400 * 24 * time.Hour // longest from..to
	maxPoints     = 10000                // most points in one series response
	maxLimit      = 1000                 // most items in one page
	maxCursorLen  = 512
	maxQueryLen   = 2048
	maxBodyBytes  = 64 << 10
	defaultWindow = 7 * 24 * time.Hour
)

func itoa(n int) string { return strconv.Itoa(n) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w "+format, append([]any{bgpwatch.ErrInvalid}, args...)...)
}

// query parses the query string strictly: unknown parameters and repeated
// ones are errors, so typos do not silently widen a result.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	if len(r.URL.RawQuery) > maxQueryLen {
		return nil, invalid("query string: longer than %d bytes", maxQueryLen)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("query string: %v", err)
	}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, invalid("query parameter %q: not known here (known: %v)", k, allowed)
		}
		if len(v) > 1 {
			return nil, invalid("query parameter %q: given %d times", k, len(v))
		}
	}
	return q, nil
}

// parseTime parses an RFC 3339 time ("" gives the zero time).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("%s %q: want an RFC 3339 time such as 2022-01-05T00:00:00Z", name, clip(s))
	}
	if t.Year() < 1990 || t.Year() > 9000 {
		return time.Time{}, invalid("%s %q: year out of range", name, clip(s))
	}
	return t.UTC(), nil
}

// ParseQuery parses the query string of r strictly, as every endpoint of
// the API does: parameters not in allowed and repeated ones are errors
// (wrapping bgpwatch.ErrInvalid), so typos do not silently widen a result.
// Package web parses its chart requests with it.
func ParseQuery(r *http.Request, allowed ...string) (url.Values, error) { return query(r, allowed...) }

// ParseTime parses the RFC 3339 time parameter name ("" gives the zero
// time), as the API does.
func ParseTime(name, s string) (time.Time, error) { return parseTime(name, s) }

// SeriesRange resolves the from and to of a series request (zero when not
// given) as the series endpoints do: without to, the series ends at the
// entity's latest stored bin (from latest; replayed history may be years
// old), or at now when it has none, and never at or before a given from;
// without from it starts 7 days before to. The range must then run
// forwards and be at most 400 days long (else an error wrapping
// bgpwatch.ErrInvalid). Package web's charts take their range from it.
func SeriesRange(from, to time.Time, latest func() (time.Time, bool, error), now time.Time) (time.Time, time.Time, error) {
	if to.IsZero() {
		last, ok, err := latest()
		if err != nil {
			return from, to, err
		}
		to = now.UTC().Truncate(bgpwatch.BinStep)
		if ok {
			to = last
		}
		if !from.IsZero() && !to.After(from) {
			to = from.Add(defaultWindow)
		}
	}
	if from.IsZero() {
		from = to.Add(-defaultWindow)
	}
	if !from.Before(to) {
		return from, to, invalid("range: from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > maxRange {
		return from, to, invalid("range: %s is longer than the %d days allowed", to.Sub(from), int(maxRange/(24*time.Hour)))
	}
	return from, to, nil
}

// parseLimit parses a page size in 1..max (def when empty).
func parseLimit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit %q: want a number from 1 to %d", clip(s), max)
	}
	return n, nil
}

// parseCursor checks that a cursor looks like one of ours (base64url);
// the store validates its content.
func parseCursor(s string) (string, error) {
	if len(s) > maxCursorLen {
		return "", invalid("cursor: too long")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", invalid("cursor %q: not a cursor from this API", clip(s))
		}
	}
	return s, nil
}

// parseID parses a positive decimal id.
func parseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, invalid("%s id %q: want a positive number", what, clip(s))
	}
	return id, nil
}

// clip shortens user input quoted back in errors.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
