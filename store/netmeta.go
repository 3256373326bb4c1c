package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/netmeta"
)

// TruncatedShare: a dataset with fewer rows than this share of its
// previous import is taken for a truncated download and not imported.
const TruncatedShare = 0.5

// MetaResult reports what an import did with one dataset.
type MetaResult struct {
	Dataset  string    `json:"dataset"`
	Origin   string    `json:"origin,omitempty"`
	Date     time.Time `json:"date,omitzero"`
	Rows     int       `json:"rows"`
	Previous int       `json:"previous_rows"`
	Imported bool      `json:"imported"`
	Reason   string    `json:"reason,omitempty"` // why it was not imported
}

// metaSources are the name sources that metadata imports own (and may
// replace); other names come from the registry files.
var metaSources = []string{netmeta.DatasetPeeringDB, netmeta.DatasetCAIDAOrgs, netmeta.DatasetAPNIC}

// ImportNetworkMeta replaces the rows of each given dataset and recomputes
// every network's access type, name and users from all stored datasets,
// the curated operators table and the registered names, in one
// transaction. A dataset listed in failed (it did not parse), or with
// fewer than TruncatedShare of its previous rows, keeps its previous rows;
// its result says why. The user's access types (asn-info CSV) are never
// changed. With no datasets it only recomputes, and only when registry
// names or countries changed since (UpsertASNs) or the curated table is
// not the one the stored values were resolved with.
func (db *DB) ImportNetworkMeta(ctx context.Context, sets []netmeta.Dataset, failed map[string]error) (_ []MetaResult, err error) {
	defer markUnavailable(&err)
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("import metadata: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	// One import at a time; registry upserts wait for the recompute.
	if _, err := tx.Exec(ctx, `LOCK TABLE meta_datasets, asns IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, fmt.Errorf("import metadata: lock: %w", err)
	}
	var out []MetaResult
	for _, name := range netmeta.Datasets {
		if e, ok := failed[name]; ok {
			r := MetaResult{Dataset: name, Reason: "not imported, previous data kept: " + e.Error()}
			_ = tx.QueryRow(ctx, `SELECT rows FROM meta_datasets WHERE name = $1`, name).Scan(&r.Previous)
			out = append(out, r)
		}
	}
	for _, ds := range sets {
		r := MetaResult{Dataset: ds.Name, Origin: ds.Origin, Date: ds.Date, Rows: len(ds.Rows)}
		if !slices.Contains(netmeta.Datasets, ds.Name) {
			return nil, fmt.Errorf("import metadata: %w dataset %q", bgpwatch.ErrInvalid, ds.Name)
		}
		err := tx.QueryRow(ctx, `SELECT rows FROM meta_datasets WHERE name = $1`, ds.Name).Scan(&r.Previous)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("import metadata: %s: %w", ds.Name, err)
		}
		switch {
		case len(ds.Rows) == 0:
			r.Reason = "no rows; previous data kept"
		case r.Previous > 0 && float64(len(ds.Rows)) < TruncatedShare*float64(r.Previous):
			r.Reason = fmt.Sprintf("looks truncated: %d rows, the previous import had %d; previous data kept", len(ds.Rows), r.Previous)
		}
		if r.Reason != "" {
			out = append(out, r)
			continue
		}
		if err := replaceDataset(ctx, tx, ds); err != nil {
			return nil, err
		}
		r.Imported = true
		out = append(out, r)
	}
	// Nothing new (no dataset, no registry change, the same curated
	// table): the resolved columns are up to date.
	var curated string
	var dirty bool
	if err := tx.QueryRow(ctx, `SELECT curated, dirty FROM meta_state`).Scan(&curated, &dirty); err != nil {
		return nil, fmt.Errorf("import metadata: state: %w", err)
	}
	imported := slices.ContainsFunc(out, func(r MetaResult) bool { return r.Imported })
	if imported || dirty || curated != netmeta.CuratedVersion() {
		if err := recomputeMeta(ctx, tx); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE meta_state SET dirty = false, curated = $1`, netmeta.CuratedVersion()); err != nil {
			return nil, fmt.Errorf("import metadata: state: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("import metadata: commit: %w", err)
	}
	return out, nil
}

func replaceDataset(ctx context.Context, tx pgx.Tx, ds netmeta.Dataset) error {
	var date any
	if !ds.Date.IsZero() {
		date = ds.Date
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO meta_datasets (name, rows, data_date, origin, imported_at) VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (name) DO UPDATE SET rows = EXCLUDED.rows, data_date = EXCLUDED.data_date,
		    origin = EXCLUDED.origin, imported_at = now()`, ds.Name, len(ds.Rows), date, ds.Origin); err != nil {
		return fmt.Errorf("import metadata: %s: %w", ds.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM asn_meta WHERE dataset = $1`, ds.Name); err != nil {
		return fmt.Errorf("import metadata: %s: %w", ds.Name, err)
	}
	// The key is (dataset, asn, country): keep the first of duplicates.
	type key struct {
		a  bgpwatch.ASN
		cc string
	}
	seen := make(map[key]bool, len(ds.Rows))
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for i < len(ds.Rows) {
			r := &ds.Rows[i]
			i++
			if seen[key{r.ASN, r.Country}] {
				continue
			}
			seen[key{r.ASN, r.Country}] = true
			var users, share, upd any
			if r.Users >= 0 {
				users = r.Users
			}
			if r.Share >= 0 {
				share = r.Share
			}
			if !r.Updated.IsZero() {
				upd = r.Updated
			}
			return []any{ds.Name, int64(r.ASN), r.Country, r.Name, r.Kind, users, share, upd}, nil
		}
		return nil, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"asn_meta"},
		[]string{"dataset", "asn", "country", "name", "kind", "users", "users_share", "updated"}, src); err != nil {
		return fmt.Errorf("import metadata: %s: copy: %w", ds.Name, err)
	}
	return nil
}

