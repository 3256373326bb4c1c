// Package store keeps bgpwatch's state in PostgreSQL: it opens a pgx pool on
// a server given by URL or on a private embedded server (package pgserver),
// applies the schema migrations and offers the queries the other packages
// need.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/migrations"
	"github.com/bgpwatch/bgpwatch/store/pgserver"
)

// ErrNoBinaries is returned in embedded mode when the PostgreSQL server
// binaries are not installed; its text names the package to install.
var ErrNoBinaries = pgserver.ErrNoBinaries

// Config says which database to use.
type Config struct {
	// URL is a PostgreSQL connection URL; empty means embedded mode.
	URL string
	// DataDir is the data directory of the embedded server (embedded mode).
	DataDir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// SkipMigrate leaves the schema as it is at Open (for `migrate --down`
	// and `--status`, and for databases known to be migrated).
	SkipMigrate bool
	// MaxConns caps the pool size; 0 keeps pgx's default.
	MaxConns int32
	// Usage, when set, holds the database's shared usage lock (UsageLockID)
	// until Close, under this name (the command: "serve", "replay"), so
	// that a destructive migration is refused meanwhile (LockExclusive).
	// Open waits while such a migration runs.
	Usage string
}

// DB is an open database: a connection pool and, in embedded mode, this
// process's reference to the embedded server.
type DB struct {
	pool   *pgxpool.Pool
	server *pgserver.Server
	log    *slog.Logger
	usage  *usageLock // Config.Usage
}

// Open connects to cfg.URL, or starts (or joins) the embedded server in
// cfg.DataDir when the URL is empty, and applies pending migrations unless
// cfg.SkipMigrate is set.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log}
	url := cfg.URL
	if url == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("open database: neither a URL nor a data directory given")
		}
		srv, err := pgserver.Start(ctx, pgserver.Options{Dir: cfg.DataDir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open database: embedded server: %w", err)
		}
		db.server = srv
		url = srv.URL("")
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.pool = pool
	if err := pool.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if cfg.Usage != "" {
		if db.usage, err = db.holdUsage(ctx, cfg.Usage); err != nil {
			db.Close()
			return nil, err
		}
	}
	if !cfg.SkipMigrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// Unavailable reports whether err, from a DB method or the pool, means
// that the database could not be reached or dropped the connection
// (stopped, restarting, crashed, network trouble) rather than that the
// request was wrong: the same call may succeed later, and the pool
// reconnects by itself. Cancellation and deadlines are not counted;
// callers see those with errors.Is. The DB methods mark such errors with
// bgpwatch.ErrUnavailable, so that their callers need not import store.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01 admin_shutdown, 57P02
		// crash_shutdown, 57P03 cannot_connect_now (starting up, shutting
		// down, recovering). A wrong password or database is not one.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// unavailableError marks an error that Unavailable reports as
// bgpwatch.ErrUnavailable, keeping its text and chain.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == bgpwatch.ErrUnavailable }

// markUnavailable, deferred by every DB method that reaches the database,
// marks *err with bgpwatch.ErrUnavailable when Unavailable(*err).
func markUnavailable(err *error) {
	if Unavailable(*err) {
		*err = &unavailableError{*err}
	}
}

// Pool is the connection pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool and gives up the embedded server reference; the
// embedded server stops when no other process uses it.
func (db *DB) Close() {
	if db.usage != nil {
		db.usage.release()
		db.usage = nil
	}
	if db.pool != nil {
		db.pool.Close()
		db.pool = nil
	}
	if db.server != nil {
		if err := db.server.Stop(context.Background()); err != nil {
			db.log.Warn("stopping embedded PostgreSQL", "err", err)
		}
		db.server = nil
	}
}

// MigrationLockID is the advisory lock that serialises migrations
// (the ASCII bytes "bgpw").
const MigrationLockID int64 = 0x6267_7077

// withProvider runs f with a goose provider on a short-lived database/sql
// handle over the pool's configuration. Migrations may be applied out of
// order: version numbers are owned by area (see package migrations), so a
// new migration can be numbered below one a database has applied already.
func (db *DB) withProvider(ctx context.Context, f func(*goose.Provider) error) error {
	sqlDB := stdlib.OpenDB(*db.pool.Config().ConnConfig.Copy())
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(2)
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(MigrationLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return f(p)
}

// MigrationResult describes one applied or rolled-back migration.
type MigrationResult struct {
	Version int64
	Name    string
	Up      bool
}

func results(rs ...*goose.MigrationResult) []MigrationResult {
	var out []MigrationResult
	for _, r := range rs {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, MigrationResult{Version: r.Source.Version, Name: r.Source.Path, Up: r.Direction == "up"})
	}
	return out
}

// Migrate applies all pending migrations under an advisory lock and returns
// what it applied (nothing when the schema is current).
func (db *DB) Migrate(ctx context.Context) (_ []MigrationResult, err error) {
	defer markUnavailable(&err)
	var out []MigrationResult
	err = db.withProvider(ctx, func(p *goose.Provider) error {
		rs, err := p.Up(ctx)
		out = results(rs...)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range out {
		db.log.Info("applied migration", "version", r.Version, "name", r.Name)
	}
	return out, nil
}

// MigrateDown rolls back the most recent migration; it returns nothing when
// there is none to roll back.
func (db *DB) MigrateDown(ctx context.Context) (_ []MigrationResult, err error) {
	defer markUnavailable(&err)
	var out []MigrationResult
	err = db.withProvider(ctx, func(p *goose.Provider) error {
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		out = results(r)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("migrate down: %w", err)
	}
	return out, nil
}

// MigrateReset rolls back every migration.
func (db *DB) MigrateReset(ctx context.Context) (_ []MigrationResult, err error) {
	defer markUnavailable(&err)
	var out []MigrationResult
	err = db.withProvider(ctx, func(p *goose.Provider) error {
		rs, err := p.DownTo(ctx, 0)
		out = results(rs...)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("migrate reset: %w", err)
	}
	return out, nil
}

// MigrationStatus is one known migration and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// MigrationStatus lists the known migrations and which are applied.
func (db *DB) MigrationStatus(ctx context.Context) (_ []MigrationStatus, err error) {
	defer markUnavailable(&err)
	var out []MigrationStatus
	err = db.withProvider(ctx, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		for _, s := range st {
			out = append(out, MigrationStatus{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return out, nil
}
