package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/web"
	"github.com/bgpwatch/bgpwatch/webhook"
)

// The packages that read or write the database each define the small
// interface of what they call; *store.DB is what the commands hand them.
var (
	_ api.Reader           = (*store.DB)(nil)
	_ api.Webhooks         = (*store.DB)(nil)
	_ api.QueueDepther     = (*store.DB)(nil) // else /metrics silently loses the queue depth
	_ web.Source           = (*store.DB)(nil)
	_ webhook.Store        = (*store.DB)(nil)
	_ ingest.Sink          = (*store.DB)(nil)
	_ ingest.HistoryReader = (*store.DB)(nil)
)

// dbFlags are the database flags every command that uses the database shares.
type dbFlags struct {
	url     string
	dataDir string
	command string // holds the database's usage lock under this name
	e       *env
	// logger receives store progress (embedded server start/stop,
	// migrations); nil means info-level text on stderr.
	logger *slog.Logger
}

// addDBFlags registers --db and --data-dir on fs.
func addDBFlags(fs *flag.FlagSet, e *env) *dbFlags {
	f := &dbFlags{e: e, command: fs.Name()}
	fs.StringVar(&f.url, "db", "", "PostgreSQL `URL` (default $BGPWATCH_DB); when unset bgpwatch runs its own embedded server in --data-dir")
	fs.StringVar(&f.dataDir, "data-dir", "", "data `directory` of the embedded server (default $BGPWATCH_DATA_DIR, else $XDG_DATA_HOME/bgpwatch, else ~/.local/share/bgpwatch)")
	return f
}

// config resolves the flags and environment into a store configuration.
func (f *dbFlags) config() (store.Config, error) {
	cfg := store.Config{URL: f.url, DataDir: f.dataDir, Logger: f.logger}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(f.e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if cfg.URL == "" {
		cfg.URL = f.e.getenv("BGPWATCH_DB")
	}
	if cfg.URL != "" {
		return cfg, nil
	}
	if cfg.DataDir == "" {
		cfg.DataDir = defaultDataDir(f.e.getenv)
	}
	if cfg.DataDir == "" {
		return cfg, errors.New("no database: set --db or BGPWATCH_DB, or --data-dir, BGPWATCH_DATA_DIR or HOME for the embedded server")
	}
	return cfg, nil
}

// defaultDataDir is $BGPWATCH_DATA_DIR, else $XDG_DATA_HOME/bgpwatch, else
// ~/.local/share/bgpwatch ("" when none is set).
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("BGPWATCH_DATA_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "bgpwatch")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "bgpwatch")
	}
	return ""
}

// open opens the database and applies pending migrations. Close it when done:
// that also releases the embedded server. Until then the command holds the
// database's shared usage lock, so that `migrate --down` and `--reset`
// refuse to run under it.
func (f *dbFlags) open(ctx context.Context) (*store.DB, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	cfg.Usage = f.command
	return store.Open(ctx, cfg)
}

// openNoMigrate opens the database without touching the schema.
func (f *dbFlags) openNoMigrate(ctx context.Context) (*store.DB, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	cfg.SkipMigrate = true
	return store.Open(ctx, cfg)
}
