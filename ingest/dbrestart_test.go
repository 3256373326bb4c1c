package ingest_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// liveDriver runs a pipeline under ingest.Live, as serve does, with the wall
// clock and the ticker replaced: every channel is unbuffered, so
// observations and ticks reach the pipeline in the order they are sent.
type liveDriver struct {
	t      *testing.T
	w      *liveWorld
	p      *ingest.Pipeline
	now    atomic.Int64 // unix nanoseconds
	in     chan bgpwatch.Observation
	ticks  chan time.Time
	stats  chan ingest.Stats
	done   chan error
	cancel context.CancelFunc
}

func (w *liveWorld) drive(t *testing.T, db *store.DB, log *slog.Logger) *liveDriver {
	d := &liveDriver{t: t, w: w, in: make(chan bgpwatch.Observation), ticks: make(chan time.Time),
		stats: make(chan ingest.Stats, 1), done: make(chan error, 1)}
	d.p = ingest.New(ingest.Config{
		Visibility: visibility.DefaultConfig(), // as serve: visible when seen by more than half the peers
		CountryOf:  func(a bgpwatch.ASN) string { return w.country[a] },
		Source:     store.SourceLive, Notify: true, FlushBins: 1, Logger: log,
		History: db,
	}, db)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		d.done <- ingest.NewLive(d.p, ingest.LiveConfig{
			Ticks:   d.ticks,
			Now:     func() time.Time { return time.Unix(0, d.now.Load()).UTC() },
			Publish: func(_ int, st ingest.Stats, _ time.Time) { d.stats <- st },
			Logger:  log,
		}).Run(ctx, d.in)
	}()
	t.Cleanup(func() { d.stop() })
	return d
}

// send sets the clock to at and has the peers announce or withdraw the
// prefixes of the ASNs.
func (d *liveDriver) send(at time.Time, kind bgpwatch.ObservationKind, peers []bgpwatch.Peer, asns ...bgpwatch.ASN) {
	d.now.Store(at.UnixNano())
	for _, peer := range peers {
		for _, a := range asns {
			for _, pf := range d.w.prefixes[a] {
				d.in <- bgpwatch.Observation{Time: at, Kind: kind, Peer: peer, Prefix: pf, Origin: a}
			}
		}
	}
}

// tick sets the clock to at, lets the pipeline advance to it and waits
// until it has.
func (d *liveDriver) tick(at time.Time) ingest.Stats {
	d.t.Helper()
	d.now.Store(at.UnixNano())
	d.ticks <- at
	select {
	case st := <-d.stats:
		return st
	case <-time.After(2 * time.Minute):
		d.t.Fatalf("the pipeline did not finish its tick at %s within 2 minutes", at)
		return ingest.Stats{}
	}
}

// run ticks every bin boundary in (from, to].
func (d *liveDriver) run(from, to time.Time) ingest.Stats {
	d.t.Helper()
	var st ingest.Stats
	for t := from.Add(bgpwatch.BinStep); !t.After(to); t = t.Add(bgpwatch.BinStep) {
		st = d.tick(t)
	}
	return st
}

// stop ends ingest.Live (which writes what is pending) and returns its error.
func (d *liveDriver) stop() error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	d.cancel = nil
	for {
		select {
		case <-d.stats:
		case err := <-d.done:
			return err
		}
	}
}

// dumpLive renders what live ingest stored, without generated ids and
// bookkeeping times, so that two databases can be compared.
func dumpLive(t *testing.T, db *store.DB) string {
	return storetest.Dump(t, db,
		`SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes, asns FROM country_series ORDER BY 1, 2`,
		`SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series ORDER BY 1, 2`,
		`SELECT scope, country, asn, access, started_at, ended_at, baseline_slash24, min_slash24, drop_ratio,
		        withdrawn_prefixes, source FROM events ORDER BY 1, 2, 3, 5`,
		`SELECT e.scope, e.asn, e.started_at, a.asn, a.baseline_slash24, a.min_slash24
		   FROM event_asns a JOIN events e ON e.id = a.event_id ORDER BY 1, 2, 3, 4`,
		`SELECT e.scope, e.asn, e.started_at, p.prefix, p.origin_asn, p.withdrawn_at
		   FROM event_prefixes p JOIN events e ON e.id = p.event_id ORDER BY 1, 2, 3, 4`,
		`SELECT e.scope, e.asn, e.started_at, n.type FROM event_notices n JOIN events e ON e.id = n.event_id ORDER BY 1, 2, 3, 4`,
	)
}

