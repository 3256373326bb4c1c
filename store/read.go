package store

// Read queries behind the HTTP API: latest counts per country and ASN and
// visibility series on the 5-minute bin grid. Every read of values on the
// grid (Series, ASNSeries, CountryASNs) goes through fill, the one place
// that knows how the series tables are stored (see
// migrations/00001_init.sql).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bgpwatch/bgpwatch"
)

// day is the key-frame period of asn_series.
const day = 24 * time.Hour

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer markUnavailable(&err)
	if err := db.Pool().Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// countriesCTE lists the countries of country_series as c(country), with a
// NULL row at the end: a loose index scan that walks the primary key one
// country at a time instead of reading the table.
const countriesCTE = `
		WITH RECURSIVE c AS (
		    (SELECT country FROM country_series ORDER BY country LIMIT 1)
		    UNION ALL
		    SELECT (SELECT s.country FROM country_series s WHERE s.country > c.country ORDER BY s.country LIMIT 1)
		    FROM c WHERE c.country IS NOT NULL
		)`

// SeriesExtent returns the first and last stored country bin. It walks the
// primary key country by country (a loose index scan) instead of reading the
// table, so it stays cheap on years of history.
func (db *DB) SeriesExtent(ctx context.Context) (_ bgpwatch.SeriesExtent, err error) {
	defer markUnavailable(&err)
	var first, last *time.Time
	err = db.Pool().QueryRow(ctx, countriesCTE+`
		SELECT min((SELECT bin FROM country_series s WHERE s.country = c.country ORDER BY bin LIMIT 1)),
		       max((SELECT bin FROM country_series s WHERE s.country = c.country ORDER BY bin DESC LIMIT 1))
		FROM c WHERE c.country IS NOT NULL`).Scan(&first, &last)
	if err != nil {
		return bgpwatch.SeriesExtent{}, fmt.Errorf("series extent: %w", err)
	}
	if first == nil || last == nil {
		return bgpwatch.SeriesExtent{}, nil
	}
	return bgpwatch.SeriesExtent{First: first.UTC(), Last: last.UTC(), OK: true}, nil
}

// LatestCountries returns the latest row of every country with series,
// ordered by country code (one index probe per country).
func (db *DB) LatestCountries(ctx context.Context) (_ []bgpwatch.CountryLatest, err error) {
	defer markUnavailable(&err)
	rows, err := db.Pool().Query(ctx, countriesCTE+`
		SELECT l.country, l.bin, l.visible_prefixes, l.visible_slash24, l.visible_v6_prefixes, l.asns
		FROM c CROSS JOIN LATERAL (
		    SELECT * FROM country_series s WHERE s.country = c.country ORDER BY bin DESC LIMIT 1
		) l
		WHERE c.country IS NOT NULL
		ORDER BY l.country`)
	if err != nil {
		return nil, fmt.Errorf("latest countries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.CountryLatest, error) {
		var c bgpwatch.CountryLatest
		var p, s, v, a int32
		err := r.Scan(&c.Country, &c.Bin, &p, &s, &v, &a)
		c.Bin = c.Bin.UTC()
		c.Prefixes, c.Slash24, c.V6Prefixes, c.ASNs = int(p), int(s), int(v), int(a)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("latest countries: %w", err)
	}
	return out, nil
}

// LatestBin returns the bin of the latest series row of a country (when
// country is not empty) or else of an ASN; ok is false when there is none.
func (db *DB) LatestBin(ctx context.Context, country string, asn bgpwatch.ASN) (t time.Time, ok bool, err error) {
	defer markUnavailable(&err)
	var q string
	var arg any
	if country != "" {
		q, arg = `SELECT bin FROM country_series WHERE country = $1 ORDER BY bin DESC LIMIT 1`, country
	} else {
		q, arg = `SELECT bin FROM asn_series WHERE asn = $1 ORDER BY bin DESC LIMIT 1`, int64(asn)
	}
	err = db.Pool().QueryRow(ctx, q, arg).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("latest bin: %w", err)
	}
	return t.UTC(), true, nil
}