// asnRow is the part of an asns row that metadata decides.
type asnRow struct {
	name, nameSource     string
	access, accessSource string
	accessDate           *time.Time
	users                *int64
	share                *float64
	usersCountry         *string
	usersSource          *string
	usersDate            *time.Time
}

func (r asnRow) equal(o asnRow) bool {
	return r.name == o.name && r.nameSource == o.nameSource && r.access == o.access &&
		r.accessSource == o.accessSource && eqPtr(r.accessDate, o.accessDate, time.Time.Equal) &&
		eqPtr(r.users, o.users, eq) && eqPtr(r.share, o.share, eq) && eqPtr(r.usersCountry, o.usersCountry, eq) &&
		eqPtr(r.usersSource, o.usersSource, eq) && eqPtr(r.usersDate, o.usersDate, time.Time.Equal)
}

func eq[T comparable](a, b T) bool { return a == b }

func eqPtr[T any](a, b *T, f func(T, T) bool) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return f(*a, *b)
}

// recomputeMeta resolves all stored datasets into the asns columns.
func recomputeMeta(ctx context.Context, tx pgx.Tx) error {
	sets := map[string]netmeta.Dataset{}
	rows, err := tx.Query(ctx, `SELECT name, data_date FROM meta_datasets`)
	if err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}
	for rows.Next() {
		var name string
		var d *time.Time
		if err := rows.Scan(&name, &d); err != nil {
			return fmt.Errorf("recompute metadata: %w", err)
		}
		ds := netmeta.Dataset{Name: name}
		if d != nil {
			ds.Date = *d
		}
		sets[name] = ds
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT dataset, asn, country, name, kind, users, users_share, updated FROM asn_meta`)
	if err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}
	for rows.Next() {
		var name string
		var asn int64
		var r netmeta.Row
		var users *int64
		var share *float64
		var upd *time.Time
		if err := rows.Scan(&name, &asn, &r.Country, &r.Name, &r.Kind, &users, &share, &upd); err != nil {
			return fmt.Errorf("recompute metadata: %w", err)
		}
		r.ASN, r.Users, r.Share = bgpwatch.ASN(asn), -1, -1
		if users != nil {
			r.Users = *users
		}
		if share != nil {
			r.Share = *share
		}
		if upd != nil {
			r.Updated = *upd
		}
		ds := sets[name]
		ds.Rows = append(ds.Rows, r)
		sets[name] = ds
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}

	cur := map[bgpwatch.ASN]asnRow{}
	names := map[bgpwatch.ASN]string{}
	countries := map[bgpwatch.ASN]string{}
	rows, err = tx.Query(ctx, `SELECT asn, name, name_source, country, access, access_source, access_date,
		users, users_share, users_country, users_source, users_date FROM asns`)
	if err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}
	for rows.Next() {
		var asn int64
		var r asnRow
		var cc string
		if err := rows.Scan(&asn, &r.name, &r.nameSource, &cc, &r.access, &r.accessSource, &r.accessDate,
			&r.users, &r.share, &r.usersCountry, &r.usersSource, &r.usersDate); err != nil {
			return fmt.Errorf("recompute metadata: %w", err)
		}
		a := bgpwatch.ASN(asn)
		cur[a] = r
		if cc != "" {
			countries[a] = cc
		}
		if r.name != "" && !slices.Contains(metaSources, r.nameSource) {
			names[a] = r.name
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recompute metadata: %w", err)
	}

	res := netmeta.Resolve(netmeta.Inputs{Datasets: sets, Curated: netmeta.Curated(), Names: names, Countries: countries})
	type change struct {
		asn bgpwatch.ASN
		asnRow
	}
	var changes []change
	want := func(old asnRow, n netmeta.Network, known bool) asnRow {
		w := old
		if old.accessSource != bgpwatch.AccessSourceUser {
			w.access, w.accessSource, w.accessDate = string(bgpwatch.AccessUnknown), "", nil
			if known && n.AccessSource != "" {
				w.access, w.accessSource = string(n.Access), n.AccessSource
				if !n.AccessDate.IsZero() {
					d := n.AccessDate.UTC().Truncate(24 * time.Hour)
					w.accessDate = &d
				}
			}
		}
		if old.name == "" || slices.Contains(metaSources, old.nameSource) {
			w.name, w.nameSource = "", ""
			if known && n.Name != "" {
				w.name, w.nameSource = n.Name, n.NameSource
			}
		}
		w.users, w.share, w.usersCountry, w.usersSource, w.usersDate = nil, nil, nil, nil, nil
		if known && n.Users != nil {
			u := n.Users
			est, sh, cc, src := u.Estimate, u.Share, u.Country, u.Source
			w.users, w.share, w.usersCountry, w.usersSource = &est, &sh, &cc, &src
			if !u.Date.IsZero() {
				d := u.Date
				w.usersDate = &d
			}
		}
		return w
	}
	for a, old := range cur {
		n, known := res[a]
		if w := want(old, n, known); !w.equal(old) {
			changes = append(changes, change{a, w})
		}
	}
	for a, n := range res {
		if _, ok := cur[a]; ok {
			continue
		}
		if n.AccessSource == "" && n.Users == nil {
			continue // a name alone is not worth a row
		}
		changes = append(changes, change{a, want(asnRow{access: string(bgpwatch.AccessUnknown)}, n, true)})
	}
	if len(changes) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE asns_meta_in (asn bigint, name text, name_source text, access text,
		access_source text, access_date date, users bigint, users_share double precision, users_country text,
		users_source text, users_date date) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("recompute metadata: temp table: %w", err)
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(changes) {
			return nil, nil
		}
		c := &changes[i]
		i++
		return []any{int64(c.asn), c.name, c.nameSource, c.access, c.accessSource, c.accessDate,
			c.users, c.share, c.usersCountry, c.usersSource, c.usersDate}, nil
	})
	cols := []string{"asn", "name", "name_source", "access", "access_source", "access_date",
		"users", "users_share", "users_country", "users_source", "users_date"}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"asns_meta_in"}, cols, src); err != nil {
		return fmt.Errorf("recompute metadata: copy: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO asns (asn, name, name_source, access, access_source, access_date,
		                  users, users_share, users_country, users_source, users_date)
		SELECT asn, name, name_source, access, access_source, access_date,
		       users, users_share, users_country, users_source, users_date FROM asns_meta_in
		ON CONFLICT (asn) DO UPDATE SET
		    name = EXCLUDED.name, name_source = EXCLUDED.name_source,
		    access = EXCLUDED.access, access_source = EXCLUDED.access_source, access_date = EXCLUDED.access_date,
		    users = EXCLUDED.users, users_share = EXCLUDED.users_share, users_country = EXCLUDED.users_country,
		    users_source = EXCLUDED.users_source, users_date = EXCLUDED.users_date, updated_at = now()`); err != nil {
		return fmt.Errorf("recompute metadata: merge: %w", err)
	}
	return nil
}

