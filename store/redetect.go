package store

// What `bgpwatch detect` needs: the ASNs' countries and access types, the
// stored events of a range with everything they carry, and replacing them
// in one transaction.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
)

// ASNInfos returns the registry data of every network of the asns table
// (name, country, access type with its provenance), by ASN.
func (db *DB) ASNInfos(ctx context.Context) (_ map[bgpwatch.ASN]bgpwatch.ASNInfo, err error) {
	defer markUnavailable(&err)
	return db.asnInfos(ctx, "asn infos", "")
}

// RangeEvents returns the events of source that started in [from, to),
// oldest first, with their contributing ASNs and all their evidence.
func (db *DB) RangeEvents(ctx context.Context, source string, from, to time.Time) (_ []bgpwatch.Event, err error) {
	defer markUnavailable(&err)
	rows, err := db.Pool().Query(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.source = $1 AND e.started_at >= $2 AND e.started_at < $3
		ORDER BY e.started_at, e.id`, source, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("range events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("range events: %w", err)
	}
	if err := db.loadEventASNs(ctx, evs); err != nil {
		return nil, err
	}
	if err := db.loadEvidence(ctx, evs, time.Time{}); err != nil {
		return nil, err
	}
	return evs, nil
}

// EventReplacement is the new set of events of one source for the events
// that started in [From, To).
type EventReplacement struct {
	Source   string
	From, To time.Time
	// Events are the new events, all starting in [From, To). One with an
	// ID keeps that stored event's row (and id, notices and deliveries)
	// under its new values, start included; the others are inserted.
	Events []bgpwatch.Event
	// Notify queues 'event.started' for inserted events and 'event.ended'
	// for events that have an end (once per event, as SaveEvent does).
	Notify bool
}

// ReplaceStats counts what ReplaceEvents did.
type ReplaceStats struct {
	Kept     int `json:"kept"`     // stored events that kept their id
	Inserted int `json:"inserted"` // new events
	Deleted  int `json:"deleted"`  // stored events without a successor
}

// ErrEventConflict is returned by ReplaceEvents when a new event has the
// natural key of a stored event it does not replace (another source's).
var ErrEventConflict = errors.New("event conflicts with a stored event it does not replace")

// ReplaceEvents replaces the events of r.Source that started in
// [r.From, r.To) by r.Events, in one transaction: stored events without a
// successor are deleted (with their evidence, notices and deliveries),
// those named by an event's ID are updated in place, the others inserted.
func (db *DB) ReplaceEvents(ctx context.Context, r EventReplacement) (_ ReplaceStats, err error) {
	defer markUnavailable(&err)
	var st ReplaceStats
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return st, fmt.Errorf("replace events: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	rows, err := tx.Query(ctx, `SELECT id FROM events WHERE source = $1 AND started_at >= $2 AND started_at < $3 FOR UPDATE`,
		r.Source, r.From.UTC(), r.To.UTC())
	if err != nil {
		return st, fmt.Errorf("replace events: lock: %w", err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return st, fmt.Errorf("replace events: lock: %w", err)
	}
	inRange := make(map[int64]bool, len(stored))
	for _, id := range stored {
		inRange[id] = true
	}
	keep := map[int64]bool{}
	for i := range r.Events {
		ev := &r.Events[i]
		if ev.StartedAt.Before(r.From) || !ev.StartedAt.Before(r.To) {
			return st, fmt.Errorf("%w: replace events: event started at %s, outside [%s, %s)", bgpwatch.ErrInvalid, ev.StartedAt, r.From, r.To)
		}
		if ev.ID == 0 {
			continue
		}
		if !inRange[ev.ID] || keep[ev.ID] {
			return st, fmt.Errorf("%w: replace events: event id %d is not a stored event of the range, or named twice", bgpwatch.ErrInvalid, ev.ID)
		}
		keep[ev.ID] = true
	}
	var gone, kept []int64
	for _, id := range stored {
		if keep[id] {
			kept = append(kept, id)
		} else {
			gone = append(gone, id)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM events WHERE id = ANY($1)`, gone); err != nil {
		return st, fmt.Errorf("replace events: delete: %w", err)
	}
	// Kept rows take their new natural keys; moved out of the way first,
	// so that two of them trading starts never collide.
	if _, err := tx.Exec(ctx, `UPDATE events SET started_at = started_at - interval '5000 years' WHERE id = ANY($1)`, kept); err != nil {
		return st, fmt.Errorf("replace events: rekey: %w", err)
	}
	for i := range r.Events {
		ev := &r.Events[i]
		if ev.ID == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET started_at = $2 WHERE id = $1`, ev.ID, ev.StartedAt.UTC()); err != nil {
			return st, fmt.Errorf("replace events: rekey %d: %w (%w)", ev.ID, ErrEventConflict, err)
		}
	}
	for i := range r.Events {
		ev := &r.Events[i]
		want := ev.ID
		id, err := saveEvent(ctx, tx, ev, r.Source, r.Notify)
		if err != nil {
			return st, fmt.Errorf("replace events: %w", err)
		}
		if want != 0 && id != want || want == 0 && keep[id] {
			return st, fmt.Errorf("replace events: %s %s %d at %s: %w", ev.Scope, ev.Country, ev.ASN, ev.StartedAt, ErrEventConflict)
		}
		if want == 0 {
			var src string
			if err := tx.QueryRow(ctx, `SELECT source FROM events WHERE id = $1`, id).Scan(&src); err != nil {
				return st, fmt.Errorf("replace events: %w", err)
			}
			if src != r.Source {
				return st, fmt.Errorf("replace events: %s %s %d at %s (%s): %w", ev.Scope, ev.Country, ev.ASN, ev.StartedAt, src, ErrEventConflict)
			}
			st.Inserted++
		} else {
			st.Kept++
		}
		ev.ID = id
	}
	if err := tx.Commit(ctx); err != nil {
		return st, fmt.Errorf("replace events: commit: %w", err)
	}
	st.Deleted = len(gone)
	return st, nil
}