// Series returns the points of q's entity from q.From to q.To, one per
// q.Step, oldest first, on the bin grid: the value at a bin is the latest
// stored row at or before it but not before that bin's UTC day start, and
// zero when there is none (see fill). This reads asn_series (change points
// plus daily key frames) correctly, and country_series (a row per bin) too;
// an entity without rows in a day is zero for that day.
//
// It costs two index range scans: the row at or before From (since From's
// day start) and the rows in (From, To].
func (db *DB) Series(ctx context.Context, q bgpwatch.SeriesQuery) (_ []bgpwatch.Point, err error) {
	defer markUnavailable(&err)
	step := q.Step
	if step == 0 {
		step = bgpwatch.BinStep
	}
	if step < 0 || step%bgpwatch.BinStep != 0 {
		return nil, fmt.Errorf("%w step %s: want a multiple of %s", bgpwatch.ErrInvalid, step, bgpwatch.BinStep)
	}
	from, to := q.From.UTC().Truncate(bgpwatch.BinStep), q.To.UTC()
	if to.Before(from) {
		return nil, nil
	}
	cps, err := db.changePoints(ctx, q.Country, q.ASN, from, to)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return fillGrid(cps, from, to, step), nil
}

// changePoints returns the stored rows of a country (when country is not
// empty) or else of an ASN that decide its values on the bins from from to
// to (see changePointsSQL), oldest first.
func (db *DB) changePoints(ctx context.Context, country string, asn bgpwatch.ASN, from, to time.Time) ([]bgpwatch.Point, error) {
	table, col, key := "country_series", "country", any(country)
	if country == "" {
		table, col, key = "asn_series", "asn", any(int64(asn))
	}
	rows, err := db.Pool().Query(ctx, changePointsSQL(table, col+" = $1", "$2", "$3", "$4"), key, from, from.Truncate(day), to)
	if err != nil {
		return nil, err
	}
	cps, err := collectPoints(rows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(cps, func(a, b bgpwatch.Point) int { return a.Time.Compare(b.Time) })
	return cps, nil
}

// changePointsSQL selects (bin, visible_prefixes, visible_slash24,
// visible_v6_prefixes) of the rows of table matching where that decide the
// values on the bins from from to to: the latest row at or before from
// since fromDay (from's UTC day start), and the rows in (from, to]. The
// arguments are SQL expressions; two index range scans.
func changePointsSQL(table, where, from, fromDay, to string) string {
	const cols = `bin, visible_prefixes, visible_slash24, visible_v6_prefixes`
	return `
		(SELECT ` + cols + ` FROM ` + table + ` WHERE ` + where + ` AND bin <= ` + from + ` AND bin >= ` + fromDay + ` ORDER BY bin DESC LIMIT 1)
		UNION ALL
		(SELECT ` + cols + ` FROM ` + table + ` WHERE ` + where + ` AND bin > ` + from + ` AND bin <= ` + to + ` ORDER BY bin)`
}

// collectPoints reads rows of (bin, visible_prefixes, visible_slash24,
// visible_v6_prefixes) and closes them.
func collectPoints(rows pgx.Rows) ([]bgpwatch.Point, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Point, error) {
		var p bgpwatch.Point
		var a, b, c int32
		err := r.Scan(&p.Time, &a, &b, &c)
		p.Time = p.Time.UTC()
		p.Prefixes, p.Slash24, p.V6Prefixes = int(a), int(b), int(c)
		return p, err
	})
}

// fill reads the values of an entity on the bin grid from its change
// points (oldest first). This is the one place that knows the storage rule
// of migrations/00001_init.sql: the value at bin t is the latest row at or
// before t, never from before t's UTC day start (daily key frames make that
// exact), and zero when there is none. Ask for bins in time order.
type fill struct {
	cps []bgpwatch.Point
	i   int // index of the latest change point at or before the last bin asked; -1 none
}

func newFill(cps []bgpwatch.Point) fill { return fill{cps: cps, i: -1} }

// at returns the counts at bin t; seen reports whether any change point
// lies at or before t (an ASN's rows may start within the range).
func (f *fill) at(t time.Time) (c bgpwatch.Counts, seen bool) {
	c, seen, _ = f.run(t)
	return c, seen
}

