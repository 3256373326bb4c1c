package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
)

// CountryRows returns the country_series rows of country with bin in
// [from, to], oldest first, as ingest stored them: a bin without a row is
// left out, not filled as store.DB.Series fills it, so a test sees a row
// that was never written.
func CountryRows(t testing.TB, db *store.DB, country string, from, to time.Time) []bgpwatch.Point {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `
		SELECT bin, visible_prefixes, visible_slash24, visible_v6_prefixes
		FROM country_series WHERE country = $1 AND bin >= $2 AND bin <= $3 ORDER BY bin`,
		country, from.UTC(), to.UTC())
	if err != nil {
		t.Fatalf("country rows %s: %v", country, err)
	}
	pts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Point, error) {
		var p bgpwatch.Point
		var a, b, c int32
		err := r.Scan(&p.Time, &a, &b, &c)
		p.Time = p.Time.UTC()
		p.Prefixes, p.Slash24, p.V6Prefixes = int(a), int(b), int(c)
		return p, err
	})
	if err != nil {
		t.Fatalf("country rows %s: %v", country, err)
	}
	return pts
}
