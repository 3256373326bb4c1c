package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func TestDeliverySigned(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Secret: "topsecret"})
	startDispatcher(t, db, fastConfig())

	ev := kzEvent(0)
	id := saveEvent(t, db, &ev, true)
	first := <-rc.got
	ev.EndedAt = ev.StartedAt.Add(95 * time.Minute)
	saveEvent(t, db, &ev, true)
	second := <-rc.got

	for i, tc := range []struct {
		req   request
		typ   string
		ended bool
	}{{first, bgpwatch.NoticeStarted, false}, {second, bgpwatch.NoticeEnded, true}} {
		q := tc.req
		if err := Verify("topsecret", q.Timestamp, q.Signature, q.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("notice %d: %v", i, err)
		}
		if err := Verify("wrong", q.Timestamp, q.Signature, q.Body, time.Now(), time.Minute); err == nil {
			t.Errorf("notice %d: signature verified with the wrong secret", i)
		}
		if q.UserAgent != "bgpwatch" || q.CType != "application/json" {
			t.Errorf("notice %d: User-Agent %q, Content-Type %q", i, q.UserAgent, q.CType)
		}
		n := decodeNotice(t, q.Body)
		if n.Type != tc.typ || n.DeliveryID != q.Delivery || n.Event.ID != id || n.Event.Country != "KZ" {
			t.Errorf("notice %d: %+v (header delivery %s)", i, n, q.Delivery)
		}
		if (n.Event.EndedAt != nil) != tc.ended {
			t.Errorf("notice %d: ended_at %v", i, n.Event.EndedAt)
		}
		if n.SentAt.IsZero() || strings.Contains(string(q.Body), "topsecret") {
			t.Errorf("notice %d: body %s", i, q.Body)
		}
	}
	if first.Delivery == second.Delivery {
		t.Errorf("started and ended share delivery id %s", first.Delivery)
	}
	waitFor(t, 30*time.Second, "both recorded as delivered", func() bool {
		return countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered) == 2
	})
	ds := deliveries(t, db, sub.ID)
	if ds[0].Type != bgpwatch.NoticeEnded || ds[0].Attempts != 1 || ds[0].LastStatusCode != 200 || ds[0].DeliveredAt.IsZero() {
		t.Errorf("newest delivery: %+v", ds[0])
	}
	as, err := attempts(db, ds[1].ID)
	if err != nil || len(as) != 1 || as[0].StatusCode != 200 || as[0].Duration <= 0 {
		t.Errorf("attempts of %s: %+v, %v", ds[1].ID, as, err)
	}

	// Saving the event again (a second replay with --notify) notifies nobody,
	// and an event saved without notify queues nothing.
	saveEvent(t, db, &ev, true)
	ev2 := kzEvent(1)
	saveEvent(t, db, &ev2, false)
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
}

func TestSlackFormat(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Secret: "k", Format: "slack"})
	startDispatcher(t, db, fastConfig())
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	q := <-rc.got
	var msg map[string]string
	if err := json.Unmarshal(q.Body, &msg); err != nil {
		t.Fatalf("body %s: %v", q.Body, err)
	}
	want := "Kazakhstan (KZ) lost 91% of its routed address space at 12:30 UTC on 2026-01-05"
	if !strings.HasPrefix(msg["text"], want) || len(msg) != 1 {
		t.Errorf("slack body %s, want text starting %q", q.Body, want)
	}
	if err := Verify("k", q.Timestamp, q.Signature, q.Body, time.Now(), time.Minute); err != nil || q.Delivery == "" {
		t.Errorf("slack headers: delivery %q, %v", q.Delivery, err)
	}
}

