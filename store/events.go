package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
)

// Event sources, stored in events.source.
const (
	SourceReplay = "replay"
	SourceLive   = "live"
)

// SaveEvent stores an event under its natural key (scope, country, asn,
// started_at), so saving it again as it evolves, or from a second replay,
// updates one row. The contributing ASNs and the withdrawn-prefix evidence
// are replaced by the event's. When notify is true, the webhook outbox rows
// ('event.started' for a new event, 'event.ended' once it has an end) are
// written in the same transaction; they are unique per event and type, so
// repeated saves never notify twice. It sets ev.ID and returns it.
func (db *DB) SaveEvent(ctx context.Context, ev *bgpwatch.Event, source string, notify bool) (_ int64, err error) {
	defer markUnavailable(&err)
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("save event: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	id, err := saveEvent(ctx, tx, ev, source, notify)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("save event %d: commit: %w", id, err)
	}
	ev.ID = id
	return id, nil
}

// saveEvent is SaveEvent within tx.
func saveEvent(ctx context.Context, tx pgx.Tx, ev *bgpwatch.Event, source string, notify bool) (int64, error) {
	if ev.Scope != bgpwatch.ScopeCountry && ev.Scope != bgpwatch.ScopeASN {
		return 0, fmt.Errorf("%w event scope %q", bgpwatch.ErrInvalid, ev.Scope)
	}
	if source == "" {
		source = SourceReplay
	}
	access := string(ev.Access)
	switch ev.Access {
	case bgpwatch.AccessFixed, bgpwatch.AccessMobile, bgpwatch.AccessMixed:
	default:
		access = string(bgpwatch.AccessUnknown)
	}
	asn := int64(ev.ASN)
	if ev.Scope == bgpwatch.ScopeCountry {
		asn = 0
	}
	var ended *time.Time
	if !ev.EndedAt.IsZero() {
		t := ev.EndedAt.UTC()
		ended = &t
	}
	prefixes := dedupePrefixes(ev.Withdrawn)
	count := max(ev.WithdrawnCount, len(prefixes))

	var id int64
	var err error
	var inserted bool
	// The WHERE clause skips rows that would not change, so that saving the
	// same event again (a second replay) leaves even updated_at alone.
	err = tx.QueryRow(ctx, `
		INSERT INTO events (scope, country, asn, access, started_at, ended_at, baseline_slash24,
		                    min_slash24, drop_ratio, alert_area, withdrawn_prefixes, source, settings_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, nullif($13, ''))
		ON CONFLICT (scope, country, asn, started_at) DO UPDATE SET
		    access = EXCLUDED.access, ended_at = EXCLUDED.ended_at,
		    baseline_slash24 = EXCLUDED.baseline_slash24, min_slash24 = EXCLUDED.min_slash24,
		    drop_ratio = EXCLUDED.drop_ratio, alert_area = EXCLUDED.alert_area,
		    withdrawn_prefixes = EXCLUDED.withdrawn_prefixes, settings_hash = EXCLUDED.settings_hash,
		    updated_at = now()
		WHERE (events.access, events.ended_at, events.baseline_slash24, events.min_slash24,
		       events.drop_ratio, events.alert_area, events.withdrawn_prefixes, events.settings_hash)
		      IS DISTINCT FROM
		      (EXCLUDED.access, EXCLUDED.ended_at, EXCLUDED.baseline_slash24, EXCLUDED.min_slash24,
		       EXCLUDED.drop_ratio, EXCLUDED.alert_area, EXCLUDED.withdrawn_prefixes, EXCLUDED.settings_hash)
		RETURNING id, (xmax = 0)`,
		string(ev.Scope), ev.Country, asn, access, ev.StartedAt.UTC(), ended,
		ev.BaselineSlash24, ev.MinSlash24, ev.DropRatio, ev.AlertArea, count, source, ev.SettingsHash,
	).Scan(&id, &inserted)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT id FROM events WHERE scope = $1 AND country = $2 AND asn = $3 AND started_at = $4`,
			string(ev.Scope), ev.Country, asn, ev.StartedAt.UTC()).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("save event: upsert: %w", err)
	}

	if _, err := tx.Exec(ctx, `DELETE FROM event_asns WHERE event_id = $1`, id); err != nil {
		return 0, fmt.Errorf("save event %d: clear asns: %w", id, err)
	}
	seen := make(map[bgpwatch.ASN]bool, len(ev.ASNs))
	var asnRows [][]any
	for _, a := range ev.ASNs {
		if seen[a.ASN] {
			continue
		}
		seen[a.ASN] = true
		asnRows = append(asnRows, []any{id, int64(a.ASN), int32(a.BaselineSlash24), int32(a.MinSlash24)})
	}
	if len(asnRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_asns"},
			[]string{"event_id", "asn", "baseline_slash24", "min_slash24"}, pgx.CopyFromRows(asnRows)); err != nil {
			return 0, fmt.Errorf("save event %d: copy asns: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM event_prefixes WHERE event_id = $1`, id); err != nil {
		return 0, fmt.Errorf("save event %d: clear prefixes: %w", id, err)
	}
	if len(prefixes) > 0 {
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(prefixes) {
				return nil, nil
			}
			p := &prefixes[i]
			i++
			return []any{id, p.Prefix, int64(p.Origin), p.WithdrawnAt.UTC()}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_prefixes"},
			[]string{"event_id", "prefix", "origin_asn", "withdrawn_at"}, src); err != nil {
			return 0, fmt.Errorf("save event %d: copy prefixes: %w", id, err)
		}
	}

	if notify {
		if inserted {
			if _, err := tx.Exec(ctx, `INSERT INTO event_notices (event_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				id, bgpwatch.NoticeStarted); err != nil {
				return 0, fmt.Errorf("save event %d: notice: %w", id, err)
			}
		}
		if ended != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO event_notices (event_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				id, bgpwatch.NoticeEnded); err != nil {
				return 0, fmt.Errorf("save event %d: notice: %w", id, err)
			}
		}
	}
	return id, nil
}

// PutSettings stores the record of a set of visibility and detection
// settings under its hash (see config.Fingerprint), once: events saved
// with that SettingsHash refer to it.
func (db *DB) PutSettings(ctx context.Context, hash string, settings []byte) (err error) {
	defer markUnavailable(&err)
	if hash == "" {
		return fmt.Errorf("%w settings hash: empty", bgpwatch.ErrInvalid)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO detection_settings (hash, settings) VALUES ($1, $2)
		ON CONFLICT (hash) DO NOTHING`, hash, string(settings)); err != nil {
		return fmt.Errorf("put settings %s: %w", hash, err)
	}
	return nil
}

// dedupePrefixes keeps the first entry per prefix, masked to its length
// (PostgreSQL's cidr rejects host bits).
func dedupePrefixes(in []bgpwatch.WithdrawnPrefix) []bgpwatch.WithdrawnPrefix {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[netip.Prefix]bool, len(in))
	out := make([]bgpwatch.WithdrawnPrefix, 0, len(in))
	for _, p := range in {
		if !p.Prefix.IsValid() {
			continue
		}
		p.Prefix = p.Prefix.Masked()
		if seen[p.Prefix] {
			continue
		}
		seen[p.Prefix] = true
		out = append(out, p)
	}
	return out
}

