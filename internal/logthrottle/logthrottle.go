// Package logthrottle keeps a failure that repeats at every try of a retry
// loop (a database restarting under a ticker or a poll) from flooding the
// log: it is logged once when it starts, as a reminder at most once per
// interval while it lasts, and once when it ends.
package logthrottle

import (
	"context"
	"log/slog"
	"time"
)

// Outage tracks the failures of one retried operation. It is not safe for
// concurrent use: each retry loop has its own.
type Outage struct {
	log   *slog.Logger
	level slog.Level
	msg   string
	every time.Duration

	since  time.Time // first failure of the current outage
	logged time.Time // last line about it
	n      int       // failures since since; 0 when not failing
}

// New returns an Outage that logs to log, the start and the reminders at
// level and the end at Info, each message prefixed by msg. A reminder
// comes at the first failure at least every after the previous line;
// every ≤ 0 means none.
func New(log *slog.Logger, level slog.Level, msg string, every time.Duration) *Outage {
	return &Outage{log: log, level: level, msg: msg, every: every}
}

// Fail records a failed try at now. The first failure of an outage is
// logged with err; later ones only as a reminder, with the start, the
// count and the latest error.
func (o *Outage) Fail(now time.Time, err error) {
	o.n++
	switch {
	case o.n == 1:
		o.since, o.logged = now, now
		o.log.Log(context.Background(), o.level, o.msg+": failing", "err", err)
	case o.every > 0 && now.Sub(o.logged) >= o.every:
		o.logged = now
		o.log.Log(context.Background(), o.level, o.msg+": still failing",
			"since", o.since, "failures", o.n, "err", err)
	}
}

// OK records a successful try at now; it ends an outage, logging how long
// it lasted and how many tries failed.
func (o *Outage) OK(now time.Time) {
	if o.n == 0 {
		return
	}
	o.log.Info(o.msg+": recovered", "after", now.Sub(o.since).Round(time.Millisecond), "failures", o.n)
	o.n = 0
}
