package ingest_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestLiveWatermark drives ingest.Live with data-time feeds and a test
// clock: a bin closes only once every feed is past its end by the
// lateness; a live feed silent for SilentAfter stops holding bins; an
// archive feed that has sent nothing holds every bin until it is done; and
// observations are applied in time order across feeds.
func TestLiveWatermark(t *testing.T) {
	db := storetest.New(t)
	p := ingest.New(ingest.Config{Source: store.SourceLive, FlushBins: 1}, db)
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) // the wall clock is far ahead of the data
	wall := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	ticks := make(chan time.Time)
	stats := make(chan ingest.Stats, 1)
	r := ingest.NewLive(p, ingest.LiveConfig{
		Ticks: ticks, Now: wall, Lateness: 10 * time.Second, SilentAfter: time.Minute,
		Publish: func(_ int, st ingest.Stats, _ time.Time) { stats <- st },
	})
	a, b, archive := r.AddFeed("rrc00"), r.AddFeed("rrc01"), r.AddFeed("archive")
	a.SetLive(true)
	b.SetLive(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	closed := func() int {
		t.Helper()
		ticks <- wall()
		select {
		case st := <-stats:
			return st.BinsWritten + st.BinsNoFeed
		case <-time.After(time.Minute):
			t.Fatal("no tick")
			return 0
		}
	}
	// waitFor ticks until the watermark reaches at least w.
	waitWM := func(w time.Time) {
		t.Helper()
		for i := 0; i < 200 && r.Watermark().Before(w); i++ {
			closed()
			time.Sleep(5 * time.Millisecond)
		}
	}
	obs := func(feed string, at time.Duration, k int) []bgpwatch.Observation {
		return []bgpwatch.Observation{{Time: t0.Add(at), Kind: bgpwatch.Announce,
			Peer:   bgpwatch.Peer{Collector: feed, ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")},
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(k), 0}), 24), Origin: 64496}}
	}
	send := func(f *ingest.Feed, at time.Duration, k int) {
		t.Helper()
		if err := f.Send(ctx, obs(f.Name(), at, k), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}

	send(a, time.Second, 1)
	send(b, 2*time.Second, 2)
	send(a, 5*time.Minute+20*time.Second, 3)
	if n := closed(); n != 0 {
		t.Fatalf("%d bins closed while the archive feed has sent nothing, want 0", n)
	}
	archive.Done()
	// rrc01 is at 08:00:02: the watermark stays before the first bin's end.
	waitWM(t0.Add(-8 * time.Second))
	if n := closed(); n != 0 || !r.Watermark().Before(t0.Add(5*time.Minute)) {
		t.Fatalf("%d bins closed, watermark %s, while rrc01 is in the first bin; want 0", n, r.Watermark())
	}
	send(b, 5*time.Minute+15*time.Second, 4)
	waitWM(t0.Add(5*time.Minute + 5*time.Second))
	if n := closed(); n != 1 {
		t.Fatalf("%d bins closed once every feed is 5 s past the first bin (lateness 10 s), want 1", n)
	}
	// rrc01 falls silent; rrc00 goes on. After SilentAfter of wall clock,
	// rrc01 no longer holds the bins back.
	send(a, 10*time.Minute+30*time.Second, 5)
	if n := closed(); n != 1 {
		t.Fatalf("%d bins closed while rrc01 is silent for less than a minute, want 1", n)
	}
	now.Add(int64(2 * time.Minute))
	waitWM(t0.Add(10*time.Minute + 20*time.Second))
	if n := closed(); n != 2 {
		t.Fatalf("%d bins closed after rrc01 was silent for 2 minutes, want 2 (watermark %s)", n, r.Watermark())
	}
	if r.Late() != 0 {
		t.Errorf("%d late observations, want 0", r.Late())
	}
	// rrc01 comes back with an old observation: applied late, to the open
	// bin, and counted.
	send(b, 6*time.Minute, 6)
	for i := 0; i < 100 && r.Late() == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if r.Late() != 1 {
		t.Errorf("%d late observations after rrc01's return, want 1", r.Late())
	}
}