// TestReceiverDownThenBack: nothing listens on the port for a while
// (connection refused), then a receiver that first answers 503 comes up.
// Every notice arrives, each under one delivery id across its retries.
func TestReceiverDownThenBack(t *testing.T) {
	db := storetest.New(t)
	addr := freePort(t)
	sub := subscribe(t, db, bgpwatch.Subscription{URL: "http://" + addr + "/hook"})
	startDispatcher(t, db, fastConfig())
	const n = 10
	for i := range n {
		ev := kzEvent(i)
		saveEvent(t, db, &ev, true)
	}
	waitFor(t, 30*time.Second, "failed attempts while down", func() bool {
		ds := deliveries(t, db, sub.ID)
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Attempts < 2 {
				return false
			}
		}
		return true
	})
	before := deliveries(t, db, sub.ID)

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{got: make(chan request, 1000), respond: func(i int, w http.ResponseWriter, r *http.Request) int {
		if i < 5 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := &http.Server{Handler: http.HandlerFunc(rc.serve)}
	go srv.Serve(l) // ends with Close
	t.Cleanup(func() { srv.Close() })

	waitFor(t, 30*time.Second, "all delivered", func() bool {
		return countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered) == n
	})
	ids := map[string]bool{}
	for _, d := range before {
		ids[d.ID] = true
	}
	acked := map[string]int{}
	for _, q := range rc.requests() {
		if !ids[q.Delivery] {
			t.Errorf("request with unknown delivery id %q", q.Delivery)
		}
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
	for _, d := range deliveries(t, db, sub.ID) {
		as, err := attempts(db, d.ID)
		if err != nil || len(as) != d.Attempts || as[len(as)-1].StatusCode != 200 || as[0].StatusCode != 0 || as[0].Error == "" {
			t.Errorf("delivery %s: %d attempts, log %+v, %v", d.ID, d.Attempts, as, err)
		}
	}
}

// TestCancelMidBacklog stops the dispatcher abruptly while a backlog is
// being delivered, then starts a new one: everything arrives, and nothing
// acknowledged is sent again.
func TestCancelMidBacklog(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int {
		time.Sleep(10 * time.Millisecond)
		return http.StatusOK
	})
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	const n = 40
	for i := range n {
		ev := kzEvent(i)
		saveEvent(t, db, &ev, true)
	}
	cfg := fastConfig()
	cfg.Workers, cfg.PerEndpoint = 4, 4
	_, stop := startDispatcher(t, db, cfg)
	waitFor(t, 30*time.Second, "some deliveries", func() bool { return len(rc.requests()) >= 10 })
	stop()
	mid := countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered)
	if mid == n {
		t.Fatalf("backlog finished before the cancel; make it longer")
	}
	if got := len(rc.requests()); got != mid {
		t.Errorf("after the stop: receiver acknowledged %d, database says %d delivered", got, mid)
	}
	startDispatcher(t, db, cfg)
	waitFor(t, 30*time.Second, "all delivered", func() bool {
		return countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered) == n
	})
	seen := map[string]int{}
	for _, q := range rc.requests() {
		seen[q.Delivery]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct deliveries, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %s sent %d times", id, k)
		}
	}
}

// TestHangingReceiver: one receiver never answers; another still gets all
// of its notices at once, not after the first one's timeouts.
func TestHangingReceiver(t *testing.T) {
	db := storetest.New(t)
	release := make(chan struct{})
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	ok := newReceiver(t, nil)
	subscribe(t, db, bgpwatch.Subscription{URL: hang.url()})
	okSub := subscribe(t, db, bgpwatch.Subscription{URL: ok.url()})
	cfg := fastConfig()
	cfg.Workers, cfg.PerEndpoint, cfg.Timeout = 4, 2, time.Minute
	startDispatcher(t, db, cfg)
	t.Cleanup(func() { close(release) }) // first: the dispatcher waits for its requests
	const n = 8
	start := time.Now()
	for i := range n {
		ev := kzEvent(i)
		saveEvent(t, db, &ev, true)
	}
	waitFor(t, 30*time.Second, "the healthy receiver's notices", func() bool {
		return countStatus(deliveries(t, db, okSub.ID), store.DeliveryDelivered) == n
	})
	if d := time.Since(start); d >= cfg.Timeout {
		t.Errorf("healthy receiver served after %v, not before the hanging one's timeout", d)
	}
	if k := len(hang.requests()); k > cfg.PerEndpoint {
		t.Errorf("hanging receiver has %d requests in flight, limit %d", k, cfg.PerEndpoint)
	}
}