const eventColumns = `e.id, e.scope, e.country, e.asn, e.access, e.started_at, e.ended_at,
	e.baseline_slash24, e.min_slash24, e.drop_ratio, e.alert_area, e.withdrawn_prefixes,
	coalesce(e.settings_hash, '')`

func scanEvent(r pgx.Row) (bgpwatch.Event, error) {
	var ev bgpwatch.Event
	var scope, access string
	var asn int64
	var ended *time.Time
	var base, minv, wd int32
	err := r.Scan(&ev.ID, &scope, &ev.Country, &asn, &access, &ev.StartedAt, &ended,
		&base, &minv, &ev.DropRatio, &ev.AlertArea, &wd, &ev.SettingsHash)
	if err != nil {
		return ev, err
	}
	ev.Scope, ev.ASN, ev.Access = bgpwatch.Scope(scope), bgpwatch.ASN(asn), bgpwatch.Access(access)
	ev.StartedAt = ev.StartedAt.UTC()
	if ended != nil {
		ev.EndedAt = ended.UTC()
	}
	ev.BaselineSlash24, ev.MinSlash24, ev.WithdrawnCount = int(base), int(minv), int(wd)
	return ev, nil
}

// GetEvent returns one event with its contributing ASNs (names and access
// from the asns table) and its withdrawn-prefix count; the evidence itself
// is paged with EventPrefixes. The error wraps bgpwatch.ErrNotFound when
// there is no such event.
func (db *DB) GetEvent(ctx context.Context, id int64) (_ bgpwatch.Event, err error) {
	defer markUnavailable(&err)
	ev, err := scanEvent(db.Pool().QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ev, fmt.Errorf("event %d: %w", id, bgpwatch.ErrNotFound)
	}
	if err != nil {
		return ev, fmt.Errorf("event %d: %w", id, err)
	}
	evs := []bgpwatch.Event{ev}
	if err := db.loadEventASNs(ctx, evs); err != nil {
		return ev, err
	}
	return evs[0], nil
}

