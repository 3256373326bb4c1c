package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/pgserver"
)

// PrivatePG is a PostgreSQL server of one test's own, which the test may
// stop and start (database outage tests): the shared server of New must
// not be restarted under the other test binaries using it. It is durable
// (not pgserver's Unsafe mode), so that an immediate stop loses nothing a
// commit acknowledged. $BGPWATCH_TEST_DB does not apply: a server the test
// cannot stop is of no use to it.
type PrivatePG struct {
	t       testing.TB
	dir     string
	srv     *pgserver.Server // nil while stopped
	cluster string           // the PGDATA directory, known after the first start
}

// StartPrivate starts a private server in a data directory under
// t.TempDir() that the postgres account can traverse (as root the server
// runs under it) and opens its migrated database. Both are closed when the
// test ends.
func StartPrivate(t testing.TB) (*PrivatePG, *store.DB) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(dir); p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pg := &PrivatePG{t: t, dir: dir}
	pg.Start()
	t.Cleanup(func() {
		if pg.srv != nil {
			pg.srv.Stop(context.Background()) // best effort at the end
		}
		// A cluster outside the data directory (see pgserver) is not
		// removed with t.TempDir().
		if strings.HasPrefix(pg.cluster, pgserver.RootClusterBase+"/") {
			os.RemoveAll(pg.cluster)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{URL: pg.srv.URL("")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return pg, db
}

// Start starts the server again after Stop (the database and its pool stay
// the same).
func (pg *PrivatePG) Start() {
	pg.t.Helper()
	if pg.srv != nil {
		pg.t.Fatal("storetest: the private server is already running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: pg.dir})
	if err != nil {
		pg.t.Fatal(err)
	}
	pg.srv = srv
	pg.cluster = srv.ClusterDir()
}

// Stop stops the server: mode "fast" as pg_ctl stop -m fast does
// (pgserver's Stop), "immediate" with SIGQUIT to the postmaster as pg_ctl
// stop -m immediate does: no shutdown checkpoint, crash recovery at the
// next Start.
func (pg *PrivatePG) Stop(mode string) {
	pg.t.Helper()
	if pg.srv == nil {
		pg.t.Fatal("storetest: the private server is not running")
	}
	switch mode {
	case "fast":
		if err := pg.srv.Stop(context.Background()); err != nil {
			pg.t.Fatal(err)
		}
	case "immediate":
		b, err := os.ReadFile(filepath.Join(pg.srv.ClusterDir(), "postmaster.pid"))
		if err != nil {
			pg.t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
			pg.t.Fatalf("postmaster.pid: %q", b)
		}
		if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
			pg.t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				pg.t.Fatalf("postmaster %d still running a minute after SIGQUIT", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
		pg.srv.Release()
	default:
		pg.t.Fatalf("storetest: stop mode %q, want fast or immediate", mode)
	}
	pg.srv = nil
}

// SyncBuffer collects output written from several goroutines (a test's
// slog handler); the zero value is ready to use.
type SyncBuffer = syncbuf.Buffer