// run is at, and until is the end of the run of bins from t that have the
// same counts: the next change point or the next UTC day start.
func (f *fill) run(t time.Time) (c bgpwatch.Counts, seen bool, until time.Time) {
	for f.i+1 < len(f.cps) && !f.cps[f.i+1].Time.After(t) {
		f.i++
	}
	dayStart := t.Truncate(day)
	until = dayStart.Add(day)
	if f.i+1 < len(f.cps) && f.cps[f.i+1].Time.Before(until) {
		until = f.cps[f.i+1].Time
	}
	if f.i < 0 {
		return c, false, until
	}
	if p := &f.cps[f.i]; !p.Time.Before(dayStart) {
		c = p.Counts
	}
	return c, true, until
}

// fillGrid expands change points cps (sorted by time) onto the bins from
// from to to and folds them into points of width step (minimum per count).
func fillGrid(cps []bgpwatch.Point, from, to time.Time, step time.Duration) []bgpwatch.Point {
	out := make([]bgpwatch.Point, 0, int(to.Sub(from)/step)+1)
	f := newFill(cps)
	for t := from; !t.After(to); t = t.Add(bgpwatch.BinStep) {
		c, _ := f.at(t)
		if k := len(out) - 1; k >= 0 && t.Sub(out[k].Time) < step {
			o := &out[k].Counts
			o.Prefixes, o.Slash24, o.V6Prefixes = min(o.Prefixes, c.Prefixes), min(o.Slash24, c.Slash24), min(o.V6Prefixes, c.V6Prefixes)
			continue
		}
		out = append(out, bgpwatch.Point{Time: t, Counts: c})
	}
	return out
}

// ASNSummary returns the registry data of asn and its counts at bin at
// (normally the latest stored bin). It returns an error wrapping
// bgpwatch.ErrNotFound when the ASN is neither in the registry nor in the
// series.
func (db *DB) ASNSummary(ctx context.Context, asn bgpwatch.ASN, at time.Time) (_ bgpwatch.ASNSummary, err error) {
	defer markUnavailable(&err)
	s := bgpwatch.ASNSummary{ASNInfo: bgpwatch.ASNInfo{ASN: asn, Access: bgpwatch.AccessUnknown}}
	var access string
	var accDate, usersDate *time.Time
	var users *int64
	var share *float64
	var usersCC, usersSrc *string
	err = db.Pool().QueryRow(ctx, `SELECT name, country, access, access_source, access_date,
		users, users_share, users_country, users_source, users_date FROM asns WHERE asn = $1`, int64(asn)).
		Scan(&s.Name, &s.Country, &access, &s.AccessSource, &accDate, &users, &share, &usersCC, &usersSrc, &usersDate)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return s, fmt.Errorf("asn %d: %w", asn, err)
	default:
		s.Known = true
		s.Access = bgpwatch.Access(access)
		if accDate != nil {
			s.AccessDate = *accDate
		}
		s.Users = usersOf(users, share, usersCC, usersSrc, usersDate)
	}
	_, has, err := db.LatestBin(ctx, "", asn)
	if err != nil {
		return s, fmt.Errorf("asn %d: %w", asn, err)
	}
	if !s.Known && !has {
		return s, fmt.Errorf("asn %d: %w", asn, bgpwatch.ErrNotFound)
	}
	if !at.IsZero() {
		pts, err := db.Series(ctx, bgpwatch.SeriesQuery{ASN: asn, From: at, To: at})
		if err != nil {
			return s, fmt.Errorf("asn %d: %w", asn, err)
		}
		if len(pts) > 0 {
			s.At, s.Counts = pts[0].Time, pts[0].Counts
		}
	}
	return s, nil
}

