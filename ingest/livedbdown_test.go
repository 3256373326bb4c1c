package ingest_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// runDriver runs ingest.Live over a pipeline with a clock and ticks that the
// test drives.
type runDriver struct {
	t      *testing.T
	now    atomic.Int64
	in     chan bgpwatch.Observation
	ticks  chan time.Time
	stats  chan ingest.Stats
	cancel context.CancelFunc
	done   chan error
	closed bool
}

func startRun(t *testing.T, p *ingest.Pipeline, t0 time.Time, cfg ingest.LiveConfig) *runDriver {
	d := &runDriver{t: t, in: make(chan bgpwatch.Observation), ticks: make(chan time.Time),
		stats: make(chan ingest.Stats, 1), done: make(chan error, 1)}
	d.now.Store(t0.UnixNano())
	cfg.Ticks = d.ticks
	cfg.Now = func() time.Time { return time.Unix(0, d.now.Load()).UTC() }
	cfg.Publish = func(_ int, st ingest.Stats, _ time.Time) { d.stats <- st }
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	r := ingest.NewLive(p, cfg)
	go func() { d.done <- r.Run(ctx, d.in) }()
	t.Cleanup(d.stop)
	return d
}

// tick sets the clock to at and waits until Run has advanced to it.
func (d *runDriver) tick(at time.Time) ingest.Stats {
	d.t.Helper()
	d.now.Store(at.UnixNano())
	d.ticks <- at
	select {
	case st := <-d.stats:
		return st
	case <-time.After(2 * time.Minute):
		d.t.Fatalf("no tick at %s within 2 minutes", at)
		return ingest.Stats{}
	}
}

// stop ends Run and checks that it wrote what was pending without error.
func (d *runDriver) stop() {
	if d.closed {
		return
	}
	d.closed = true
	d.cancel()
	for {
		select {
		case <-d.stats:
		case err := <-d.done:
			if err != nil {
				d.t.Errorf("Run: %v", err)
			}
			return
		}
	}
}

// announceTwoNetworks has three full-feed peers announce eight /24s of
// two networks at t.
func (d *runDriver) announceTwoNetworks(t time.Time) {
	for i := range 3 {
		peer := bgpwatch.Peer{Collector: "bgp", ASN: bgpwatch.ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}
		for k := range 8 {
			d.in <- bgpwatch.Observation{Time: t, Kind: bgpwatch.Announce, Peer: peer,
				Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(k), 0}), 24), Origin: bgpwatch.ASN(9198 + k%2)}
		}
	}
}

// TestRunLogsOutageOnce runs live ingest at a one-second tick through a
// two-minute database outage: every tick retries the held bin and fails.
// The log must say so once when it starts, remind once a minute, and say
// once that it is over; the held bin must be written at the first tick
// after it.
func TestRunLogsOutageOnce(t *testing.T) {
	db := storetest.New(t)
	t.Cleanup(func() { storetest.SetReachable(t, db, true) })
	var logs storetest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := ingest.New(ingest.Config{
		CountryOf: func(a bgpwatch.ASN) string { return "KZ" },
		Source:    store.SourceLive, FlushBins: 1,
	}, db)
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	d := startRun(t, p, t0, ingest.LiveConfig{Logger: log})
	tick, stop := d.tick, d.stop

	d.announceTwoNetworks(t0.Add(time.Second))
	tick(t0.Add(bgpwatch.BinStep))
	if st := tick(t0.Add(2 * bgpwatch.BinStep)); st.BinsWritten != 2 {
		t.Fatalf("before the outage: %d bins written, want 2", st.BinsWritten)
	}

	storetest.SetReachable(t, db, false)
	down := t0.Add(3 * bgpwatch.BinStep) // closes a bin, which cannot be written
	const failing = 119                  // ticks, one a second
	for i := range failing {
		if st := tick(down.Add(time.Duration(i) * time.Second)); st.BinsWritten != 2 {
			t.Fatalf("%d bins written with the database shut, want 2", st.BinsWritten)
		}
	}
	storetest.SetReachable(t, db, true)
	// The held bin is written at the next tick (a session the outage ended
	// may still be in the pool: a few tries are allowed, all well within
	// a minute of the last reminder).
	written := false
	for i := 0; i < 10 && !written; i++ {
		written = tick(down.Add(failing*time.Second+time.Duration(i)*100*time.Millisecond)).BinsWritten == 3
	}
	if !written {
		t.Fatalf("the held bin was not written after the database came back; log:\n%s", strings.Join(logs.Lines(), "\n"))
	}
	stop()

	var problems, recovered []string
	for _, l := range logs.Lines() {
		switch {
		case !strings.Contains(l, "live pipeline"):
		case strings.Contains(l, "level=WARN"), strings.Contains(l, "level=ERROR"):
			problems = append(problems, l)
		case strings.Contains(l, "recovered"):
			recovered = append(recovered, l)
		}
	}
	t.Logf("%d failing ticks: %d warnings, %d recovery lines:\n%s", failing, len(problems), len(recovered),
		strings.Join(append(problems, recovered...), "\n"))
	// The first failure, and a reminder a minute later.
	if len(problems) != 2 || !strings.Contains(problems[0], "write bins") ||
		!strings.Contains(problems[1], "still failing") || !strings.Contains(problems[1], "failures=61") {
		t.Errorf("warnings during the outage:\n%s\nwant the failure with its error and one reminder after a minute (61 failures)", strings.Join(problems, "\n"))
	}
	if len(recovered) != 1 || !strings.Contains(recovered[0], "level=INFO") || !strings.Contains(recovered[0], "after=") {
		t.Errorf("recovery lines:\n%s\nwant one, at INFO, with the outage's length", strings.Join(recovered, "\n"))
	}
}
