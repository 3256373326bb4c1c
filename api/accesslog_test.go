package api

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// slogLine is the line slog.TextHandler writes for e at t.
func slogLine(t *testing.T, at time.Time, e *accessEntry) string {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, nil)
	r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	r.AddAttrs(strAttr("request_id", e.id), strAttr("client", e.client), strAttr("method", e.method),
		strAttr("path", e.path), strAttr("route", e.route), intAttr("status", e.status),
		intAttr("bytes", e.bytes), durAttr("duration", e.duration))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestAccessLineMatchesSlog(t *testing.T) {
	plus5 := time.FixedZone("", 5*3600)
	minus930 := time.FixedZone("", -(9*3600 + 30*60))
	base := time.Date(2022, 1, 5, 12, 30, 0, 0, time.UTC)
	times := []time.Time{
		base, base.Add(999*time.Millisecond + 999999), base.Add(1500 * time.Microsecond),
		base.In(plus5), base.Add(7 * time.Millisecond).In(minus930), base.In(time.Local),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	entries := []accessEntry{
		{"a1b2c3-1", "127.0.0.1", "GET", "/v1/countries/KZ/series", "/v1/countries/{cc}/series", 200, 3280, 1234567 * time.Nanosecond},
		{"", "::1", "HEAD", "/", "unmatched", 404, 0, 0},
		{"x y", "10.0.0.1", "GET", "/v1/events/1 OR 1=1", "unmatched", 400, 170, 2 * time.Second},
		{"id", "203.0.113.9", "DELETE", "/v1/\"quoted\"\\path", "/v1/webhooks/{id}", 204, 0, 12 * time.Microsecond},
		{"id", "192.0.2.1", "GET", "/v1/caf\u00e9/\u2028/\x7f/\x01/\xff", "unmatched", 404, 99, 59 * time.Minute},
		{"id", "192.0.2.1", "GET", "/v1/\u00a0nbsp/\u3000", "unmatched", 404, -1, -5 * time.Millisecond},
	}
	l := newAccessLog(nil)
	n := 0
	for _, at := range times {
		for i := range entries {
			e := &entries[i]
			got := string(l.appendLine(nil, at, e))
			if want := slogLine(t, at, e); got != want {
				t.Errorf("at %v:\n got %q\nwant %q", at, got, want)
			}
			n++
		}
	}
	// The cached second must follow the clock: same second, then the next.
	for _, d := range []time.Duration{0, 400 * time.Millisecond, 1100 * time.Millisecond, 61 * time.Second} {
		at := base.Add(d)
		if got, want := string(l.appendLine(nil, at, &entries[0])), slogLine(t, at, &entries[0]); got != want {
			t.Errorf("at %v: got %q want %q", at, got, want)
		}
	}
	t.Logf("%d lines equal to slog's", n)
}

func FuzzAccessLine(f *testing.F) {
	f.Add("id-1", "127.0.0.1", "GET", "/v1/countries", "/v1/countries", 200, 1000, int64(1234567), int64(1641385800123456789), 0)
	f.Add("", "", "", "", "", 0, 0, int64(0), int64(0), 3600)
	f.Add("a=b", "x\"y", "G T", "/\u00e9\u2028\xff", "r\n", -1, -1, int64(-1), int64(-1), -34200)
	l := newAccessLog(nil)
	f.Fuzz(func(t *testing.T, id, client, method, path, route string, status, size int, dur, unixNano int64, zone int) {
		zone %= 18 * 3600
		at := time.Unix(0, unixNano).In(time.FixedZone("", zone/60*60))
		if at.Year() < 1 || at.Year() > 9999 {
			return // RFC 3339 has four-digit years
		}
		e := &accessEntry{id, client, method, path, route, status, size, time.Duration(dur)}
		if got, want := string(l.appendLine(nil, at, e)), slogLine(t, at, e); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}