// loadEventASNs fills ASNs of the events, largest baseline first.
func (db *DB) loadEventASNs(ctx context.Context, evs []bgpwatch.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]int64, len(evs))
	idx := make(map[int64]int, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
		idx[evs[i].ID] = i
	}
	rows, err := db.Pool().Query(ctx, `
		SELECT ea.event_id, ea.asn, coalesce(a.name, ''), coalesce(a.access, 'unknown'),
		       coalesce(a.access_source, ''), a.access_date,
		       ea.baseline_slash24, ea.min_slash24,
		       a.users, a.users_share, a.users_country, a.users_source, a.users_date
		FROM event_asns ea LEFT JOIN asns a ON a.asn = ea.asn
		WHERE ea.event_id = ANY($1)
		ORDER BY ea.event_id, ea.baseline_slash24 DESC, ea.asn`, ids)
	if err != nil {
		return fmt.Errorf("event asns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, asn int64
		var name, access, accSrc string
		var accDate, usersDate *time.Time
		var base, minv int32
		var users *int64
		var share *float64
		var usersCC, usersSrc *string
		if err := rows.Scan(&id, &asn, &name, &access, &accSrc, &accDate, &base, &minv,
			&users, &share, &usersCC, &usersSrc, &usersDate); err != nil {
			return fmt.Errorf("event asns: %w", err)
		}
		i := idx[id]
		ea := bgpwatch.EventASN{
			ASN: bgpwatch.ASN(asn), Name: name, Access: bgpwatch.Access(access), AccessSource: accSrc,
			BaselineSlash24: int(base), MinSlash24: int(minv),
			Users: usersOf(users, share, usersCC, usersSrc, usersDate),
		}
		if accDate != nil {
			ea.AccessDate = *accDate
		}
		evs[i].ASNs = append(evs[i].ASNs, ea)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("event asns: %w", err)
	}
	// Users and access provenance are joined at read time: a metadata
	// refresh updates old events too.
	for i := range evs {
		evs[i].Impact()
	}
	return nil
}

