package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
)

// CountryPoint is one country_series row.
type CountryPoint struct {
	Country string
	Bin     time.Time
	bgpwatch.Counts
	ASNs int // ASNs of the country with any visible prefix
}

// ASNPoint is one asn_series row (a change point or a key frame).
type ASNPoint struct {
	ASN bgpwatch.ASN
	Bin time.Time
	bgpwatch.Counts
}

// FeedPoint is one bin_feeds row: the number of full-feed peers of a bin.
type FeedPoint struct {
	Bin      time.Time
	FullFeed int
}

// SeriesBatch is one idempotent series write: it replaces every series row
// whose bin lies in [From, To] (bin start times, inclusive) with the rows in
// it. The caller decides which asn_series rows are change points or key
// frames; the store writes what it is given.
type SeriesBatch struct {
	From, To  time.Time
	Countries []CountryPoint
	ASNs      []ASNPoint
	// Source, when set (SourceLive or SourceReplay), also replaces that
	// source's bin_feeds rows of [From, To] with Feeds: the bins' FullFeed,
	// which a resumed detector's collector-outage guard starts from (see
	// DetectorHistory). Without it bin_feeds is left alone.
	Source string
	Feeds  []FeedPoint
	// Exclusive (with Source) refuses, with an *OtherSourceError, to
	// replace bins that bin_feeds says another source wrote: a replay of
	// the recent past must not silently overwrite what live ingest stored.
	Exclusive bool
}

// ErrOtherSource is wrapped by OtherSourceError.
var ErrOtherSource = errors.New("bins written by another source")

// OtherSourceError is an exclusive write's refusal: Bins bins from From to
// To (bin starts) were written by Source.
type OtherSourceError struct {
	Source   string
	From, To time.Time
	Bins     int
}

func (e *OtherSourceError) Error() string {
	return fmt.Sprintf("write bins: %d bins from %s to %s were written by %s ingest; refusing to replace them",
		e.Bins, e.From.UTC().Format(time.RFC3339), e.To.UTC().Format(time.RFC3339), e.Source)
}

func (e *OtherSourceError) Unwrap() error { return ErrOtherSource }

// WriteBins writes a batch of series rows in one transaction: it creates
// the month partitions the batch needs, deletes the rows of the batch's bin
// range and copies the new rows in (and the same for the source's
// bin_feeds rows). Writing the same batch twice leaves the same rows, which
// keeps replays idempotent.
func (db *DB) WriteBins(ctx context.Context, b *SeriesBatch) (err error) {
	defer markUnavailable(&err)
	if b == nil || b.To.Before(b.From) {
		return nil
	}
	from, to := b.From.UTC(), b.To.UTC()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("write bins: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	if b.Exclusive && b.Source != "" {
		if err := checkOtherSource(ctx, tx, b.Source, from, to); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `SELECT ensure_series_partitions($1, $2)`, from, to); err != nil {
		return fmt.Errorf("write bins: partitions: %w", err)
	}
	for _, t := range []string{"country_series", "asn_series"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE bin >= $1 AND bin <= $2`, from, to); err != nil {
			return fmt.Errorf("write bins: clear %s: %w", t, err)
		}
	}
	if len(b.Countries) > 0 {
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(b.Countries) {
				return nil, nil
			}
			p := &b.Countries[i]
			i++
			return []any{p.Country, p.Bin.UTC(), int32(p.Prefixes), int32(p.Slash24), int32(p.V6Prefixes), int32(p.ASNs)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"country_series"},
			[]string{"country", "bin", "visible_prefixes", "visible_slash24", "visible_v6_prefixes", "asns"}, src); err != nil {
			return fmt.Errorf("write bins: copy country_series: %w", err)
		}
	}
	if len(b.ASNs) > 0 {
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(b.ASNs) {
				return nil, nil
			}
			p := &b.ASNs[i]
			i++
			return []any{int64(p.ASN), p.Bin.UTC(), int32(p.Prefixes), int32(p.Slash24), int32(p.V6Prefixes)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"asn_series"},
			[]string{"asn", "bin", "visible_prefixes", "visible_slash24", "visible_v6_prefixes"}, src); err != nil {
			return fmt.Errorf("write bins: copy asn_series: %w", err)
		}
	}
	if err := writeFeeds(ctx, tx, b, from, to); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("write bins: commit: %w", err)
	}
	return nil
}

// checkOtherSource fails when another source than src wrote a bin of
// [from, to].
func checkOtherSource(ctx context.Context, tx pgx.Tx, src string, from, to time.Time) error {
	var e OtherSourceError
	var first, last *time.Time
	var other *string
	err := tx.QueryRow(ctx, `SELECT count(DISTINCT bin), min(bin), max(bin), min(source) FROM bin_feeds
		WHERE source <> $1 AND bin >= $2 AND bin <= $3`, src, from, to).Scan(&e.Bins, &first, &last, &other)
	if err != nil {
		return fmt.Errorf("write bins: check other sources: %w", err)
	}
	if e.Bins == 0 {
		return nil
	}
	e.From, e.To, e.Source = *first, *last, *other
	return &e
}

// writeFeeds replaces the batch source's bin_feeds rows of [from, to].
func writeFeeds(ctx context.Context, tx pgx.Tx, b *SeriesBatch, from, to time.Time) error {
	if b.Source == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM bin_feeds WHERE source = $1 AND bin >= $2 AND bin <= $3`, b.Source, from, to); err != nil {
		return fmt.Errorf("write bins: clear bin_feeds: %w", err)
	}
	if len(b.Feeds) == 0 {
		return nil
	}
	bins := make([]time.Time, len(b.Feeds))
	ffs := make([]int32, len(b.Feeds))
	for i, f := range b.Feeds {
		bins[i], ffs[i] = f.Bin.UTC(), int32(f.FullFeed)
	}
	// The rows of the range are gone already; the upsert keeps a row
	// outside it (a caller's mistake) from failing the whole batch.
	if _, err := tx.Exec(ctx, `INSERT INTO bin_feeds (source, bin, full_feed)
		SELECT $1, bin, full_feed FROM unnest($2::timestamptz[], $3::integer[]) AS f (bin, full_feed)
		ON CONFLICT (source, bin) DO UPDATE SET full_feed = excluded.full_feed`, b.Source, bins, ffs); err != nil {
		return fmt.Errorf("write bins: bin_feeds: %w", err)
	}
	return nil
}
