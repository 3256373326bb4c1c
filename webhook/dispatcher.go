package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
	"github.com/bgpwatch/bgpwatch/internal/netguard"
	"github.com/bgpwatch/bgpwatch/internal/retry"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/wire"
)

// Config tunes a Dispatcher. Zero fields take the DefaultConfig values.
type Config struct {
	Workers     int           // deliveries in flight in this process
	PerEndpoint int           // deliveries in flight per URL host[:port]
	Timeout     time.Duration // per attempt, connection to last body byte
	Expiry      time.Duration // a delivery not acknowledged by then is failed
	BaseBackoff time.Duration // first retry waits up to this (full jitter)
	MaxBackoff  time.Duration // cap of the exponential backoff
	Poll        time.Duration // fallback poll when no notification arrives
	// Lease is how long a claimed delivery stays reserved for this process;
	// after a crash it is sent again once the lease runs out. It must exceed
	// Timeout; 0 means Timeout + 30s.
	Lease time.Duration
	// Grace is how long attempts under way may finish after Run's context
	// is done (default 5 s); still unanswered ones are then cut off and sent
	// again by the next dispatcher (same delivery_id).
	Grace time.Duration
	// DBTimeout bounds each fan-out and claim round trip to the database
	// (default 30 s): a database that hangs rather than refuses fails the
	// poll, which is logged and retried, instead of stalling the
	// dispatcher until the connection dies.
	DBTimeout time.Duration
	Clock     func() time.Time
	// AllowPrivate lets deliveries go to internal addresses (loopback,
	// private, link-local, multicast, unspecified, CGNAT, ...). Without
	// it the default client refuses them on the address it is about to
	// connect to, after DNS, so a name that resolves to one (localhost,
	// DNS rebinding) is refused too; it then ignores HTTP proxy settings,
	// since a proxy would connect in its place.
	AllowPrivate bool
	// HTTPClient replaces the default client (no redirects, no cookies,
	// internal addresses refused unless AllowPrivate); a client given here
	// is used as it is.
	HTTPClient *http.Client
}

// DefaultConfig returns the production defaults: 8 workers, 2 per endpoint,
// 10 s timeout, 24 h expiry, backoff 5 s … 30 min, 1 s poll.
func DefaultConfig() Config {
	return Config{
		Workers:     8,
		PerEndpoint: 2,
		Timeout:     10 * time.Second,
		Expiry:      24 * time.Hour,
		BaseBackoff: 5 * time.Second,
		MaxBackoff:  30 * time.Minute,
		Poll:        time.Second,
		Clock:       time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.PerEndpoint <= 0 {
		c.PerEndpoint = d.PerEndpoint
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.Expiry <= 0 {
		c.Expiry = d.Expiry
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = d.BaseBackoff
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = max(d.MaxBackoff, c.BaseBackoff)
	}
	if c.Poll <= 0 {
		c.Poll = d.Poll
	}
	if c.Lease <= c.Timeout {
		c.Lease = c.Timeout + 30*time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 5 * time.Second
	}
	if c.DBTimeout <= 0 {
		c.DBTimeout = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			// A redirect would move a signed body to a place the subscriber
			// did not register; a 3xx counts as a failed attempt instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		if !c.AllowPrivate {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.Proxy = nil
			tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: netguard.Control}).DialContext
			c.HTTPClient.Transport = tr
		}
	}
	return c
}

// Stats are counters since the dispatcher started, for /metrics.
type Stats struct {
	Attempts  uint64 // HTTP attempts made
	Delivered uint64 // deliveries acknowledged with a 2xx
	Failed    uint64 // deliveries given up after expiry
	Fanned    uint64 // deliveries queued from notices
}

// Store is what the dispatcher needs of the database: the outbox, the
// subscriptions, the event of a notice and the delivery queue.
// *store.DB implements it.
type Store interface {
	ListenNotices(ctx context.Context, wake func()) error
	FanOutNotices(ctx context.Context, limit int, plan func(context.Context, store.Notice) ([]store.NewDelivery, error)) (notices, deliveries int, err error)
	ListSubscriptions(ctx context.Context) ([]bgpwatch.Subscription, error)
	GetEvent(ctx context.Context, id int64) (bgpwatch.Event, error)
	ClaimDeliveries(ctx context.Context, req store.ClaimRequest, accept func(host string) bool) ([]store.ClaimedDelivery, error)
	ReleaseDelivery(ctx context.Context, seq int64) error
	RecordAttempt(ctx context.Context, a store.AttemptResult) error
	QueueDepth(ctx context.Context) (int, error)
}