// ListEvents returns events newest first (started_at DESC, id DESC) and the
// cursor of the next page ("" on the last page). A malformed cursor is an
// error wrapping bgpwatch.ErrInvalid.
func (db *DB) ListEvents(ctx context.Context, f bgpwatch.EventFilter) (_ []bgpwatch.Event, _ string, err error) {
	defer markUnavailable(&err)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Country != "" {
		where = append(where, "e.country = "+arg(f.Country))
	}
	if f.Scope != "" {
		where = append(where, "e.scope = "+arg(string(f.Scope)))
	}
	if f.ASN != 0 {
		a := arg(int64(f.ASN))
		where = append(where, "(e.asn = "+a+" OR EXISTS (SELECT 1 FROM event_asns x WHERE x.event_id = e.id AND x.asn = "+a+"))")
	}
	if !f.From.IsZero() {
		where = append(where, "(e.ended_at IS NULL OR e.ended_at >= "+arg(f.From.UTC())+")")
	}
	if !f.To.IsZero() {
		where = append(where, "e.started_at < "+arg(f.To.UTC()))
	}
	if f.Cursor != "" {
		t, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(e.started_at, e.id) < ("+arg(t)+", "+arg(id)+")")
	}
	q := `SELECT ` + eventColumns + ` FROM events e`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY e.started_at DESC, e.id DESC LIMIT ` + arg(limit+1)
	rows, err := db.Pool().Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	next := ""
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[limit-1]
		next = encodeCursor(last.StartedAt, last.ID)
	}
	if err := db.loadEventASNs(ctx, evs); err != nil {
		return nil, "", err
	}
	return evs, next, nil
}

func encodeCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (time.Time, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		ts, ids, ok := strings.Cut(string(b), ".")
		if ok {
			us, err1 := strconv.ParseInt(ts, 10, 64)
			id, err2 := strconv.ParseInt(ids, 10, 64)
			if err1 == nil && err2 == nil {
				return time.UnixMicro(us).UTC(), id, nil
			}
		}
	}
	return time.Time{}, 0, fmt.Errorf("%w cursor %q", bgpwatch.ErrInvalid, c)
}

// EventPrefixes pages through an event's withdrawn-prefix evidence in
// withdrawal order, limit (default 1000, at most 10000) at a time. It
// returns the next cursor ("" on the last page); the error wraps
// bgpwatch.ErrNotFound when there is no such event.
func (db *DB) EventPrefixes(ctx context.Context, id int64, limit int, cursor string) (_ []bgpwatch.WithdrawnPrefix, _ string, err error) {
	defer markUnavailable(&err)
	if limit <= 0 {
		limit = 1000
	}
	limit = min(limit, 10000)
	var exists bool
	if err := db.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)`, id).Scan(&exists); err != nil {
		return nil, "", fmt.Errorf("event %d prefixes: %w", id, err)
	}
	if !exists {
		return nil, "", fmt.Errorf("event %d: %w", id, bgpwatch.ErrNotFound)
	}
	q := `SELECT prefix, origin_asn, withdrawn_at FROM event_prefixes WHERE event_id = $1`
	args := []any{id}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		ts, ps, ok := strings.Cut(string(b), " ")
		us, err1 := strconv.ParseInt(ts, 10, 64)
		p, err2 := netip.ParsePrefix(ps)
		if err != nil || !ok || err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("%w cursor %q", bgpwatch.ErrInvalid, cursor)
		}
		q += ` AND (withdrawn_at, prefix) > ($2, $3)`
		args = append(args, time.UnixMicro(us).UTC(), p)
	}
	q += ` ORDER BY withdrawn_at, prefix LIMIT ` + strconv.Itoa(limit+1)
	rows, err := db.Pool().Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("event %d prefixes: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.WithdrawnPrefix, error) {
		var w bgpwatch.WithdrawnPrefix
		var origin int64
		err := r.Scan(&w.Prefix, &origin, &w.WithdrawnAt)
		w.Origin, w.WithdrawnAt = bgpwatch.ASN(origin), w.WithdrawnAt.UTC()
		return w, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("event %d prefixes: %w", id, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.WithdrawnAt.UnixMicro(), 10) + " " + last.Prefix.String()))
	}
	return out, next, nil
}

// usersOf builds a users estimate from nullable asns columns; nil when
// there is none.
func usersOf(users *int64, share *float64, cc, src *string, day *time.Time) *bgpwatch.Users {
	if users == nil || share == nil {
		return nil
	}
	u := &bgpwatch.Users{Estimate: *users, Share: *share}
	if cc != nil {
		u.Country = *cc
	}
	if src != nil {
		u.Source = *src
	}
	if day != nil {
		u.Date = *day
	}
	return u
}
