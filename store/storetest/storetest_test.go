package storetest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func TestNewIsolated(t *testing.T) {
	ctx := context.Background()
	a := storetest.New(t)
	b := storetest.New(t)
	if _, err := a.Pool().Exec(ctx, "INSERT INTO asns (asn, name) VALUES (64500, 'a')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Pool().QueryRow(ctx, "SELECT count(*) FROM asns").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees %d rows of the first", n)
	}
	if err := a.Pool().QueryRow(ctx, "SELECT count(*) FROM asns").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("first database has %d rows, want 1", n)
	}
}

func TestParallel(t *testing.T) {
	for i := range 4 {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			t.Parallel()
			db := storetest.New(t)
			var v int64
			if err := db.Pool().QueryRow(context.Background(), "SELECT max(version_id) FROM goose_db_version").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v < 1 {
				t.Fatalf("schema version %d, want >= 1", v)
			}
		})
	}
}

// TestStartPrivate stops a private server both ways and starts it again:
// the database must be unreachable while it is down, and a committed row
// must survive each stop (the immediate one by crash recovery).
func TestStartPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL server")
	}
	ctx := context.Background()
	pg, db := storetest.StartPrivate(t)
	if _, err := db.Pool().Exec(ctx, "INSERT INTO asns (asn, name) VALUES (64500, 'kept')"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"immediate", "fast"} {
		pg.Stop(mode)
		if err := db.Ping(ctx); !store.Unavailable(err) {
			t.Fatalf("after stop %s: ping %v, want the database unavailable", mode, err)
		}
		pg.Start()
		// The pool may hand out a connection of the old server first.
		var name string
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			err = db.Pool().QueryRow(ctx, "SELECT name FROM asns WHERE asn = 64500").Scan(&name)
			if err == nil || !store.Unavailable(err) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || name != "kept" {
			t.Fatalf("after stop %s and start: %q, %v; want the committed row", mode, name, err)
		}
	}
}

func TestSyncBuffer(t *testing.T) {
	var b storetest.SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 400 {
		t.Fatalf("%d bytes, want 400", n)
	}
}