// Dispatcher fans event notices out to subscriptions and delivers them.
// Several dispatchers (processes) may share one database: claims use
// SKIP LOCKED and leases, so each delivery is worked on by one at a time.
// The per-endpoint limit holds per dispatcher.
type Dispatcher struct {
	db    Store
	cfg   Config
	log   *slog.Logger
	wake  chan struct{} // a notice committed
	freed chan struct{} // a worker finished

	mu       sync.Mutex
	inflight int
	hosts    map[string]int

	// Failures of fan-out and claims, retried at every poll, are logged
	// when they start, as a reminder, and when they end; Run's goroutine
	// only.
	fanOutage, claimOutage *logthrottle.Outage

	attempts, delivered, failed, fanned atomic.Uint64
}

// NewDispatcher returns a dispatcher on db; nil logger discards.
func NewDispatcher(db Store, cfg Config, logger *slog.Logger) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{db: db, cfg: cfg.withDefaults(), log: logger,
		wake: make(chan struct{}, 1), freed: make(chan struct{}, 1), hosts: map[string]int{},
		fanOutage:   logthrottle.New(logger, slog.LevelError, "webhook: fan-out", remindEvery),
		claimOutage: logthrottle.New(logger, slog.LevelError, "webhook: claim", remindEvery)}
}

// remindEvery is how often (on Config.Clock) a fan-out, claim or listen failure
// that lasts is logged again.
const remindEvery = time.Minute

// QueueDepth is the number of deliveries not yet delivered or failed.
func (d *Dispatcher) QueueDepth(ctx context.Context) (int, error) { return d.db.QueueDepth(ctx) }

// Stats returns the counters since start.
func (d *Dispatcher) Stats() Stats {
	return Stats{Attempts: d.attempts.Load(), Delivered: d.delivered.Load(),
		Failed: d.failed.Load(), Fanned: d.fanned.Load()}
}

// poke wakes the main loop to fan out new notices, without blocking.
func (d *Dispatcher) poke() { signal(d.wake) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run fans out and delivers until ctx is done, then lets the attempts in
// flight finish and records them (for at most Grace; those still waiting
// are cut off, not counted as attempts, and due again at once), so that a
// shutdown rarely loses a receiver's 2xx. It returns nil after ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	// Attempts run on attempt, which outlives ctx by up to Grace.
	attempt, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	var workers sync.WaitGroup
	defer func() {
		idle := make(chan struct{})
		go func() { workers.Wait(); close(idle) }()
		select {
		case <-idle:
		case <-time.After(d.cfg.Grace):
			cutOff()
			<-idle
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.listen(ctx) })
	timer := time.NewTimer(d.cfg.Poll)
	defer timer.Stop()
	fan := true
	for {
		if fan {
			d.fanOut(ctx)
		}
		d.claim(ctx, attempt, &workers)
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			fan = true
		case <-d.freed:
			fan = false
			continue // keep the poll timer running
		case <-timer.C:
			fan = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d.cfg.Poll)
	}
}

// listenRetry is the longest wait before listening again after the
// connection failed (a database restart): the poll may be much slower, and
// the listener is what delivers new notices promptly.
const listenRetry = time.Second

// listen turns committed notices into wake-ups; it reconnects on failure.
// A failure is logged when it starts, then once per remindEvery, and the
// recovery once (logthrottle), meanwhile the poll delivers.
func (d *Dispatcher) listen(ctx context.Context) {
	outage := logthrottle.New(d.log, slog.LevelWarn, "webhook: listening for notices (polling meanwhile)", remindEvery)
	wake := func() { // called on this goroutine, by ListenNotices
		outage.OK(d.cfg.Clock())
		d.poke()
	}
	for ctx.Err() == nil {
		err := d.db.ListenNotices(ctx, wake)
		if err == nil || ctx.Err() != nil {
			continue
		}
		outage.Fail(d.cfg.Clock(), err)
		select {
		case <-ctx.Done():
		case <-time.After(min(d.cfg.Poll, listenRetry)):
		}
	}
}