func TestFiltersFanOut(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	subs := map[string]bgpwatch.Subscription{
		"all":      subscribe(t, db, bgpwatch.Subscription{URL: rc.url()}),
		"kz":       subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Countries: []string{"kz"}}),
		"as9198":   subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), ASNs: []bgpwatch.ASN{9198}}),
		"asnScope": subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Scopes: []bgpwatch.Scope{bgpwatch.ScopeASN}}),
		"mobile":   subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Access: []bgpwatch.Access{bgpwatch.AccessMobile}}),
		"big":      subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), MinDropRatio: 0.8}),
	}
	kz := kzEvent(0) // country KZ, mixed, 0.91, contains AS9198
	ir := bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "IR", ASN: 197207, Access: bgpwatch.AccessMobile,
		StartedAt: evBase, BaselineSlash24: 100, MinSlash24: 60, DropRatio: 0.4,
		ASNs: []bgpwatch.EventASN{{ASN: 197207, BaselineSlash24: 100, MinSlash24: 60}}}
	saveEvent(t, db, &kz, true)
	saveEvent(t, db, &ir, true)
	startDispatcher(t, db, fastConfig())
	want := map[string][]int64{
		"all": {kz.ID, ir.ID}, "kz": {kz.ID}, "as9198": {kz.ID}, "asnScope": {ir.ID}, "mobile": {ir.ID}, "big": {kz.ID},
	}
	waitFor(t, 30*time.Second, "fan-out", func() bool { return len(rc.requests()) == 7 })
	for name, ids := range want {
		t.Run(name, func(t *testing.T) {
			got := map[int64]bool{}
			for _, d := range deliveries(t, db, subs[name].ID) {
				got[d.EventID] = true
			}
			if len(got) != len(ids) {
				t.Errorf("events %v, want %v", got, ids)
			}
			for _, id := range ids {
				if !got[id] {
					t.Errorf("missing event %d; got %v", id, got)
				}
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	clk := newFakeClock()
	cfg := fastConfig()
	cfg.Clock, cfg.Expiry, cfg.BaseBackoff, cfg.MaxBackoff, cfg.Poll = clk.Now, time.Hour, time.Second, 5*time.Minute, 10*time.Millisecond
	d, _ := startDispatcher(t, db, cfg)
	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	<-rc.got
	for range 200 {
		if ds := deliveries(t, db, sub.ID); ds[0].Status != store.DeliveryPending {
			break
		}
		clk.Advance(5 * time.Minute)
		time.Sleep(30 * time.Millisecond)
	}
	ds := deliveries(t, db, sub.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed || ds[0].LastStatusCode != 500 || ds[0].Attempts < 3 {
		t.Fatalf("deliveries %+v, want one failed after several attempts", ds)
	}
	if at := clk.Now().Sub(ds[0].CreatedAt); at < time.Hour {
		t.Errorf("failed %v after creation, before the expiry", at)
	}
	k := len(rc.requests())
	clk.Advance(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if len(rc.requests()) != k || d.Stats().Failed != 1 {
		t.Errorf("attempts after failure: %d → %d; stats %+v", k, len(rc.requests()), d.Stats())
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) string
	}{
		{"seconds", func(time.Time) string { return "120" }},
		{"http-date", func(now time.Time) string { return now.Add(120 * time.Second).Format(http.TimeFormat) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.New(t)
			clk := newFakeClock()
			rc := newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) int {
				if i == 0 {
					w.Header().Set("Retry-After", tc.header(clk.Now()))
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
			cfg := fastConfig()
			cfg.Clock, cfg.BaseBackoff, cfg.MaxBackoff, cfg.Poll = clk.Now, time.Millisecond, time.Millisecond, 10*time.Millisecond
			startDispatcher(t, db, cfg)
			ev := kzEvent(0)
			saveEvent(t, db, &ev, true)
			<-rc.got
			waitFor(t, 30*time.Second, "the 503 recorded", func() bool { return deliveries(t, db, sub.ID)[0].Attempts == 1 })
			if wait := deliveries(t, db, sub.ID)[0].NextAttemptAt.Sub(clk.Now()); wait < 120*time.Second || wait > 121*time.Second {
				t.Errorf("next attempt in %v, want 120s", wait)
			}
			clk.Advance(119 * time.Second)
			time.Sleep(100 * time.Millisecond)
			if k := len(rc.requests()); k != 1 {
				t.Fatalf("%d requests before Retry-After passed", k)
			}
			clk.Advance(2 * time.Second)
			waitFor(t, 30*time.Second, "delivery after Retry-After", func() bool {
				return deliveries(t, db, sub.ID)[0].Status == store.DeliveryDelivered
			})
		})
	}
}

// TestInternalReceiverRefused: without AllowPrivate, deliveries to
// internal addresses are refused on the address dialled, so a name that
// resolves to loopback (localhost) is refused as well as a literal; the
// receiver gets nothing, and the delivery log says why without saying
// what the name resolved to.
func TestInternalReceiverRefused(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	port := rc.srv.Listener.Addr().(*net.TCPAddr).Port
	literal := subscribe(t, db, bgpwatch.Subscription{URL: rc.url(), Secret: "topsecret"})
	named := subscribe(t, db, bgpwatch.Subscription{URL: fmt.Sprintf("http://localhost:%d/hook", port), Secret: "topsecret"})
	var logs storetest.SyncBuffer
	cfg := fastConfig()
	cfg.AllowPrivate = false
	d := NewDispatcher(db, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ev := kzEvent(0)
	saveEvent(t, db, &ev, true)
	for _, sub := range []bgpwatch.Subscription{literal, named} {
		waitFor(t, 30*time.Second, "a refused attempt of "+sub.URL, func() bool {
			ds := deliveries(t, db, sub.ID)
			return len(ds) == 1 && ds[0].Attempts >= 1
		})
		dl := deliveries(t, db, sub.ID)[0]
		if dl.Status == store.DeliveryDelivered || dl.LastStatusCode != 0 ||
			!strings.Contains(dl.LastError, "loopback address: internal addresses are refused") {
			t.Errorf("%s: %+v", sub.URL, dl)
		}
		if strings.Contains(dl.LastError, "127.0.0.1") || strings.Contains(dl.LastError, "::1") || strings.Contains(dl.LastError, fmt.Sprint(port)) {
			t.Errorf("%s: the delivery log shows the address dialled: %q", sub.URL, dl.LastError)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the internal receiver got %d requests", n)
	}
	if l := logs.String(); !strings.Contains(l, "internal addresses are refused") || strings.Contains(l, "dial tcp") {
		t.Errorf("log: %s", l)
	}
}

// claimAtShutdown is the real store, except that its first claim waits
// until the dispatcher's Run context is done, as a claim under way at a
// shutdown does, and records whether its own context was cut off then.
type claimAtShutdown struct {
	*store.DB
	started  chan struct{} // closed when the first claim begins
	shutdown chan struct{} // closed by the test after cancelling Run
	once     sync.Once
	cutOff   atomic.Bool
}

func (s *claimAtShutdown) ClaimDeliveries(ctx context.Context, req store.ClaimRequest, accept func(string) bool) ([]store.ClaimedDelivery, error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.started)
		<-s.shutdown
		if ctx.Err() != nil {
			// A commit sent now may take effect on the server while the
			// client reports the cancellation: deliveries leased to nobody.
			s.cutOff.Store(true)
		}
	}
	return s.DB.ClaimDeliveries(ctx, req, accept)
}

// TestClaimSurvivesShutdown: a claim under way when Run's context ends is
// not cut off by it, and what it leased is delivered within Grace, not
// left leased to nobody until the lease runs out.
func TestClaimSurvivesShutdown(t *testing.T) {
	db := storetest.New(t)
	rc := newReceiver(t, nil)
	sub := subscribe(t, db, bgpwatch.Subscription{URL: rc.url()})
	const n = 3
	for i := range n {
		ev := kzEvent(i)
		saveEvent(t, db, &ev, true)
	}
	// Deliveries first, then a dispatcher that only claims.
	fan := NewDispatcher(db, fastConfig(), testLogger(t))
	fan.fanOut(context.Background())
	if got := len(deliveries(t, db, sub.ID)); got != n {
		t.Fatalf("%d deliveries fanned out, want %d", got, n)
	}
	st := &claimAtShutdown{DB: db, started: make(chan struct{}), shutdown: make(chan struct{})}
	cfg := fastConfig()
	cfg.Workers, cfg.PerEndpoint = n, n // the one claim takes all of them
	d := NewDispatcher(st, cfg, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-st.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no claim within 10 s")
	}
	cancel()
	close(st.shutdown)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st.cutOff.Load() {
		t.Error("the claim's context was cut off by the shutdown")
	}
	if got := countStatus(deliveries(t, db, sub.ID), store.DeliveryDelivered); got != n {
		t.Errorf("%d of %d deliveries delivered by the time Run returned", got, n)
	}
}
