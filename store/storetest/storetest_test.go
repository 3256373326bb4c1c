package storetest_test

import (
	"context"
	"testing"

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
