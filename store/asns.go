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
func (db *DB) UpsertASNs(ctx context.Context, infos []bgpwatch.ASNInfo) (err error) {
	defer markUnavailable(&err)
	if len(infos) == 0 {
		return nil
	}
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("upsert asns: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE asns_in (asn bigint, name text, country text, access text, access_source text, access_date date) ON COMMIT DROP`); err != nil {
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
		// Access types given here are the user's (asn-info CSV) unless
		// the caller names another source.
		accSrc := in.AccessSource
		if acc == bgpwatch.AccessUnknown {
			accSrc = ""
		} else if accSrc == "" {
			accSrc = bgpwatch.AccessSourceUser
		}
		var accDate any
		if !in.AccessDate.IsZero() && acc != bgpwatch.AccessUnknown {
			accDate = in.AccessDate
		}
		return []any{int64(in.ASN), in.Name, in.Country, string(acc), accSrc, accDate}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"asns_in"}, []string{"asn", "name", "country", "access", "access_source", "access_date"}, src); err != nil {
		return fmt.Errorf("upsert asns: copy: %w", err)
	}
	// Duplicate ASNs in the input are merged, preferring non-empty values;
	// the WHERE clause leaves unchanged rows (and their updated_at) alone.
	// Names written here are registry names (name_source 'registry'); a
	// known access type comes with its source and date.
	tag, err := tx.Exec(ctx, `
		INSERT INTO asns (asn, name, name_source, country, access, access_source, access_date)
		SELECT asn, max(name), CASE WHEN max(name) <> '' THEN 'registry' ELSE '' END, max(country),
		       coalesce(max(access) FILTER (WHERE access <> 'unknown'), 'unknown'),
		       coalesce(max(access_source) FILTER (WHERE access <> 'unknown'), ''),
		       max(access_date) FILTER (WHERE access <> 'unknown')
		FROM asns_in GROUP BY asn
		ON CONFLICT (asn) DO UPDATE SET
		    name          = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE asns.name END,
		    name_source   = CASE WHEN EXCLUDED.name <> '' THEN 'registry' ELSE asns.name_source END,
		    country       = CASE WHEN EXCLUDED.country <> '' THEN EXCLUDED.country ELSE asns.country END,
		    access        = CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access ELSE asns.access END,
		    access_source = CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access_source ELSE asns.access_source END,
		    access_date   = CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access_date ELSE asns.access_date END,
		    updated_at    = now()
		WHERE (asns.name, asns.country, asns.access, asns.access_source, asns.access_date) IS DISTINCT FROM
		      (CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE asns.name END,
		       CASE WHEN EXCLUDED.country <> '' THEN EXCLUDED.country ELSE asns.country END,
		       CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access ELSE asns.access END,
		       CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access_source ELSE asns.access_source END,
		       CASE WHEN EXCLUDED.access <> 'unknown' THEN EXCLUDED.access_date ELSE asns.access_date END)`)
	if err != nil {
		return fmt.Errorf("upsert asns: merge: %w", err)
	}
	// New names or countries may change what the metadata resolves to.
	if tag.RowsAffected() > 0 {
		if _, err := tx.Exec(ctx, `UPDATE meta_state SET dirty = true`); err != nil {
			return fmt.Errorf("upsert asns: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("upsert asns: commit: %w", err)
	}
	return nil
}