// fanOut turns all pending notices into deliveries.
func (d *Dispatcher) fanOut(ctx context.Context) {
	for ctx.Err() == nil {
		var subs []bgpwatch.Subscription
		loaded := false
		dctx, cancel := context.WithTimeout(ctx, d.cfg.DBTimeout)
		n, k, err := d.db.FanOutNotices(dctx, 100, func(ctx context.Context, n store.Notice) ([]store.NewDelivery, error) {
			if !loaded { // only when there is something to fan out
				var err error
				if subs, err = d.db.ListSubscriptions(ctx); err != nil {
					return nil, err
				}
				loaded = true
			}
			return d.plan(ctx, subs, n)
		})
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.fanOutage.Fail(d.cfg.Clock(), err)
			}
			return
		}
		d.fanOutage.OK(d.cfg.Clock())
		d.fanned.Add(uint64(k))
		if n == 0 {
			return
		}
		d.log.Debug("webhook: fanned out", "notices", n, "deliveries", k)
	}
}

// plan renders the event of a notice once and picks the subscriptions.
func (d *Dispatcher) plan(ctx context.Context, subs []bgpwatch.Subscription, n store.Notice) ([]store.NewDelivery, error) {
	ev, err := d.db.GetEvent(ctx, n.EventID)
	if errors.Is(err, bgpwatch.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(wire.FromEvent(&ev))
	if err != nil {
		return nil, fmt.Errorf("render event %d: %w", ev.ID, err)
	}
	now := d.cfg.Clock().UTC()
	var out []store.NewDelivery
	for i := range subs {
		if !Matches(&subs[i], &ev) {
			continue
		}
		out = append(out, store.NewDelivery{ID: newUUID(), SubscriptionID: subs[i].ID, EventJSON: js,
			CreatedAt: now, ExpiresAt: now.Add(d.cfg.Expiry)})
	}
	return out, nil
}

// claim leases as many due deliveries as there are free slots and starts
// a worker for each.
func (d *Dispatcher) claim(ctx, attempt context.Context, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		d.mu.Lock()
		free := d.cfg.Workers - d.inflight
		var busy []string
		for h, n := range d.hosts {
			if n >= d.cfg.PerEndpoint {
				busy = append(busy, h)
			}
		}
		d.mu.Unlock()
		if free <= 0 {
			return
		}
		// The claim is not cut off by shutdown: a commit interrupted by
		// cancellation may still have taken effect, leaving deliveries
		// leased to nobody until the lease runs out. Claimed deliveries
		// start on attempt, which shutdown leaves Grace to finish.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.DBTimeout)
		cs, err := d.db.ClaimDeliveries(dctx, store.ClaimRequest{
			Now: d.cfg.Clock(), Lease: d.cfg.Lease, Limit: free, PerHost: d.cfg.PerEndpoint, Busy: busy,
		}, d.acquire)
		cancel()
		if err != nil {
			for _, c := range cs { // leased but the commit failed: give the slots back
				d.release(c.Host)
			}
			if ctx.Err() == nil {
				d.claimOutage.Fail(d.cfg.Clock(), err)
			}
			return
		}
		d.claimOutage.OK(d.cfg.Clock())
		for _, c := range cs {
			wg.Go(func() {
				defer signal(d.freed)
				defer d.release(c.Host)
				d.deliver(attempt, c)
			})
		}
		if len(cs) < free {
			return
		}
	}
}

// acquire takes a slot for host if one is free.
func (d *Dispatcher) acquire(host string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inflight >= d.cfg.Workers || d.hosts[host] >= d.cfg.PerEndpoint {
		return false
	}
	d.inflight++
	d.hosts[host]++
	return true
}

func (d *Dispatcher) release(host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inflight--
	if d.hosts[host]--; d.hosts[host] <= 0 {
		delete(d.hosts, host)
	}
}