// CountryASNs returns the networks registered to a country (asns.country),
// largest first: by visible /24s at q.At, then baseline, then prefixes.
//
// The baseline follows the detector's (package detect): the lower median
// of the visible /24s over the bins of the window, leaving out the bins in
// which the network was in an event of its own, so that an outage does not
// drag its own baseline down. While such an event is ongoing at q.At, the
// baseline is that event's, frozen at its start by the detector. Unlike the
// detector's, the window is not cut by collector outages (skipped bins are
// not stored).
//
// It is one statement whatever the number of networks: per network its
// registry row, its events in the window (as arrays) and its change points
// (one row each, the same two index range scans as Series).
func (db *DB) CountryASNs(ctx context.Context, q bgpwatch.CountryASNsQuery) (_ []bgpwatch.CountryASN, err error) {
	defer markUnavailable(&err)
	at, from := q.At.UTC().Truncate(bgpwatch.BinStep), q.BaselineFrom.UTC().Truncate(bgpwatch.BinStep)
	if from.After(at) {
		from = at
	}
	// A read-only transaction only to turn JIT compilation off: the plan's
	// cost estimate (a nested loop per network) passes jit_above_cost, and
	// compiling takes longer than the query (about 15 ms for 2500 networks).
	tx, err := db.Pool().BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("country %s asns: %w", q.Country, err)
	}
	defer tx.Rollback(ctx) // read-only
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("country %s asns: %w", q.Country, err)
	}
	rows, err := tx.Query(ctx, `
		WITH a AS (SELECT asn, name, access, access_source, access_date, users, users_share, users_country,
		                  users_source, users_date FROM asns WHERE country = $1),
		e AS (
		    SELECT asn, array_agg(id ORDER BY started_at) AS ids, array_agg(started_at ORDER BY started_at) AS starts,
		           array_agg(coalesce(ended_at, $2::timestamptz + interval '1 day') ORDER BY started_at) AS ends,
		           array_agg(baseline_slash24 ORDER BY started_at) AS bases
		    FROM events
		    WHERE scope = 'asn' AND asn IN (SELECT asn FROM a) AND started_at <= $2 AND (ended_at IS NULL OR ended_at > $4)
		    GROUP BY asn
		)
		SELECT a.asn, a.name, a.access, a.access_source, a.access_date, a.users, a.users_share, a.users_country,
		       a.users_source, a.users_date, e.ids, e.starts, e.ends, e.bases,
		       s.bin, s.visible_prefixes, s.visible_slash24, s.visible_v6_prefixes
		FROM a LEFT JOIN e USING (asn) LEFT JOIN LATERAL (`+
		changePointsSQL("asn_series", "asn = a.asn", "$4", "$3", "$2")+`
		) s ON true
		ORDER BY a.asn, s.bin`,
		q.Country, nullTime(at), from.Truncate(day), from)
	if err != nil {
		return nil, fmt.Errorf("country %s asns: %w", q.Country, err)
	}
	defer rows.Close()
	var (
		out  []bgpwatch.CountryASN
		cur  *bgpwatch.CountryASN // the network of the rows being read
		cps  []bgpwatch.Point
		evs  asnEvents
		runs []weighted
	)
	finish := func() {
		if cur != nil && !at.IsZero() {
			setCounts(cur, cps, &evs, from, at, &runs)
		}
	}
	for rows.Next() {
		var (
			asn       int64
			name      string
			access    string
			e         asnEvents
			bin       pgtype.Timestamptz // NULL: a network without rows
			p, v, v6  pgtype.Int4
			accSrc    string
			accDate   *time.Time
			users     *int64
			share     *float64
			uCC, uSrc *string
			uDate     *time.Time
		)
		if err := rows.Scan(&asn, &name, &access, &accSrc, &accDate, &users, &share, &uCC, &uSrc, &uDate,
			&e.ids, &e.starts, &e.ends, &e.bases, &bin, &p, &v, &v6); err != nil {
			return nil, fmt.Errorf("country %s asns: %w", q.Country, err)
		}
		if cur == nil || cur.ASN != bgpwatch.ASN(asn) {
			finish()
			in := bgpwatch.ASNInfo{ASN: bgpwatch.ASN(asn), Name: name, Country: q.Country, Access: bgpwatch.Access(access), AccessSource: accSrc}
			if accDate != nil {
				in.AccessDate = *accDate
			}
			out = append(out, bgpwatch.CountryASN{ASNInfo: in, Users: usersOf(users, share, uCC, uSrc, uDate)})
			cur, cps, evs = &out[len(out)-1], cps[:0], e
		}
		if bin.Valid {
			cps = append(cps, bgpwatch.Point{Time: bin.Time.UTC(), Counts: bgpwatch.Counts{Prefixes: int(p.Int32), Slash24: int(v.Int32), V6Prefixes: int(v6.Int32)}})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("country %s asns: %w", q.Country, err)
	}
	finish()
	slices.SortFunc(out, func(a, b bgpwatch.CountryASN) int {
		return cmp.Or(cmp.Compare(b.Slash24, a.Slash24), cmp.Compare(b.Baseline, a.Baseline),
			cmp.Compare(b.Prefixes, a.Prefixes), cmp.Compare(b.V6Prefixes, a.V6Prefixes), cmp.Compare(a.ASN, b.ASN))
	})
	return out, nil
}

