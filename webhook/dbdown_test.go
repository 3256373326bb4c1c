package webhook

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// eventually polls cond until it holds or the timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// TestDispatcherLogsOutageOnce shuts the database under a dispatcher that
// polls every 5 ms, so that fan-out and claims fail hundreds of times.
// Each must be logged once when it starts failing, once more when the
// clock has moved a minute, and once when it works again; and the
// dispatcher must deliver a notice saved after the outage.
func TestDispatcherLogsOutageOnce(t *testing.T) {
	db := storetest.New(t)
	t.Cleanup(func() { storetest.SetReachable(t, db, true) })
	rc := newReceiver(t, nil)
	subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	clock := newFakeClock()
	cfg := fastConfig()
	cfg.Poll = 5 * time.Millisecond
	cfg.Clock = clock.Now
	var logs storetest.SyncBuffer
	d := NewDispatcher(db, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop := func() {
		if cancel == nil {
			return
		}
		cancel()
		cancel = nil
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	ops := []string{`msg="webhook: fan-out`, `msg="webhook: claim`}
	dump := func() string { return strings.Join(logs.Lines(), "\n") }

	storetest.SetReachable(t, db, false)
	if !eventually(30*time.Second, func() bool { return logs.Count(ops[0]) > 0 && logs.Count(ops[1]) > 0 }) {
		t.Fatalf("fan-out and claims did not fail with the database shut; log:\n%s", dump())
	}
	// Let a few hundred polls fail; then a minute passes on the clock.
	time.Sleep(200 * cfg.Poll)
	clock.Advance(61 * time.Second)
	reminded := eventually(30*time.Second, func() bool {
		return logs.Count(ops[0], "still failing") > 0 && logs.Count(ops[1], "still failing") > 0
	})
	storetest.SetReachable(t, db, true)
	recovered := eventually(30*time.Second, func() bool {
		return logs.Count(ops[0], "recovered") > 0 && logs.Count(ops[1], "recovered") > 0
	})
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	select {
	case <-rc.got:
	case <-time.After(30 * time.Second):
		t.Errorf("a notice saved after the outage was not delivered within 30 s")
	}
	stop()

	lines := logs.Lines()
	t.Logf("%d log lines at INFO and above:\n%s", len(lines), dump())
	if !reminded || !recovered {
		t.Errorf("reminder logged: %v, recovery logged: %v; want both", reminded, recovered)
	}
	for _, op := range ops {
		failing := logs.Count(op, "level=ERROR")
		if failing != 2 || logs.Count(op, "level=ERROR", "still failing") != 1 {
			t.Errorf("%d error lines for %s…: want 2 (the start, a reminder a minute later)", failing, op)
		}
		if n := logs.Count(op, "level=INFO", "recovered"); n != 1 {
			t.Errorf("%d recovery lines for %s…, want 1", n, op)
		}
	}
}
