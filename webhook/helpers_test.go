package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/wire"
)

// fakeClock is a settable clock for the dispatcher.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// request is one POST a receiver got.
type request struct {
	Delivery  string
	Timestamp string
	Signature string
	UserAgent string
	CType     string
	Body      []byte
	Acked     bool // the handler answered 2xx
	At        time.Time
}

// receiver is a webhook endpoint on loopback; respond decides the answer
// to the n-th request (0-based) and may block.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(n int, w http.ResponseWriter, r *http.Request) int
	got     chan request
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{respond: respond, got: make(chan request, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := request{Delivery: r.Header.Get(HeaderDelivery), Timestamp: r.Header.Get(HeaderTimestamp),
		Signature: r.Header.Get(HeaderSignature), UserAgent: r.UserAgent(), CType: r.Header.Get("Content-Type"),
		Body: body, At: time.Now()}
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, q)
	rc.mu.Unlock()
	code := http.StatusOK
	if rc.respond != nil {
		code = rc.respond(n, w, r)
	}
	w.WriteHeader(code)
	if code >= 200 && code < 300 {
		rc.mu.Lock()
		rc.reqs[n].Acked = true
		q = rc.reqs[n]
		rc.mu.Unlock()
	}
	rc.got <- q
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startDispatcher runs a dispatcher until the returned stop is called (or
// the test ends); stop waits for Run to return.
func startDispatcher(t *testing.T, db *store.DB, cfg Config) (*Dispatcher, func()) {
	t.Helper()
	d := NewDispatcher(db, cfg, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fastConfig keeps the suite fast: short backoffs and polls.
func fastConfig() Config {
	c := DefaultConfig()
	c.BaseBackoff = 20 * time.Millisecond
	c.MaxBackoff = 100 * time.Millisecond
	c.Poll = 50 * time.Millisecond
	c.Timeout = 2 * time.Second
	c.AllowPrivate = true // the receivers are httptest servers on 127.0.0.1
	return c
}

var evBase = time.Date(2026, 1, 5, 12, 30, 0, 0, time.UTC)

// kzEvent is a country event; i makes its natural key unique.
func kzEvent(i int) bgpwatch.Event {
	return bgpwatch.Event{
		Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed,
		StartedAt: evBase.Add(time.Duration(i) * bgpwatch.BinStep), BaselineSlash24: 1356, MinSlash24: 122, DropRatio: 0.91,
		ASNs: []bgpwatch.EventASN{{ASN: 9198, BaselineSlash24: 1000, MinSlash24: 100}},
	}
}

// saveEvent stores ev through the ingest engineer's SaveEvent, which writes
// the outbox rows when notify is set.
func saveEvent(t *testing.T, db *store.DB, ev *bgpwatch.Event, notify bool) int64 {
	t.Helper()
	id, err := db.SaveEvent(context.Background(), ev, store.SourceLive, notify)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func subscribe(t *testing.T, db *store.DB, s bgpwatch.Subscription) bgpwatch.Subscription {
	t.Helper()
	if s.Secret == "" {
		s.Secret = "s3cret"
	}
	if err := db.CreateSubscription(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func deliveries(t *testing.T, db *store.DB, subID int64) []bgpwatch.Delivery {
	t.Helper()
	ds, _, err := db.ListDeliveries(context.Background(), subID, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func countStatus(ds []bgpwatch.Delivery, status string) int {
	n := 0
	for _, d := range ds {
		if d.Status == status {
			n++
		}
	}
	return n
}

func decodeNotice(t *testing.T, body []byte) wire.Notice {
	t.Helper()
	var n wire.Notice
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return n
}

// freePort reserves a loopback port and gives it back, for a receiver
// that is "down" (connection refused) until something listens there.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// newBenchServer serves rc on loopback for a benchmark; it returns the base URL.
func newBenchServer(b *testing.B, rc *receiver) string {
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	b.Cleanup(srv.Close)
	return srv.URL
}

// attempt is one entry of the delivery log (webhook_attempts).
type attempt struct {
	StatusCode int // 0 when no HTTP response arrived
	Error      string
	Duration   time.Duration
}

// attempts returns the logged attempts of one delivery, oldest first.
func attempts(db *store.DB, deliveryID string) ([]attempt, error) {
	rows, err := db.Pool().Query(context.Background(), `SELECT a.status_code, a.error, a.duration_ms
		FROM webhook_attempts a JOIN webhook_deliveries d ON d.seq = a.delivery_seq
		WHERE d.delivery_id::text = lower($1) ORDER BY a.id`, deliveryID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (attempt, error) {
		var a attempt
		var ms float64
		err := r.Scan(&a.StatusCode, &a.Error, &ms)
		a.Duration = time.Duration(ms * float64(time.Millisecond))
		return a, err
	})
}
