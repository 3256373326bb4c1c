package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestErrUnavailable stops the server under a DB: its methods' errors must
// then match bgpwatch.ErrUnavailable (what the API answers 503 for without
// importing store) with their text unchanged, while a wrong request and a
// cancelled call must not, before or after.
func TestErrUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL server")
	}
	pg, db := storetest.StartPrivate(t)
	ctx := context.Background()
	_, _, err := db.ListEvents(ctx, bgpwatch.EventFilter{Cursor: "not a cursor"})
	if !errors.Is(err, bgpwatch.ErrInvalid) || errors.Is(err, bgpwatch.ErrUnavailable) {
		t.Errorf("a malformed cursor: %v, want ErrInvalid and not ErrUnavailable", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Ping(cctx); err == nil || errors.Is(err, bgpwatch.ErrUnavailable) {
		t.Errorf("a cancelled ping: %v, want an error that is not ErrUnavailable", err)
	}

	pg.Stop("fast")
	calls := map[string]func() error{
		"Ping":         func() error { return db.Ping(ctx) },
		"SeriesExtent": func() error { _, err := db.SeriesExtent(ctx); return err },
		"ListEvents":   func() error { _, _, err := db.ListEvents(ctx, bgpwatch.EventFilter{}); return err },
		"CreateSubscription": func() error {
			return db.CreateSubscription(ctx, &bgpwatch.Subscription{URL: "https://example.org/hook", Secret: strings.Repeat("s", 32)})
		},
		"QueueDepth": func() error { _, err := db.QueueDepth(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, bgpwatch.ErrUnavailable) || !store.Unavailable(err) {
			t.Errorf("%s with the server stopped: %v, want ErrUnavailable", name, err)
			continue
		}
		if strings.Contains(err.Error(), bgpwatch.ErrUnavailable.Error()) {
			t.Errorf("%s: the mark changed the error's text: %v", name, err)
		}
	}
	pg.Start()
	if _, err := db.SeriesExtent(ctx); err != nil {
		t.Errorf("after the restart: %v", err)
	}
}
