package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func TestCreateSubscriptionValidates(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		sub  bgpwatch.Subscription
		ok   bool
	}{
		{"minimal", bgpwatch.Subscription{URL: "https://example.net/hook", Secret: "k"}, true},
		{"all filters", bgpwatch.Subscription{URL: "http://127.0.0.1:9/x", Secret: "k", Countries: []string{"kz", "KZ", "ir"},
			ASNs: []bgpwatch.ASN{9198, 9198}, Scopes: []bgpwatch.Scope{"COUNTRY"}, Access: []bgpwatch.Access{"Mobile"},
			MinDropRatio: 0.5, Format: "slack"}, true},
		{"relative url", bgpwatch.Subscription{URL: "/hook", Secret: "k"}, false},
		{"ftp url", bgpwatch.Subscription{URL: "ftp://example.net/", Secret: "k"}, false},
		{"no secret", bgpwatch.Subscription{URL: "https://example.net/hook"}, false},
		{"bad country", bgpwatch.Subscription{URL: "https://example.net/", Secret: "k", Countries: []string{"KAZ"}}, false},
		{"bad scope", bgpwatch.Subscription{URL: "https://example.net/", Secret: "k", Scopes: []bgpwatch.Scope{"city"}}, false},
		{"bad access", bgpwatch.Subscription{URL: "https://example.net/", Secret: "k", Access: []bgpwatch.Access{"wifi"}}, false},
		{"ratio above 1", bgpwatch.Subscription{URL: "https://example.net/", Secret: "k", MinDropRatio: 1.5}, false},
		{"bad format", bgpwatch.Subscription{URL: "https://example.net/", Secret: "k", Format: "xml"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sub
			err := db.CreateSubscription(ctx, &s)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, bgpwatch.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if s.ID == 0 || s.CreatedAt.IsZero() {
				t.Errorf("ID %d, CreatedAt %v not set", s.ID, s.CreatedAt)
			}
			got := subscription(t, db, s.ID)
			if got.URL != s.URL || got.Secret != s.Secret || len(got.Countries) != len(s.Countries) ||
				len(got.ASNs) != len(s.ASNs) || got.Format != s.Format || got.MinDropRatio != s.MinDropRatio {
				t.Errorf("stored %+v, created %+v", got, s)
			}
		})
	}
	subs, err := db.ListSubscriptions(ctx)
	if err != nil || len(subs) != 2 {
		t.Fatalf("ListSubscriptions: %d, %v", len(subs), err)
	}
	if s := subs[1]; s.Format != "slack" || len(s.Countries) != 2 || s.Countries[0] != "KZ" || len(s.ASNs) != 1 ||
		s.Scopes[0] != bgpwatch.ScopeCountry || s.Access[0] != bgpwatch.AccessMobile {
		t.Errorf("normalised subscription %+v", s)
	}
	if subs[0].Format != "json" {
		t.Errorf("default format %q", subs[0].Format)
	}
}

func TestDeleteSubscription(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	s := bgpwatch.Subscription{URL: "https://example.net/hook", Secret: "k"}
	if err := db.CreateSubscription(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSubscription(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSubscription(ctx, s.ID); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, _, err := db.ListDeliveries(ctx, s.ID, 10, ""); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Errorf("deliveries of a deleted webhook: %v, want ErrNotFound", err)
	}
}

// TestListDeliveriesPages fans out notices through the store API and
// pages through the delivery log.
func TestListDeliveriesPages(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	s := bgpwatch.Subscription{URL: "https://example.net/hook", Secret: "k"}
	if err := db.CreateSubscription(ctx, &s); err != nil {
		t.Fatal(err)
	}
	const n = 7
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	for i := range n {
		ev := bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "KZ", StartedAt: start.Add(time.Duration(i) * time.Hour),
			BaselineSlash24: 10, MinSlash24: 1, DropRatio: 0.9}
		if _, err := db.SaveEvent(ctx, &ev, store.SourceLive, true); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	plan := func(_ context.Context, nt store.Notice) ([]store.NewDelivery, error) {
		i++
		return []store.NewDelivery{{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), SubscriptionID: s.ID,
			EventJSON: []byte(`{"id":1}`), CreatedAt: start, ExpiresAt: start.Add(time.Hour)}}, nil
	}
	notices, ds, err := db.FanOutNotices(ctx, 100, plan)
	if err != nil || notices != n || ds != n {
		t.Fatalf("FanOutNotices = %d, %d, %v", notices, ds, err)
	}
	if notices, _, err := db.FanOutNotices(ctx, 100, plan); err != nil || notices != 0 {
		t.Fatalf("second FanOutNotices = %d, %v; want nothing left", notices, err)
	}
	var all []bgpwatch.Delivery
	cursor := ""
	for page := 0; ; page++ {
		got, next, err := db.ListDeliveries(ctx, s.ID, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got...)
		if next == "" {
			break
		}
		if page > n {
			t.Fatal("cursor does not advance")
		}
		cursor = next
	}
	if len(all) != n {
		t.Fatalf("paged %d deliveries, want %d", len(all), n)
	}
	for j := 1; j < n; j++ {
		if all[j-1].EventID <= all[j].EventID {
			t.Errorf("not newest first: %d before %d", all[j-1].EventID, all[j].EventID)
		}
	}
	if d := all[0]; d.Status != store.DeliveryPending || d.SubscriptionID != s.ID || d.Type != bgpwatch.NoticeStarted {
		t.Errorf("delivery %+v", d)
	}
	if _, _, err := db.ListDeliveries(ctx, s.ID, 3, "bogus"); !errors.Is(err, bgpwatch.ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
	if depth, err := db.QueueDepth(ctx); err != nil || depth != n {
		t.Errorf("QueueDepth = %d, %v", depth, err)
	}
}

// subscription returns the stored subscription id, read as the API lists it.
func subscription(t *testing.T, db *store.DB, id int64) bgpwatch.Subscription {
	t.Helper()
	subs, err := db.ListSubscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("subscription %d not listed", id)
	return bgpwatch.Subscription{}
}
