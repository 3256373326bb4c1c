package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
)

// UpsertASNs stores what is known about networks. It loads the rows with
// COPY into a temporary table and merges them, so a registry of 100k ASNs
// costs one round trip. Empty names, countries or unknown access never
// overwrite known values.
func (db *DB) UpsertASNs(ctx context.Context, infos []bgpwatch.ASNInfo) error {
	if len(infos) == 0 {
		return nil
	}
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("upsert asns: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE asns_in (asn bigint, name text, country text, access text) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("upsert asns: temp table: %w", err)
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(infos) {
			return nil, nil
		}
		in := &infos[i]
		i++
		acc := in.Access
		if _, err := bgpwatch.ParseAccess(string(acc)); err != nil || acc == "" {
			acc = bgpwatch.AccessUnknown
		}
		return []any{int64(in.ASN), in.Name, in.Country, string(acc)}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"asns_in"}, []string{"asn", "name", "country", "access"}, src); err != nil {
		return fmt.Errorf("upsert asns: copy: %w", err)
	}
	// Duplicate ASNs in the input are merged, preferring non-empty values;
	// the WHERE clause leaves unchanged rows (and their updated_at) alone.
	if _, err := tx.Exec(ctx, `
		INSERT INTO asns (asn, name, country, access)
		SELECT asn, max(name), max(country),
		       coalesce(max(access) FILTER (WHERE access <> 'unknown'), 'unknown')
		FROM asns_in GROUP BY asn
		ON CONFLICT (asn) DO UPDATE SET
		    name       = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE asns.name END,
		    country    = CASE WHEN EXCLUDED.country <> '' THEN EXCLUDED.country ELSE asns.country END,
		    access     = CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access ELSE asns.access END,
		    updated_at = now()
		WHERE (asns.name, asns.country, asns.access) IS DISTINCT FROM
		      (CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE asns.name END,
		       CASE WHEN EXCLUDED.country <> '' THEN EXCLUDED.country ELSE asns.country END,
		       CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access ELSE asns.access END)`); err != nil {
		return fmt.Errorf("upsert asns: merge: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("upsert asns: commit: %w", err)
	}
	return nil
}
