package logthrottle_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
)

func TestOutage(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	down := errors.New("connection refused")
	// A try is at a time in seconds; it failed when err is set.
	type try struct {
		at  float64
		err error
	}
	fails := func(from, to, step float64) []try {
		var ts []try
		for s := from; s <= to; s += step {
			ts = append(ts, try{s, down})
		}
		return ts
	}
	tests := []struct {
		name  string
		every time.Duration
		tries []try
		want  []string // level, message and attributes of each line, in order
	}{
		{"never failing", time.Minute, []try{{0, nil}, {1, nil}}, nil},
		{"one failure", time.Minute, []try{{0, nil}, {1, down}, {2, nil}, {3, nil}}, []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=INFO msg="db: recovered" after=1s failures=1`,
		}},
		{"two minutes at one try a second", time.Minute, append(fails(10, 129, 1), try{130, nil}), []string{ // 120 failures
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:10.000Z failures=61 err="connection refused"`,
			`level=INFO msg="db: recovered" after=2m0s failures=120`,
		}},
		{"three minutes, a reminder a minute", time.Minute, append(fails(0, 180, 1), try{181, nil}), []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:00.000Z failures=61 err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:00.000Z failures=121 err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:00.000Z failures=181 err="connection refused"`,
			`level=INFO msg="db: recovered" after=3m1s failures=181`,
		}},
		{"reminder counted from the last line, not from the start", time.Minute, []try{{0, down}, {59, down}, {90, down}, {149, down}, {150, down}}, []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:00.000Z failures=3 err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:00:00.000Z failures=5 err="connection refused"`,
		}},
		{"two outages", time.Minute, []try{{0, down}, {1, down}, {2, nil}, {3, nil}, {100, down}, {101.5, nil}}, []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=INFO msg="db: recovered" after=2s failures=2`,
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=INFO msg="db: recovered" after=1.5s failures=1`,
		}},
		{"no reminders", 0, append(fails(0, 600, 1), try{601, nil}), []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=INFO msg="db: recovered" after=10m1s failures=601`,
		}},
		{"a clock that steps back", time.Minute, []try{{100, down}, {0, down}, {50, down}, {160, down}}, []string{
			`level=WARN msg="db: failing" err="connection refused"`,
			`level=WARN msg="db: still failing" since=2024-03-01T08:01:40.000Z failures=4 err="connection refused"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			o := logthrottle.New(log, slog.LevelWarn, "db", tt.every)
			for _, tr := range tt.tries {
				if tr.err != nil {
					o.Fail(at(tr.at), tr.err)
				} else {
					o.OK(at(tr.at))
				}
			}
			var got []string
			if s := strings.TrimSpace(buf.String()); s != "" {
				got = strings.Split(s, "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestOutageLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	o := logthrottle.New(log, slog.LevelError, "webhook: claim", time.Minute)
	t0 := time.Now()
	o.Fail(t0, errors.New("x"))
	o.Fail(t0.Add(time.Minute), errors.New("y"))
	o.OK(t0.Add(2 * time.Minute))
	out := buf.String()
	if strings.Count(out, "level=ERROR") != 2 || strings.Contains(out, "recovered") {
		t.Errorf("with a logger at ERROR, want the failure and the reminder at ERROR and the recovery (INFO) dropped; log:\n%s", out)
	}
}
