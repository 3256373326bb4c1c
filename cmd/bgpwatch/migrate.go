package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bgpwatch/bgpwatch/store"
)

func init() {
	register(&command{name: "migrate", summary: "apply database migrations", run: runMigrate})
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "[--down | --reset | --status] [flags]", `
Applies the pending schema migrations (embedded in the binary) to the
database, under a PostgreSQL advisory lock so that concurrent runs are safe.
Running it again is a no-op. Every other command that uses the database also
applies pending migrations when it starts.

With --down it rolls back the most recent migration, with --reset all of
them (this deletes all data), and with --status it lists the migrations and
whether each is applied.

--down and --reset are refused (exit 1) while another bgpwatch process
uses the database (serve, replay, events: each holds a shared advisory lock
while it runs); the message names them. Stop them first, or pass --force.`)
	down := fs.Bool("down", false, "roll back the most recent migration")
	reset := fs.Bool("reset", false, "roll back all migrations (deletes all data)")
	status := fs.Bool("status", false, "list migrations and whether each is applied")
	force := fs.Bool("force", false, "with --down or --reset: roll back even while other bgpwatch processes use the database")
	dbf := addDBFlags(fs, e)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	n := 0
	for _, b := range []bool{*down, *reset, *status} {
		if b {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: --down, --reset and --status exclude each other", errUsage)
	}
	db, err := dbf.openNoMigrate(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case *status:
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(e.stdout, "%-8s %s\n", state, s.Name)
		}
		return nil
	case *down, *reset:
		if !*force {
			// Held until the rollback is done: processes starting
			// meanwhile wait for it.
			unlock, err := db.LockExclusive(ctx)
			if errors.Is(err, store.ErrInUse) {
				what := "--down"
				if *reset {
					what = "--reset"
				}
				return fmt.Errorf("refusing migrate %s: %w; stop them first, or pass --force", what, err)
			}
			if err != nil {
				return err
			}
			defer unlock()
		}
		var rs []store.MigrationResult
		var err error
		if *reset {
			rs, err = db.MigrateReset(ctx)
		} else {
			rs, err = db.MigrateDown(ctx)
		}
		for _, r := range rs {
			fmt.Fprintf(e.stdout, "rolled back %s\n", r.Name)
		}
		if err == nil && len(rs) == 0 {
			fmt.Fprintln(e.stdout, "nothing to roll back")
		}
		return err
	default:
		rs, err := db.Migrate(ctx)
		for _, r := range rs {
			fmt.Fprintf(e.stdout, "applied %s\n", r.Name)
		}
		if err == nil && len(rs) == 0 {
			fmt.Fprintln(e.stdout, "schema is up to date")
		}
		return err
	}
}
