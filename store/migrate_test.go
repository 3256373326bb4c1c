package store_test

import (
	"context"
	"testing"

	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func tableExists(t *testing.T, db *store.DB, name string) bool {
	t.Helper()
	var ok bool
	if err := db.Pool().QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrateUpDownUp(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no migrations known")
	}
	for _, s := range st {
		if !s.Applied {
			t.Errorf("%s not applied in a fresh test database", s.Name)
		}
	}

	steps := []struct {
		name      string
		do        func(context.Context) ([]store.MigrationResult, error)
		wantN     int
		wantTable bool
	}{
		{"up on current schema is a no-op", db.Migrate, 0, true},
		{"reset rolls back all", db.MigrateReset, len(st), false},
		{"down with nothing applied", db.MigrateDown, 0, false},
		{"up applies all", db.Migrate, len(st), true},
		{"down rolls back one", db.MigrateDown, 1, true},
		{"up again", db.Migrate, 1, true},
		{"up twice is a no-op", db.Migrate, 0, true},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			rs, err := step.do(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != step.wantN {
				t.Errorf("%d migrations run, want %d: %+v", len(rs), step.wantN, rs)
			}
			if got := tableExists(t, db, "events"); got != step.wantTable {
				t.Errorf("table events exists: %v, want %v", got, step.wantTable)
			}
		})
	}
}

func TestMigrateConcurrent(t *testing.T) {
	// Several processes opening the same database at once must not collide:
	// the advisory lock serialises them and only one applies each migration.
	ctx := context.Background()
	db := storetest.New(t)
	if _, err := db.MigrateReset(ctx); err != nil {
		t.Fatal(err)
	}
	url := db.Pool().Config().ConnString()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			d, err := store.Open(ctx, store.Config{URL: url})
			if err == nil {
				d.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if !tableExists(t, db, "events") {
		t.Error("schema not migrated")
	}
}

func TestMigrateOutOfOrder(t *testing.T) {
	// Versions are owned by area (migrations package), so a database that
	// is already past a new migration's number (00020 added after 00030
	// was applied) must get it on its next start, not refuse to start.
	ctx := context.Background()
	db := storetest.New(t)
	if _, err := db.Pool().Exec(ctx, `DROP TABLE bin_feeds; DELETE FROM goose_db_version WHERE version_id = 20`); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Version != 20 || !rs[0].Up {
		t.Errorf("migrations run: %+v, want 00020 up", rs)
	}
	if !tableExists(t, db, "bin_feeds") {
		t.Error("bin_feeds not created")
	}
}
