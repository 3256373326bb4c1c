package webhook

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// BenchmarkNoticeToReceiver measures the delivery latency from the event
// write (SaveEvent with notify, which commits the outbox row) to the
// receiver's handler, one notice at a time, with the default 1 s poll (so a
// latency well under a second shows LISTEN/NOTIFY at work). It reports the
// median and 90th percentile.
//
//	go test -run '^$' -bench NoticeToReceiver -benchtime 50x ./webhook
func BenchmarkNoticeToReceiver(b *testing.B) {
	db := storetest.New(b)
	rc := &receiver{got: make(chan request, 1)}
	srv := newBenchServer(b, rc)
	if err := db.CreateSubscription(context.Background(), &bgpwatch.Subscription{URL: srv + "/hook", Secret: "k"}); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.AllowPrivate = true // the receiver is on 127.0.0.1
	d := NewDispatcher(db, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ev := kzEvent(i)
		start := time.Now()
		if _, err := db.SaveEvent(ctx, &ev, store.SourceLive, true); err != nil {
			b.Fatal(err)
		}
		q := <-rc.got
		lat = append(lat, q.At.Sub(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Millisecond), "ms-median")
	b.ReportMetric(float64(lat[len(lat)*9/10])/float64(time.Millisecond), "ms-p90")
}

// BenchmarkBacklog drains a backlog of b.N notices (one subscription, a
// receiver answering at once) and reports deliveries per second:
//
//	go test -run '^$' -bench Backlog -benchtime 2000x ./webhook
func BenchmarkBacklog(b *testing.B) {
	db := storetest.New(b)
	rc := &receiver{got: make(chan request, b.N+10)}
	srv := newBenchServer(b, rc)
	sub := bgpwatch.Subscription{URL: srv + "/hook", Secret: "k"}
	if err := db.CreateSubscription(context.Background(), &sub); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		ev := kzEvent(i)
		if _, err := db.SaveEvent(context.Background(), &ev, store.SourceLive, true); err != nil {
			b.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.AllowPrivate = true // the receiver is on 127.0.0.1
	cfg.PerEndpoint = cfg.Workers
	d := NewDispatcher(db, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	for range b.N {
		<-rc.got
	}
	for {
		if n, err := db.QueueDepth(ctx); err != nil || n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
}