// TestDBRestartLivePipeline stops PostgreSQL under live ingest for eight
// bins, during which bins close and a KZ network withdraws its space from
// two of the three peers (the first withdrawal arriving before the tick,
// so that it closes a bin; each one decides whether its prefix stays
// visible), and
// starts it again, fast (pg_ctl -m fast) and as after a crash (-m
// immediate). Nothing may panic, the failures must be logged, and the
// first tick after the restart must store exactly what a run without the
// outage stores: every bin, the two events once each, one event.started
// notice each.
func TestDBRestartLivePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts private PostgreSQL servers")
	}
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	down := t0.Add(3 * time.Hour)                     // stopped after the 11:00 tick
	drop := down.Add(10*time.Minute + 30*time.Second) // 11:10:30, no tick at 11:10
	up := down.Add(40 * time.Minute)                  // started before the 11:40 tick
	end := up.Add(15 * time.Minute)
	w := newLiveWorld()

	// scenario runs the input; stopDB and startDB frame the outage. It
	// returns the stats at the outage's start, its last tick, and the
	// first tick after it, and how long that tick took.
	scenario := func(t *testing.T, db *store.DB, log *slog.Logger, stopDB, startDB func()) (atDown, before, after ingest.Stats, recovery time.Duration) {
		d := w.drive(t, db, log)
		d.send(t0.Add(time.Second), bgpwatch.Announce, w.peers, all...)
		atDown = d.run(t0, down)
		stopDB()
		d.tick(down.Add(bgpwatch.BinStep))
		// No tick at 11:10: the first withdrawal closes the 11:05 bin.
		d.send(drop, bgpwatch.Withdraw, w.peers[:2], asKZ)
		before = d.run(drop.Truncate(bgpwatch.BinStep), up.Add(-bgpwatch.BinStep))
		startDB()
		back := time.Now()
		after = d.tick(up)
		recovery = time.Since(back)
		d.run(up, end)
		if err := d.stop(); err != nil {
			t.Fatalf("ingest.Live: %v", err)
		}
		return atDown, before, after, recovery
	}

	control := storetest.New(t)
	_, cst, _, _ := scenario(t, control, nil, func() {}, func() {})
	want := dumpLive(t, control)
	if cst.EventsStarted != 2 {
		t.Fatalf("control run: %+v, want two events started (KZ and AS9198)", cst)
	}
	started := drop.Truncate(bgpwatch.BinStep)

	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) {
			pg, db := storetest.StartPrivate(t)
			var logs storetest.SyncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			atDown, before, after, recovery := scenario(t, db, log, func() { pg.Stop(mode) }, pg.Start)
			if before.EventsStarted != 2 || before.EventsSaved != 0 {
				t.Errorf("during the outage: %+v, want the two events started, none saved", before)
			}
			held := int(up.Sub(down) / bgpwatch.BinStep) // 11:00 .. 11:35
			if before.BinsWritten != atDown.BinsWritten || after.BinsWritten != atDown.BinsWritten+held {
				t.Errorf("bins written: %d at the stop, %d at the end of the outage, %d after the first tick; want the %d held bins counted once stored",
					atDown.BinsWritten, before.BinsWritten, after.BinsWritten, held)
			}
			if after.EventsSaved != 2 {
				t.Errorf("after the first tick: %d event saves, want 2", after.EventsSaved)
			}
			t.Logf("server back: the first tick stored the %d bins and 2 events held during the outage in %v (the server being up)",
				after.BinsWritten-before.BinsWritten, recovery.Round(time.Millisecond))

			if got := dumpLive(t, db); got != want {
				t.Errorf("after the restart the database differs from the run without outage: %s",
					storetest.FirstDiff(want, got))
			}
			evs := storedEvents(t, db)
			if len(evs) != 2 {
				t.Fatalf("events %+v, want the AS9198 and the KZ event", evs)
			}
			for _, e := range evs {
				if !e.started.Equal(started) || e.ended != nil || e.started_ != 1 || e.ended_ != 0 {
					t.Errorf("event %+v: want started at %s, ongoing, one event.started notice", e, started)
				}
			}
			// Bins 08:00 .. end-5min (the bin open at the end is not closed).
			wantBins := int(end.Sub(t0) / bgpwatch.BinStep)
			if bins := countRows(t, db, `SELECT count(DISTINCT bin) FROM country_series WHERE country = 'KZ'`); bins != wantBins {
				t.Errorf("%d KZ bins stored, want %d", bins, wantBins)
			}
			out := logs.String()
			var failures []string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "level=WARN") && strings.Contains(l, "live pipeline") {
					failures = append(failures, l)
				}
			}
			if len(failures) == 0 {
				t.Fatalf("no pipeline failure logged during the outage; log:\n%s", out)
			}
			t.Logf("%d failures logged; first: %s", len(failures), failures[0])
			for _, l := range failures {
				if !strings.Contains(l, "write bins") {
					t.Errorf("a failure log line does not say what failed: %s", l)
				}
			}
		})
	}
}
