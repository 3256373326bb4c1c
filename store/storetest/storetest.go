// Package storetest gives tests a fresh, migrated PostgreSQL database.
//
// All test binaries of a `go test ./...` run share one embedded server in
// $BGPWATCH_TEST_DATA_DIR (default <tmp>/bgpwatch-test-<uid>), started by the
// first of them and reused by the rest (file locks make concurrent starts
// safe). The schema is migrated once into a template database named after a
// hash of the migrations; each test then gets its own CREATE DATABASE …
// TEMPLATE copy, dropped at cleanup. The server keeps running after the tests
// for the next run; it is a throw-away server (fsync off).
//
// With $BGPWATCH_TEST_DB set to a PostgreSQL URL (a role allowed to create
// databases), that server is used instead.
//
// A test that stops and starts PostgreSQL under the code it tests gets a
// server of its own from StartPrivate.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bgpwatch/bgpwatch/migrations"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/pgserver"
)

// env holds what every New in this process shares. Set up once: a test
// helper has no other place to keep a process-wide server handle.
var env struct {
	once  sync.Once
	err   error
	admin *pgxpool.Pool
	dbURL func(name string) string
	tmpl  string
}

// DataDir is the embedded test server's data directory.
func DataDir() string {
	if d := os.Getenv("BGPWATCH_TEST_DATA_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "bgpwatch-test-"+strconv.Itoa(os.Getuid()))
}

// New returns a fresh, migrated database for this test; it is closed and
// dropped when the test ends.
func New(t testing.TB) *store.DB {
	t.Helper()
	env.once.Do(func() { env.err = setup(context.Background()) })
	if env.err != nil {
		t.Fatalf("storetest: %v", env.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "test_" + randomHex(8)
	if _, err := env.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{env.tmpl}.Sanitize()); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	db, err := store.Open(ctx, store.Config{URL: env.dbURL(name), SkipMigrate: true})
	if err != nil {
		dropDatabase(name)
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		if err := dropDatabase(name); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	return db
}

// URL returns the connection URL of database name on the shared test server
// (for tests that start another process; db.Pool().Config().ConnString()
// gives the URL of a database from New).
func URL(name string) (string, error) {
	env.once.Do(func() { env.err = setup(context.Background()) })
	if env.err != nil {
		return "", env.err
	}
	return env.dbURL(name), nil
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func setup(ctx context.Context) error {
	if u := os.Getenv("BGPWATCH_TEST_DB"); u != "" {
		base, err := url.Parse(u)
		if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
			return fmt.Errorf("BGPWATCH_TEST_DB must be a postgres:// URL: %q", u)
		}
		env.dbURL = func(name string) string {
			c := *base
			c.Path = "/" + name
			c.RawPath = ""
			return c.String()
		}
	} else {
		srv, err := pgserver.Start(ctx, pgserver.Options{Dir: DataDir(), Unsafe: true})
		if err != nil {
			return err
		}
		// The server is left running at exit for the next test binary.
		env.dbURL = srv.URL
	}
	admin, err := pgxpool.New(ctx, env.dbURL("postgres"))
	if err != nil {
		return err
	}
	env.admin = admin
	env.tmpl, err = template(ctx, admin)
	return err
}

// template creates, once per schema version, a migrated template database.
func template(ctx context.Context, admin *pgxpool.Pool) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	name := "bgpwatch_tmpl_" + hex.EncodeToString(h.Sum(nil)[:6])

	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	const lockID = 0x62677774 // serialises template creation across test binaries
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockID) // the session ends soon anyway

	var isTemplate bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		return name, nil
	case err == nil: // left half-made by a crashed run
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop stale template: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	db, err := store.Open(ctx, store.Config{URL: env.dbURL(name)})
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	db.Close()
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return "", fmt.Errorf("mark template: %w", err)
	}
	return name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
