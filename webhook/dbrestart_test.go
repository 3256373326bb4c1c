package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// listening reports whether a session LISTENs for notices (the
// dispatcher's listener, idle in its wait). Errors count as no.
func listening(db *store.DB) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE query ILIKE 'LISTEN %' AND state = 'idle' AND pid <> pg_backend_pid()`).Scan(&n)
	return err == nil && n == 1
}

// runDispatcher runs a dispatcher logging into logs until the test ends
// or stop is called; stop fails the test if Run does not return in time.
func runDispatcher(t *testing.T, db *store.DB, cfg Config, logs *storetest.SyncBuffer) (stop func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := NewDispatcher(db, cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("Run did not return within a minute of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// restartConfig makes LISTEN/NOTIFY the only thing that wakes the
// dispatcher within a test (the poll is an hour), on a frozen clock that
// the test moves.
func restartConfig(clock *fakeClock) Config {
	c := fastConfig()
	c.Poll = time.Hour
	c.Clock = clock.Now
	return c
}

// TestDBRestartDispatcher restarts PostgreSQL under a running dispatcher
// while a delivery waits for its retry (the receiver answered 503 with
// Retry-After: 60). After the restart the dispatcher must listen again by
// itself, send that delivery (due on the moved clock) once, and deliver a
// notice queued after the restart through NOTIFY: the poll is an hour, so
// only the listener can wake it.
func TestDBRestartDispatcher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts private PostgreSQL servers")
	}
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) {
			pg, db := storetest.StartPrivate(t)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
				if n == 0 {
					w.Header().Set("Retry-After", "60")
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
			clock := newFakeClock()
			var logs storetest.SyncBuffer
			stop := runDispatcher(t, db, restartConfig(clock), &logs)
			waitFor(t, 30*time.Second, "the dispatcher to LISTEN", func() bool { return listening(db) })

			first := kzEvent(0)
			saveEvent(t, db, &first, true)
			select {
			case q := <-rc.got:
				if q.Acked {
					t.Fatal("the first attempt was acknowledged; want the 503")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no first attempt within 30 s of the notice")
			}
			waitFor(t, 30*time.Second, "the 503 to be recorded", func() bool {
				ds := deliveries(t, db, sub.ID)
				return len(ds) == 1 && ds[0].Attempts == 1
			})

			pg.Stop(mode)
			clock.Advance(61 * time.Second) // the retry is due, but the database is down
			time.Sleep(1500 * time.Millisecond)
			pg.Start()
			back := time.Now()

			var q request
			select {
			case q = <-rc.got:
			case <-time.After(60 * time.Second):
				t.Fatalf("the pending delivery was not sent within 60 s of the restart; log:\n%s", logs.String())
			}
			if !q.Acked {
				t.Fatalf("the retry after the restart was not acknowledged: %+v", q)
			}
			t.Logf("pending delivery sent %v after the server was back", time.Since(back).Round(time.Millisecond))
			waitFor(t, 30*time.Second, "the dispatcher to LISTEN again", func() bool { return listening(db) })
			t.Logf("listening again %v after the server was back", time.Since(back).Round(time.Millisecond))

			second := kzEvent(1)
			queued := time.Now()
			saveEvent(t, db, &second, true)
			select {
			case q = <-rc.got:
			case <-time.After(60 * time.Second):
				t.Fatalf("a notice queued after the restart was not delivered within 60 s (poll: 1 h); log:\n%s", logs.String())
			}
			t.Logf("notice queued after the restart delivered in %v", time.Since(queued).Round(time.Millisecond))
			waitFor(t, 30*time.Second, "both deliveries recorded", func() bool {
				return countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered) == 2
			})
			stop()

			acked := map[string]int{}
			for _, r := range rc.requests() {
				if r.Acked {
					acked[r.Delivery]++
				}
			}
			if len(acked) != 2 {
				t.Errorf("acknowledged deliveries %v, want 2", acked)
			}
			for id, n := range acked {
				if n != 1 {
					t.Errorf("delivery %s acknowledged %d times, want once", id, n)
				}
			}
			if n := len(rc.requests()); n != 3 {
				t.Errorf("%d requests, want 3 (503, its retry, the second notice)", n)
			}
			out := logs.String()
			if n := strings.Count(out, "listening for notices (polling meanwhile): failing"); n != 1 {
				t.Errorf("the lost LISTEN connection was warned about %d times, want once; log:\n%s", n, out)
			}
			if !strings.Contains(out, "listening for notices (polling meanwhile): recovered") {
				t.Errorf("the recovered LISTEN connection was not logged; log:\n%s", out)
			}
			if strings.Contains(out, "panic") {
				t.Errorf("panic in the log:\n%s", out)
			}
		})
	}
}

// TestDBRestartAckDuringOutage: the receiver acknowledges while PostgreSQL
// is down, so the 2xx cannot be recorded at once. Once the server is back
// the delivery must be recorded as delivered, without sending it again.
func TestDBRestartAckDuringOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL server")
	}
	pg, db := storetest.StartPrivate(t)
	stopped := make(chan struct{})
	hung := make(chan struct{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			close(hung)
			<-stopped
		}
		return http.StatusOK
	})
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Countries: []string{"KZ"}})
	clock := newFakeClock()
	cfg := restartConfig(clock)
	cfg.Timeout = time.Minute // the receiver answers only after the stop
	var logs storetest.SyncBuffer
	stop := runDispatcher(t, db, cfg, &logs)
	waitFor(t, 30*time.Second, "the dispatcher to LISTEN", func() bool { return listening(db) })

	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	select {
	case <-hung:
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt within 30 s of the notice")
	}
	pg.Stop("fast")
	close(stopped) // the 2xx arrives while the database is down
	<-rc.got
	time.Sleep(1500 * time.Millisecond)
	pg.Start()
	back := time.Now()
	waitFor(t, 60*time.Second, "the acknowledged delivery to be recorded", func() bool {
		ds, _, err := db.ListDeliveries(context.Background(), sub.ID, 10, "")
		return err == nil && len(ds) == 1 && ds[0].Status == store.DeliveryDelivered
	})
	t.Logf("2xx from the outage recorded %v after the server was back", time.Since(back).Round(time.Millisecond))
	// Past the lease a delivery left unrecorded would be claimed and sent
	// again; wake the dispatcher there with a notice nobody subscribed to.
	clock.Advance(cfg.Timeout + 31*time.Second)
	other := kzEvent(1)
	other.Country = "UZ"
	saveEvent(t, db, &other, true)
	waitFor(t, 30*time.Second, "the second notice fanned out", func() bool {
		var n int
		err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM event_notices WHERE fanned_out_at IS NULL`).Scan(&n)
		return err == nil && n == 0
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want the one it acknowledged", n)
	}
	if !strings.Contains(logs.String(), "recording attempt") {
		t.Errorf("the failed record was not logged; log:\n%s", logs.String())
	}
}
