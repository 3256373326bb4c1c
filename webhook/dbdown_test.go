package webhook

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// count returns how many lines contain all of subs.
func (b *logBuffer) count(subs ...string) int {
	n := 0
	for _, l := range b.lines() {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			n++
		}
	}
	return n
}

// setReachable opens or shuts db's database on the shared test server:
// shut, it refuses new sessions and its open ones are ended, as in an
// outage, while the server keeps serving the other tests' databases.
func setReachable(t *testing.T, db *store.DB, up bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := storetest.URL("postgres")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := db.Pool().Config().ConnConfig.Database
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS "+strconv.FormatBool(up)); err != nil {
		t.Fatal(err)
	}
	if up {
		return
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		t.Fatal(err)
	}
}

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
	t.Cleanup(func() { setReachable(t, db, true) })
	rc := newReceiver(t, nil)
	subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	clock := newFakeClock()
	cfg := fastConfig()
	cfg.Poll = 5 * time.Millisecond
	cfg.Clock = clock.Now
	var logs logBuffer
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
	dump := func() string { return strings.Join(logs.lines(), "\n") }

	setReachable(t, db, false)
	if !eventually(30*time.Second, func() bool { return logs.count(ops[0]) > 0 && logs.count(ops[1]) > 0 }) {
		t.Fatalf("fan-out and claims did not fail with the database shut; log:\n%s", dump())
	}
	// Let a few hundred polls fail; then a minute passes on the clock.
	time.Sleep(200 * cfg.Poll)
	clock.Advance(61 * time.Second)
	reminded := eventually(30*time.Second, func() bool {
		return logs.count(ops[0], "still failing") > 0 && logs.count(ops[1], "still failing") > 0
	})
	setReachable(t, db, true)
	recovered := eventually(30*time.Second, func() bool {
		return logs.count(ops[0], "recovered") > 0 && logs.count(ops[1], "recovered") > 0
	})
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	select {
	case <-rc.got:
	case <-time.After(30 * time.Second):
		t.Errorf("a notice saved after the outage was not delivered within 30 s")
	}
	stop()

	lines := logs.lines()
	t.Logf("%d log lines at INFO and above:\n%s", len(lines), dump())
	if !reminded || !recovered {
		t.Errorf("reminder logged: %v, recovery logged: %v; want both", reminded, recovered)
	}
	for _, op := range ops {
		failing := logs.count(op, "level=ERROR")
		if failing != 2 || logs.count(op, "level=ERROR", "still failing") != 1 {
			t.Errorf("%d error lines for %s…: want 2 (the start, a reminder a minute later)", failing, op)
		}
		if n := logs.count(op, "level=INFO", "recovered"); n != 1 {
			t.Errorf("%d recovery lines for %s…, want 1", n, op)
		}
	}
}