// deliver makes one attempt and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, c store.ClaimedDelivery) {
	log := d.log.With("webhook", c.SubscriptionID, "delivery", c.ID, "host", c.Host)
	start := d.cfg.Clock()
	mono := time.Now()
	code, retryAfter, err := d.post(ctx, c, start)
	dur := time.Since(mono)
	// Record even when ctx is cut off: a 2xx must be written down before
	// anything else, or the receiver would get the notice twice.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err != nil && ctx.Err() != nil {
		// Cut off by shutdown, not the receiver's fault: no attempt is
		// counted and the delivery is due again at once.
		if err := d.db.ReleaseDelivery(rctx, c.Seq); err != nil {
			log.Warn("webhook: releasing delivery", "err", err)
		}
		return
	}
	d.attempts.Add(1)
	res := store.AttemptResult{Seq: c.Seq, At: start, StatusCode: code, Duration: dur}
	now := d.cfg.Clock()
	res.Now = now
	switch {
	case err == nil && code >= 200 && code < 300:
		res.Status = store.DeliveryDelivered
	default:
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Error = "HTTP " + strconv.Itoa(code)
		}
		res.Status, res.NextAt = d.schedule(c, now, retryAfter)
	}
	if err := d.record(ctx, log, res, mono.Add(d.cfg.Lease)); err != nil {
		log.Error("webhook: recording attempt", "err", err, "status", res.Status)
		return
	}
	switch res.Status {
	case store.DeliveryDelivered:
		d.delivered.Add(1)
		log.Debug("webhook: delivered", "status", code, "duration", dur)
	case store.DeliveryFailed:
		d.failed.Add(1)
		log.Warn("webhook: giving up after expiry", "status", code, "err", res.Error, "attempts", c.Attempts+1)
	default:
		log.Info("webhook: attempt failed, will retry", "status", code, "err", res.Error, "next", res.NextAt)
	}
}

// record writes an attempt's outcome. While the database is unreachable (a
// restart) it tries again until the lease ends, since a 2xx not written
// down would be sent a second time after it; ctx, the attempt context, is
// cut off Grace after shutdown and ends the tries too.
func (d *Dispatcher) record(ctx context.Context, log *slog.Logger, res store.AttemptResult, until time.Time) error {
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := d.db.RecordAttempt(rctx, res)
		cancel()
		if err == nil {
			if try > 1 {
				log.Info("webhook: attempt recorded", "status", res.Status, "tries", try)
			}
			return nil
		}
		if errors.Is(err, bgpwatch.ErrInvalid) || ctx.Err() != nil || time.Now().Add(wait).After(until) {
			return err
		}
		if try == 1 {
			log.Warn("webhook: recording attempt failed; trying again until the lease ends", "err", err, "status", res.Status)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// schedule picks the next attempt after a failed one: exponential backoff
// with full jitter, at least Retry-After, and never past the expiry (one
// last attempt is made at the expiry time).
func (d *Dispatcher) schedule(c store.ClaimedDelivery, now time.Time, retryAfter time.Duration) (string, time.Time) {
	if !now.Before(c.ExpiresAt) {
		return store.DeliveryFailed, time.Time{}
	}
	wait := retry.Jitter(0, retry.Exp(d.cfg.BaseBackoff, d.cfg.MaxBackoff, c.Attempts+1), mrand.Float64())
	if retryAfter > 0 {
		next := now.Add(retryAfter)
		if next.After(c.ExpiresAt) {
			return store.DeliveryFailed, time.Time{}
		}
		wait = max(wait, retryAfter)
	}
	next := now.Add(wait)
	if next.After(c.ExpiresAt) {
		next = c.ExpiresAt
	}
	return store.DeliveryPending, next
}

// post sends one attempt; it returns the HTTP status (0 without a
// response) and the Retry-After the receiver asked for.
func (d *Dispatcher) post(ctx context.Context, c store.ClaimedDelivery, sentAt time.Time) (int, time.Duration, error) {
	body, err := Body(c.Format, c.Type, c.ID, c.EventJSON, sentAt)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, strings.NewReader(string(body)))
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", unwrapURL(err))
	}
	ts := sentAt.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bgpwatch")
	req.Header.Set(HeaderDelivery, c.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.Secret, ts, body))
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		var ne *netguard.Error
		if errors.As(err, &ne) {
			// Only the kind of range: neither the address a name resolved
			// to nor anything else about it reaches the delivery log.
			return 0, 0, ne
		}
		return 0, 0, unwrapURL(err)
	}
	defer resp.Body.Close()
	// Read (a bounded part of) the answer so the connection can be reused,
	// and so that a receiver hanging after its headers counts as a timeout.
	_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	ra := retry.After(resp.Header.Get("Retry-After"), d.cfg.Clock())
	if rerr != nil && (resp.StatusCode < 200 || resp.StatusCode >= 300) {
		return resp.StatusCode, ra, fmt.Errorf("reading response: %w", rerr)
	}
	return resp.StatusCode, ra, nil
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the URL: URLs
// of incoming webhooks (Slack) carry secrets and must not reach logs.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// newUUID returns a random (version 4) UUID from crypto/rand.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
