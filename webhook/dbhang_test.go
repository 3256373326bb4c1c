package webhook

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestDispatcherHungDatabase freezes the dispatcher's connection to the
// database (a server that hangs rather than refuses): its polls must give
// up after DBTimeout and say so, rather than wait forever, and a notice
// saved during the freeze must be delivered once the database answers
// again.
func TestDispatcherHungDatabase(t *testing.T) {
	base := storetest.New(t)
	hang, db := storetest.Hanging(t, base)
	rc := newReceiver(t, nil)
	subscribe(t, base, bgpwatch.Subscription{URL: rc.url()})
	cfg := fastConfig()
	cfg.DBTimeout = 300 * time.Millisecond
	var logs storetest.SyncBuffer
	d := NewDispatcher(db, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop := func() {
		if cancel == nil {
			return
		}
		hang.Thaw()
		cancel()
		cancel = nil
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)

	hang.Freeze()
	began := time.Now()
	if !eventually(30*time.Second, func() bool {
		return logs.Count(`msg="webhook: claim: failing"`, "deadline exceeded") > 0
	}) {
		t.Fatalf("no claim gave up in 30 s with the database hung (bound %v); log:\n%s", cfg.DBTimeout, logs.String())
	}
	t.Logf("hung: the first claim gave up after %v", time.Since(began).Round(time.Millisecond))
	// The server itself is fine: the event is saved beside the relay.
	ev := kzEvent(0)
	saveEvent(t, base, &ev, true)

	hang.Thaw()
	thawed := time.Now()
	select {
	case <-rc.got:
		t.Logf("thawed: the notice saved meanwhile arrived after %v", time.Since(thawed).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("the notice saved during the freeze was not delivered within 30 s of the thaw; log:\n%s", logs.String())
	}
	stop()
	if !eventually(5*time.Second, func() bool { return logs.Count(`msg="webhook: claim: recovered"`) == 1 }) {
		t.Errorf("want one recovery line for claims; log:\n%s", logs.String())
	}
}
