package webhook

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

const helperEnv = "BGPWATCH_WEBHOOK_HELPER_DB"

// TestHelperDispatcherProcess is not a test: TestKill9 runs the test
// binary again with helperEnv set, and this runs a dispatcher in that
// process until it is killed.
func TestHelperDispatcherProcess(t *testing.T) {
	url := os.Getenv(helperEnv)
	if url == "" {
		t.Skip("helper process for TestKill9")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: url, SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.Workers, cfg.Timeout = 1, 30*time.Second
	if err := NewDispatcher(db, cfg, testLogger(t)).Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestKill9 kills (SIGKILL) a dispatcher process while it waits for a
// receiver's answer, in the middle of a backlog, and starts another: every
// notice arrives, the interrupted one again under its delivery id, and
// none that was acknowledged is sent twice.
func TestKill9(t *testing.T) {
	db := storetest.New(t)
	const n, hangAt = 10, 5
	hung := make(chan struct{})
	rc := newReceiver(t, func(i int, _ http.ResponseWriter, r *http.Request) int {
		if i != hangAt {
			return http.StatusOK
		}
		close(hung)
		select { // until the sender's connection dies with it
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		return http.StatusServiceUnavailable
	})
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	for i := range n {
		ev := kzEvent(i)
		saveEvent(t, db, &ev, true)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDispatcherProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+db.Pool().Config().ConnString())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hung:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill() // best effort
		cmd.Wait()         // best effort
		t.Fatalf("the helper never reached the hanging request; its output:\n%s", out.String())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait() // killed
	if got := countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered); got != hangAt {
		t.Fatalf("%d delivered before the kill, want %d", got, hangAt)
	}
	before := rc.requests()

	// The killed process's lease (timeout + 30 s) still holds the hung
	// delivery; a dispatcher whose clock is an hour ahead sees it expired.
	cfg := fastConfig()
	cfg.Clock = func() time.Time { return time.Now().Add(time.Hour) }
	startDispatcher(t, db, cfg)
	waitFor(t, 20*time.Second, "all delivered after the restart", func() bool {
		return countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered) == n
	})

	acked := map[string]int{}
	for _, q := range rc.requests() {
		if q.Acked {
			acked[q.Delivery]++
		}
	}
	if len(acked) != n {
		t.Errorf("%d distinct deliveries acknowledged, want %d", len(acked), n)
	}
	for id, k := range acked {
		if k != 1 {
			t.Errorf("delivery %s acknowledged %d times", id, k)
		}
	}
	after := rc.requests()[len(before):]
	for _, q := range after {
		for _, p := range before {
			if p.Delivery == q.Delivery && p.Acked {
				t.Errorf("delivery %s sent again after its 2xx", q.Delivery)
			}
		}
	}
	resent := 0
	for _, q := range after {
		if q.Delivery == before[hangAt].Delivery {
			resent++
		}
	}
	if resent != 1 || len(after) != n-hangAt {
		t.Errorf("after the restart: %d requests, %d for the interrupted delivery; want %d and 1", len(after), resent, n-hangAt)
	}
}

// TestWakesOnNotify: with polling effectively off, a new notice still
// reaches the receiver at once (LISTEN/NOTIFY).
func TestWakesOnNotify(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	cfg := fastConfig()
	cfg.Poll = time.Hour
	startDispatcher(t, db, cfg)
	time.Sleep(100 * time.Millisecond) // let it settle into waiting
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	select {
	case <-rc.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery within 20s with a 1h poll: NOTIFY did not wake the dispatcher")
	}
}

// TestShutdownCutsOffHangingAttempt: stopping while a receiver hangs
// returns after Grace, counts no attempt and leaves the delivery due at
// once for the next dispatcher (no lease to wait out).
func TestShutdownCutsOffHangingAttempt(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, func(i int, _ http.ResponseWriter, r *http.Request) int {
		if i == 0 {
			<-r.Context().Done()
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	cfg := fastConfig()
	cfg.Grace, cfg.Timeout = 200*time.Millisecond, time.Minute
	_, stop := startDispatcher(t, db, cfg)
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	waitFor(t, 20*time.Second, "the hanging request", func() bool { return len(rc.requests()) == 1 })
	start := time.Now()
	stop()
	// Far below the attempt timeout: stop did not wait for the receiver.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stop took %v with Grace %v", d, cfg.Grace)
	}
	if ds := deliveries(t, db, sub.ID); ds[0].Attempts != 0 || ds[0].Status != store.DeliveryPending {
		t.Errorf("after the cut-off: %+v", ds[0])
	}
	startDispatcher(t, db, cfg)
	waitFor(t, 20*time.Second, "delivery by the next dispatcher", func() bool {
		return deliveries(t, db, sub.ID)[0].Status == store.DeliveryDelivered
	})
}