// asnEvents are a network's own events, as parallel arrays from SQL (ends
// of ongoing events are after the bin asked for).
type asnEvents struct {
	ids          []int64
	starts, ends []time.Time
	bases        []int32
}

// weighted is a value that holds for n bins.
type weighted struct{ v, n int }

// setCounts sets n's counts at bin at and its baseline over the bins in
// [from, at) from its change points cps and events evs; runs is scratch.
func setCounts(n *bgpwatch.CountryASN, cps []bgpwatch.Point, evs *asnEvents, from, at time.Time, runs *[]weighted) {
	for i := range evs.ids {
		if !evs.starts[i].After(at) && evs.ends[i].After(at) {
			n.EventID, n.Baseline, n.HasBaseline = evs.ids[i], int(evs.bases[i]), true
		}
	}
	f := newFill(cps)
	*runs = (*runs)[:0]
	for t := from; n.EventID == 0 && t.Before(at); {
		c, _, until := f.run(t)
		if at.Before(until) {
			until = at
		}
		until, skip := evs.cut(t, until)
		if k := int(until.Sub(t) / bgpwatch.BinStep); !skip && k > 0 {
			*runs = append(*runs, weighted{c.Slash24, k})
		}
		t = until
	}
	if len(*runs) > 0 {
		n.Baseline, n.HasBaseline = lowerMedian(*runs), true
	}
	n.Counts, _ = f.at(at)
}

// cut shortens the run of bins [t, until) to end where one of the events
// starts or ends; skip reports whether the run lies in an event.
func (e *asnEvents) cut(t, until time.Time) (end time.Time, skip bool) {
	for i := range e.starts {
		s, x := ceilBin(e.starts[i]), ceilBin(e.ends[i])
		switch {
		case !t.Before(s) && t.Before(x):
			if x.Before(until) {
				until = x
			}
			return until, true
		case t.Before(s) && s.Before(until):
			until = s
		}
	}
	return until, false
}

// ceilBin rounds t up to the bin grid.
func ceilBin(t time.Time) time.Time {
	if d := t.Truncate(bgpwatch.BinStep); d.Before(t) {
		return d.Add(bgpwatch.BinStep)
	}
	return t
}

// nullTime is t, or SQL NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// lowerMedian returns the lower median of the values, each counted n
// times, as detect's medianOf does over bins; it reorders runs.
func lowerMedian(runs []weighted) int {
	slices.SortFunc(runs, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	total := 0
	for _, r := range runs {
		total += r.n
	}
	k := (total - 1) / 2 // the index of the lower median among the bins
	for _, r := range runs {
		if k < r.n {
			return r.v
		}
		k -= r.n
	}
	return runs[len(runs)-1].v
}

// Stats counts the stored events by scope and status.
func (db *DB) Stats(ctx context.Context) (_ bgpwatch.EventStats, err error) {
	defer markUnavailable(&err)
	rows, err := db.Pool().Query(ctx, `SELECT scope, ended_at IS NULL, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return bgpwatch.EventStats{}, fmt.Errorf("stats: %w", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.EventCount, error) {
		var e bgpwatch.EventCount
		var n int64
		err := r.Scan(&e.Scope, &e.Ongoing, &n)
		e.N = int(n)
		return e, err
	})
	if err != nil {
		return bgpwatch.EventStats{}, fmt.Errorf("stats: %w", err)
	}
	return bgpwatch.EventStats{Events: evs}, nil
}
