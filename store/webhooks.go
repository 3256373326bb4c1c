package store

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
)

// Delivery statuses, stored in webhook_deliveries.status.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Subscription formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// noticesChannel is the LISTEN channel the event_notices trigger signals.
const noticesChannel = "bgpwatch_notices"

// CreateSubscription validates and stores a webhook subscription; it
// normalises the filters (upper-case countries, de-duplicated lists, format
// "json" when empty) and sets s.ID and s.CreatedAt. Bad input wraps
// bgpwatch.ErrInvalid.
func (db *DB) CreateSubscription(ctx context.Context, s *bgpwatch.Subscription) (err error) {
	defer markUnavailable(&err)
	host, err := validateSubscription(s)
	if err != nil {
		return err
	}
	asns := make([]int64, len(s.ASNs))
	for i, a := range s.ASNs {
		asns[i] = int64(a)
	}
	err = db.Pool().QueryRow(ctx, `
		INSERT INTO webhooks (url, host, secret, countries, asns, scopes, access, min_drop_ratio, format)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING id, created_at`,
		s.URL, host, s.Secret, s.Countries, asns, scopeStrings(s.Scopes), accessStrings(s.Access), s.MinDropRatio, s.Format,
	).Scan(&s.ID, &s.CreatedAt)
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	return nil
}

// validateSubscription normalises s in place and returns its URL host.
func validateSubscription(s *bgpwatch.Subscription) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w webhook url %q: want an absolute http or https URL", bgpwatch.ErrInvalid, s.URL)
	}
	s.URL = u.String()
	if s.Secret == "" {
		return "", fmt.Errorf("%w webhook secret: must not be empty", bgpwatch.ErrInvalid)
	}
	cs := make([]string, 0, len(s.Countries))
	for _, c := range s.Countries {
		cc, err := bgpwatch.ParseCountry(c)
		if err != nil {
			return "", err
		}
		cs = appendUnique(cs, cc)
	}
	s.Countries = cs
	as := make([]bgpwatch.ASN, 0, len(s.ASNs))
	for _, a := range s.ASNs {
		as = appendUnique(as, a)
	}
	s.ASNs = as
	ss := make([]bgpwatch.Scope, 0, len(s.Scopes))
	for _, sc := range s.Scopes {
		sc = bgpwatch.Scope(strings.ToLower(string(sc)))
		if sc != bgpwatch.ScopeCountry && sc != bgpwatch.ScopeASN {
			return "", fmt.Errorf("%w webhook scope %q: want country or asn", bgpwatch.ErrInvalid, sc)
		}
		ss = appendUnique(ss, sc)
	}
	s.Scopes = ss
	ac := make([]bgpwatch.Access, 0, len(s.Access))
	for _, a := range s.Access {
		pa, err := bgpwatch.ParseAccess(string(a))
		if err != nil {
			return "", err
		}
		ac = appendUnique(ac, pa)
	}
	s.Access = ac
	if s.MinDropRatio < 0 || s.MinDropRatio > 1 || s.MinDropRatio != s.MinDropRatio {
		return "", fmt.Errorf("%w min_drop_ratio %v: want a number from 0 to 1", bgpwatch.ErrInvalid, s.MinDropRatio)
	}
	s.Format = strings.ToLower(s.Format)
	switch s.Format {
	case "":
		s.Format = FormatJSON
	case FormatJSON, FormatSlack:
	default:
		return "", fmt.Errorf("%w webhook format %q: want json or slack", bgpwatch.ErrInvalid, s.Format)
	}
	return u.Host, nil
}