// NetworkInfos returns the stored name, access type and its provenance of
// every network whose access type is known (from any source), for the
// detector's per-ASN information.
func (db *DB) NetworkInfos(ctx context.Context) (_ map[bgpwatch.ASN]bgpwatch.ASNInfo, err error) {
	defer markUnavailable(&err)
	return db.asnInfos(ctx, "network infos", "WHERE access_source <> ''")
}

// asnInfos reads the asns rows that where selects, by ASN; what names the
// read in errors.
func (db *DB) asnInfos(ctx context.Context, what, where string) (map[bgpwatch.ASN]bgpwatch.ASNInfo, error) {
	rows, err := db.Pool().Query(ctx, `SELECT asn, name, country, access, access_source, access_date FROM asns `+where)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := map[bgpwatch.ASN]bgpwatch.ASNInfo{}
	var asn int64
	var in bgpwatch.ASNInfo
	var acc string
	var d *time.Time
	_, err = pgx.ForEachRow(rows, []any{&asn, &in.Name, &in.Country, &acc, &in.AccessSource, &d}, func() error {
		in.ASN, in.Access, in.AccessDate = bgpwatch.ASN(asn), bgpwatch.Access(acc), time.Time{}
		if d != nil {
			in.AccessDate = *d
		}
		out[in.ASN] = in
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
