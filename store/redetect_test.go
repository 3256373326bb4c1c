package store_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func TestReplaceEvents(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	ev := func(asn bgpwatch.ASN, start, end time.Duration) bgpwatch.Event {
		return bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "AM", ASN: asn, StartedAt: t0.Add(start), EndedAt: t0.Add(end),
			BaselineSlash24: 100, MinSlash24: 10, DropRatio: 0.9,
			ASNs:      []bgpwatch.EventASN{{ASN: asn, BaselineSlash24: 100, MinSlash24: 10}},
			Withdrawn: []bgpwatch.WithdrawnPrefix{{Prefix: mustPrefix("10.0.0.0/24"), Origin: asn, WithdrawnAt: t0.Add(start)}}}
	}
	moved, gone, live := ev(1, time.Hour, 2*time.Hour), ev(2, time.Hour, 3*time.Hour), ev(3, 5*time.Hour, 6*time.Hour)
	for _, e := range []*bgpwatch.Event{&moved, &gone} {
		if _, err := db.SaveEvent(ctx, e, store.SourceReplay, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SaveEvent(ctx, &live, store.SourceLive, false); err != nil {
		t.Fatal(err)
	}
	from, to := t0, t0.Add(24*time.Hour)
	stored, err := db.RangeEvents(ctx, store.SourceReplay, from, to)
	if err != nil || len(stored) != 2 || len(stored[0].Withdrawn) != 1 || len(stored[0].ASNs) != 1 {
		t.Fatalf("range events: %+v %v", stored, err)
	}

	// A new event on a live event's natural key: refused, nothing changed.
	clash := ev(3, 5*time.Hour, 7*time.Hour)
	_, err = db.ReplaceEvents(ctx, store.EventReplacement{Source: store.SourceReplay, From: from, To: to, Events: []bgpwatch.Event{clash}})
	if !errors.Is(err, store.ErrEventConflict) {
		t.Fatalf("clash with a live event: %v", err)
	}
	if after, _ := db.RangeEvents(ctx, store.SourceReplay, from, to); len(after) != 2 {
		t.Fatalf("a refused replacement changed the events: %+v", after)
	}
	if got, _ := db.GetEvent(ctx, live.ID); !got.EndedAt.Equal(live.EndedAt) {
		t.Fatalf("the live event was changed: %+v", got)
	}
	// An id that is not a stored event of the range is refused.
	bad := ev(9, time.Hour, 2*time.Hour)
	bad.ID = live.ID
	if _, err := db.ReplaceEvents(ctx, store.EventReplacement{Source: store.SourceReplay, From: from, To: to, Events: []bgpwatch.Event{bad}}); !errors.Is(err, bgpwatch.ErrInvalid) {
		t.Fatalf("foreign id: %v", err)
	}

	// Moved (id kept, new start), gone (deleted), new (inserted, notified).
	m := ev(1, 30*time.Minute, 2*time.Hour)
	m.ID = moved.ID
	n := ev(4, 8*time.Hour, 9*time.Hour)
	st, err := db.ReplaceEvents(ctx, store.EventReplacement{Source: store.SourceReplay, From: from, To: to, Events: []bgpwatch.Event{m, n}, Notify: true})
	if err != nil || st != (store.ReplaceStats{Kept: 1, Inserted: 1, Deleted: 1}) {
		t.Fatalf("replace: %+v %v", st, err)
	}
	after, err := db.RangeEvents(ctx, store.SourceReplay, from, to)
	if err != nil || len(after) != 2 || after[0].ID != moved.ID || !after[0].StartedAt.Equal(m.StartedAt) || after[1].ASN != 4 {
		t.Fatalf("after: %+v %v", after, err)
	}
	if _, err := db.GetEvent(ctx, gone.ID); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Errorf("gone event still there: %v", err)
	}
	var started int
	db.Pool().QueryRow(ctx, `SELECT count(*) FROM event_notices WHERE type = 'event.started'`).Scan(&started)
	if started != 1 {
		t.Errorf("%d started notices, want 1 (the new event)", started)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