func appendUnique[T comparable](s []T, v T) []T {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func scopeStrings(in []bgpwatch.Scope) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

func accessStrings(in []bgpwatch.Access) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

const subscriptionColumns = `id, url, secret, countries, asns, scopes, access, min_drop_ratio, format, created_at`

func scanSubscription(r pgx.Row) (bgpwatch.Subscription, error) {
	var s bgpwatch.Subscription
	var asns []int64
	var scopes, access []string
	if err := r.Scan(&s.ID, &s.URL, &s.Secret, &s.Countries, &asns, &scopes, &access, &s.MinDropRatio, &s.Format, &s.CreatedAt); err != nil {
		return s, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	for _, a := range asns {
		s.ASNs = append(s.ASNs, bgpwatch.ASN(a))
	}
	for _, sc := range scopes {
		s.Scopes = append(s.Scopes, bgpwatch.Scope(sc))
	}
	for _, a := range access {
		s.Access = append(s.Access, bgpwatch.Access(a))
	}
	return s, nil
}

// ListSubscriptions returns every subscription, oldest first, secrets
// included (the API strips them; the dispatcher signs with them).
func (db *DB) ListSubscriptions(ctx context.Context) (_ []bgpwatch.Subscription, err error) {
	defer markUnavailable(&err)
	rows, err := db.Pool().Query(ctx, `SELECT `+subscriptionColumns+` FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// DeleteSubscription removes a subscription with its queued deliveries and
// their log; the error wraps bgpwatch.ErrNotFound when there is none.
func (db *DB) DeleteSubscription(ctx context.Context, id int64) (err error) {
	defer markUnavailable(&err)
	tag, err := db.Pool().Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %d: %w", id, bgpwatch.ErrNotFound)
	}
	return nil
}

const deliveryColumns = `d.delivery_id::text, d.webhook_id, d.event_id, d.type, d.status, d.attempts,
	d.last_status_code, d.last_error, d.created_at, d.next_attempt_at, d.delivered_at`

func scanDelivery(r pgx.Row, extra ...any) (bgpwatch.Delivery, error) {
	var d bgpwatch.Delivery
	var delivered *time.Time
	dest := append([]any{&d.ID, &d.SubscriptionID, &d.EventID, &d.Type, &d.Status, &d.Attempts,
		&d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.NextAttemptAt, &delivered}, extra...)
	if err := r.Scan(dest...); err != nil {
		return d, err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	d.NextAttemptAt = d.NextAttemptAt.UTC()
	if delivered != nil {
		d.DeliveredAt = delivered.UTC()
	}
	return d, nil
}

// ListDeliveries returns a subscription's deliveries, newest first, at most
// limit (default 50, at most 1000) after cursor ("" for the first page),
// and the cursor of the next page ("" when there is none). The error wraps
// bgpwatch.ErrNotFound when the subscription does not exist and
// bgpwatch.ErrInvalid for a malformed cursor.
func (db *DB) ListDeliveries(ctx context.Context, subID int64, limit int, cursor string) (_ []bgpwatch.Delivery, _ string, err error) {
	defer markUnavailable(&err)
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	after := int64(1<<63 - 1)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", fmt.Errorf("%w cursor %q", bgpwatch.ErrInvalid, cursor)
		}
		after = n
	}
	var exists bool
	if err := db.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)`, subID).Scan(&exists); err != nil {
		return nil, "", fmt.Errorf("list deliveries of webhook %d: %w", subID, err)
	}
	if !exists {
		return nil, "", fmt.Errorf("webhook %d: %w", subID, bgpwatch.ErrNotFound)
	}
	rows, err := db.Pool().Query(ctx, `SELECT `+deliveryColumns+`, d.seq FROM webhook_deliveries d
		WHERE d.webhook_id = $1 AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3`, subID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of webhook %d: %w", subID, err)
	}
	var seqs []int64
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Delivery, error) {
		var seq int64
		d, err := scanDelivery(r, &seq)
		seqs = append(seqs, seq)
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of webhook %d: %w", subID, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(seqs[limit-1], 10)
	}
	return out, next, nil
}

// Notice is one outbox row (event_notices) waiting to be fanned out.
type Notice struct {
	ID        int64
	EventID   int64
	Type      string // bgpwatch.NoticeStarted or bgpwatch.NoticeEnded
	CreatedAt time.Time
}

// NewDelivery is a delivery to queue for a notice.
type NewDelivery struct {
	ID             string // a fresh UUID; the delivery_id of every attempt
	SubscriptionID int64
	EventJSON      []byte // the wire.Event to send, rendered once
	CreatedAt      time.Time
	ExpiresAt      time.Time // give up after this
}

// FanOutNotices takes up to limit notices not yet fanned out (skipping those
// another dispatcher holds), asks plan which deliveries each needs, and in
// one transaction inserts those deliveries and marks the notices fanned
// out. A delivery for a (subscription, event, type) that already exists is
// left alone, so a notice is delivered at most once per subscription. It
// returns the number of notices and deliveries written.
func (db *DB) FanOutNotices(ctx context.Context, limit int, plan func(context.Context, Notice) ([]NewDelivery, error)) (notices, deliveries int, err error) {
	defer markUnavailable(&err)
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("fan out: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	rows, err := tx.Query(ctx, `SELECT id, event_id, type, created_at FROM event_notices
		WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("fan out: select notices: %w", err)
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notice, error) {
		var n Notice
		err := r.Scan(&n.ID, &n.EventID, &n.Type, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("fan out: select notices: %w", err)
	}
	if len(ns) == 0 {
		return 0, 0, nil
	}
	ids := make([]int64, 0, len(ns))
	for _, n := range ns {
		ds, err := plan(ctx, n)
		if err != nil {
			return 0, 0, fmt.Errorf("fan out notice %d: %w", n.ID, err)
		}
		for _, d := range ds {
			// The subscription may have been deleted meanwhile: insert from
			// a SELECT so that a vanished one is skipped, not an error.
			tag, err := tx.Exec(ctx, `
				INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, type, event_json,
				                                created_at, expires_at, next_attempt_at)
				SELECT $1::uuid, w.id, $3, $4, $5::json, $6, $7, $6 FROM webhooks w WHERE w.id = $2
				ON CONFLICT (webhook_id, event_id, type) DO NOTHING`,
				d.ID, d.SubscriptionID, n.EventID, n.Type, string(d.EventJSON), d.CreatedAt.UTC(), d.ExpiresAt.UTC())
			if err != nil {
				return 0, 0, fmt.Errorf("fan out notice %d: insert delivery: %w", n.ID, err)
			}
			deliveries += int(tag.RowsAffected())
		}
		ids = append(ids, n.ID)
	}
	if _, err := tx.Exec(ctx, `UPDATE event_notices SET fanned_out_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return 0, 0, fmt.Errorf("fan out: mark notices: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("fan out: commit: %w", err)
	}
	return len(ids), deliveries, nil
}

// ClaimedDelivery is a delivery a worker holds under lease, with all it
// needs to send it.
type ClaimedDelivery struct {
	Seq            int64
	ID             string // delivery_id
	SubscriptionID int64
	URL            string
	Host           string
	Secret         string
	Format         string
	Type           string
	EventJSON      []byte
	Attempts       int // attempts made before this one
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// ClaimRequest says which due deliveries a dispatcher can take now.
type ClaimRequest struct {
	Now     time.Time
	Lease   time.Duration // how long the claim holds if the worker dies
	Limit   int           // free worker slots
	PerHost int           // at most this many candidates per URL host
	// Busy lists hosts that have no free slot; their deliveries are skipped
	// so that they cannot crowd out the others.
	Busy []string
}

// ClaimDeliveries leases due pending deliveries (next_attempt_at <= Now, no
// live lease) to the caller, oldest due first, skipping rows another
// dispatcher has locked. accept is asked for each candidate's host (it
// takes a per-host slot and reports false when none is free); refused
// candidates stay untouched.
func (db *DB) ClaimDeliveries(ctx context.Context, req ClaimRequest, accept func(host string) bool) (_ []ClaimedDelivery, err error) {
	defer markUnavailable(&err)
	if req.Limit <= 0 {
		return nil, nil
	}
	if req.PerHost <= 0 {
		req.PerHost = req.Limit
	}
	busy := req.Busy
	if busy == nil {
		busy = []string{}
	}
	now := req.Now.UTC()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	// The inner query ranks due rows per host so that one slow host with a
	// long backlog cannot fill the candidate list; the outer one locks and
	// re-checks the rows.
	rows, err := tx.Query(ctx, `
		SELECT d.seq, d.delivery_id::text, d.webhook_id, w.url, w.host, w.secret, w.format, d.type,
		       d.event_json::text, d.attempts, d.created_at, d.expires_at
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.seq IN (
		    SELECT seq FROM (
		        SELECT d2.seq, d2.next_attempt_at,
		               row_number() OVER (PARTITION BY w2.host ORDER BY d2.next_attempt_at, d2.seq) AS rn
		        FROM webhook_deliveries d2 JOIN webhooks w2 ON w2.id = d2.webhook_id
		        WHERE d2.status = 'pending' AND d2.next_attempt_at <= $1
		          AND (d2.locked_until IS NULL OR d2.locked_until <= $1)
		          AND w2.host <> ALL ($2::text[])
		    ) c WHERE c.rn <= $3 ORDER BY c.next_attempt_at, c.seq LIMIT $4)
		  AND d.status = 'pending' AND d.next_attempt_at <= $1
		  AND (d.locked_until IS NULL OR d.locked_until <= $1)
		ORDER BY d.next_attempt_at, d.seq
		FOR UPDATE OF d SKIP LOCKED`,
		now, busy, req.PerHost, req.Limit*2)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimedDelivery, error) {
		var c ClaimedDelivery
		var ev string
		err := r.Scan(&c.Seq, &c.ID, &c.SubscriptionID, &c.URL, &c.Host, &c.Secret, &c.Format, &c.Type,
			&ev, &c.Attempts, &c.CreatedAt, &c.ExpiresAt)
		c.EventJSON = []byte(ev)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	var out []ClaimedDelivery
	var seqs []int64
	for _, c := range cands {
		if len(out) >= req.Limit {
			break
		}
		if !accept(c.Host) {
			continue
		}
		out = append(out, c)
		seqs = append(seqs, c.Seq)
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET locked_until = $1 WHERE seq = ANY($2)`,
		now.Add(req.Lease), seqs); err != nil {
		return out, fmt.Errorf("claim deliveries: lease: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return out, fmt.Errorf("claim deliveries: commit: %w", err)
	}
	return out, nil
}

// AttemptResult is the outcome of one HTTP attempt of a claimed delivery.
type AttemptResult struct {
	Seq        int64
	At         time.Time // when the attempt started
	StatusCode int       // 0 when no HTTP response arrived
	Error      string    // "" on success
	Duration   time.Duration
	Status     string    // DeliveryDelivered, DeliveryPending (retry) or DeliveryFailed
	NextAt     time.Time // next attempt when Status is DeliveryPending
	Now        time.Time // recording time (delivered_at)
}

// RecordAttempt logs an attempt and moves the delivery on (delivered,
// retry at NextAt, or failed) and ends its lease, in one transaction. A
// delivery that is no longer pending is left as it is.
func (db *DB) RecordAttempt(ctx context.Context, a AttemptResult) (err error) {
	defer markUnavailable(&err)
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("record attempt: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	var delivered, next any
	switch a.Status {
	case DeliveryDelivered:
		delivered = a.Now.UTC()
	case DeliveryPending:
		next = a.NextAt.UTC()
	case DeliveryFailed:
	default:
		return fmt.Errorf("record attempt: %w status %q", bgpwatch.ErrInvalid, a.Status)
	}
	tag, err := tx.Exec(ctx, `
		UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_status_code = $3,
		       last_error = $4, delivered_at = $5, next_attempt_at = COALESCE($6, next_attempt_at),
		       locked_until = NULL
		WHERE seq = $1 AND status = 'pending'`,
		a.Seq, a.Status, a.StatusCode, a.Error, delivered, next)
	if err != nil {
		return fmt.Errorf("record attempt: update: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_seq, attempted_at, status_code, error, duration_ms)
		VALUES ($1, $2, $3, $4, $5)`,
		a.Seq, a.At.UTC(), a.StatusCode, a.Error, float64(a.Duration)/float64(time.Millisecond)); err != nil {
		return fmt.Errorf("record attempt: log: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record attempt: commit: %w", err)
	}
	return nil
}

// ReleaseDelivery ends the lease on a delivery without recording an
// attempt (the dispatcher is shutting down), so that it is due again at once.
func (db *DB) ReleaseDelivery(ctx context.Context, seq int64) (err error) {
	defer markUnavailable(&err)
	if _, err := db.Pool().Exec(ctx, `UPDATE webhook_deliveries SET locked_until = NULL
		WHERE seq = $1 AND status = 'pending'`, seq); err != nil {
		return fmt.Errorf("release delivery: %w", err)
	}
	return nil
}

// QueueDepth is the number of deliveries still pending.
func (db *DB) QueueDepth(ctx context.Context) (_ int, err error) {
	defer markUnavailable(&err)
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// ListenNotices calls wake whenever an event_notices row commits (a
// trigger NOTIFYs bgpwatch_notices), and once right after it starts
// listening. It holds one pooled connection and returns when ctx is done
// (nil) or the connection fails.
func (db *DB) ListenNotices(ctx context.Context, wake func()) (err error) {
	defer markUnavailable(&err)
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen notices: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+noticesChannel); err != nil {
		return fmt.Errorf("listen notices: %w", err)
	}
	wake()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				// The connection may be mid-wait; do not hand it back to the pool.
				conn.Hijack().Close(context.Background()) // closing a dead-ended connection
				return nil
			}
			return fmt.Errorf("listen notices: %w", err)
		}
		wake()
	}
}
