package store

// The history a restarted detector resumes from: the stored series of the
// last baseline window before the first bin to come, read for every ASN and
// country at once, and the events stored for that time.

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
)

// HistoryQuery selects a DetectorHistory.
type HistoryQuery struct {
	// Before is the first bin to come: the history holds the bins before it.
	Before time.Time
	// Span is how far back the history goes: the detector's baseline
	// window and its warm-up.
	Span time.Duration
	// Source selects the events (SourceLive or SourceReplay).
	Source string
	// Open: events that ended less than Open before Before may still be
	// open in the detector (recovering), so their evidence is read, as that
	// of ongoing events is.
	Open time.Duration
	// MaxSpan caps how far back the series of the entities of a long
	// ongoing event are read (from Span before its start); 0 means 14 days.
	MaxSpan time.Duration
}

// DetectorHistory is what the store holds about the time before a bin: the
// detector's History (the bins written, the bins of country_series; the
// source's FullFeed in them as it wrote them in bin_feeds, 0 where none is
// stored, written by another source or before bin_feeds existed; every
// ASN's and country's visible /24s in them as steps; the events of the
// source that overlap them, those that may still be open with their
// contributing ASNs and evidence), and what the pipeline needs besides.
type DetectorHistory struct {
	detect.History
	// LastASNs are the counts of the ASNs that are not zero at the last bin.
	LastASNs map[bgpwatch.ASN]bgpwatch.Counts
}

// seriesRow is one stored row while a history is assembled.
type seriesRow struct {
	bin int64 // Unix seconds
	bgpwatch.Counts
}

// DetectorHistory reads the history a detector resumes from (see
// HistoryQuery). The ASN series of the span are read in one pass over the
// span's rows, plus one row per ASN from the start of the span's first
// day (asn_series holds change points and daily key frames), so it costs
// about one read of the span's asn_series rows, whatever the number of
// ASNs. The entities of events that started before the span are read back
// to Span before their start (at most MaxSpan), so that their baseline is
// the one from before the event.
func (db *DB) DetectorHistory(ctx context.Context, q HistoryQuery) (_ *DetectorHistory, err error) {
	defer markUnavailable(&err)
	before := q.Before.UTC()
	from := before.Add(-q.Span)
	maxSpan := q.MaxSpan
	if maxSpan <= 0 {
		maxSpan = 14 * day
	}
	h := &DetectorHistory{
		History: detect.History{
			ASNs:      map[bgpwatch.ASN][]detect.Step{},
			Countries: map[string][]detect.Step{},
		},
		LastASNs: map[bgpwatch.ASN]bgpwatch.Counts{},
	}

	// Events of the source that overlap the span.
	rows, err := db.Pool().Query(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.source = $1 AND e.started_at < $2 AND (e.ended_at IS NULL OR e.ended_at >= $3)
		ORDER BY e.started_at, e.id`, q.Source, before, from)
	if err != nil {
		return nil, fmt.Errorf("detector history: events: %w", err)
	}
	h.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (bgpwatch.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("detector history: events: %w", err)
	}
	if err := db.loadEventASNs(ctx, h.Events); err != nil {
		return nil, fmt.Errorf("detector history: %w", err)
	}
	if err := db.loadEvidence(ctx, h.Events, before.Add(-q.Open)); err != nil {
		return nil, err
	}

	// Entities of events that started before the span are read further back.
	lo := from
	var extASN []int64
	var extCC []string
	for _, ev := range h.Events {
		if !ev.StartedAt.Before(from) {
			continue
		}
		lo = minTime(lo, maxTime(ev.StartedAt.Add(-q.Span), before.Add(-maxSpan)))
		if ev.Scope == bgpwatch.ScopeCountry {
			extCC = append(extCC, ev.Country)
		} else {
			extASN = append(extASN, int64(ev.ASN))
		}
		for _, a := range ev.ASNs {
			extASN = append(extASN, int64(a.ASN))
		}
	}

	// The bins: those written, as country_series has a row per country and bin.
	rows, err = db.Pool().Query(ctx, `SELECT DISTINCT bin FROM country_series WHERE bin >= $1 AND bin < $2 ORDER BY bin`, lo, before)
	if err != nil {
		return nil, fmt.Errorf("detector history: bins: %w", err)
	}
	h.Bins, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var t time.Time
		err := r.Scan(&t)
		return t.UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("detector history: bins: %w", err)
	}
	if len(h.Bins) == 0 {
		return h, nil
	}
	g := newBinGrid(h.Bins)

	// FullFeed of the bins: one small row per bin.
	h.FullFeed = make([]int, len(h.Bins))
	rows, err = db.Pool().Query(ctx, `SELECT bin, full_feed FROM bin_feeds WHERE source = $1 AND bin >= $2 AND bin < $3`,
		q.Source, lo, before)
	if err != nil {
		return nil, fmt.Errorf("detector history: full feed: %w", err)
	}
	var t time.Time
	var ff int32
	_, err = pgx.ForEachRow(rows, []any{&t, &ff}, func() error {
		if i := g.index(t.Unix()); i < len(g.bins) && g.bins[i] == t.Unix() {
			h.FullFeed[i] = int(ff)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detector history: full feed: %w", err)
	}

	// Countries: a row per bin.
	ccRows := map[string][]seriesRow{}
	rows, err = db.Pool().Query(ctx, `
		SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM country_series
		WHERE bin < $2 AND (bin >= $1 OR (bin >= $3 AND country = ANY($4)))`, from, before, lo, extCC)
	if err != nil {
		return nil, fmt.Errorf("detector history: country series: %w", err)
	}
	var cc string
	var r seriesRow
	var p, s, v int32
	_, err = pgx.ForEachRow(rows, []any{&cc, &t, &p, &s, &v}, func() error {
		r.bin, r.Prefixes, r.Slash24, r.V6Prefixes = t.Unix(), int(p), int(s), int(v)
		ccRows[cc] = append(ccRows[cc], r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detector history: country series: %w", err)
	}
	for cc, rs := range ccRows {
		if steps, _ := g.steps(rs); len(steps) > 0 {
			h.Countries[cc] = steps
		}
	}

	// ASNs: the rows of the span, the latest row of each ASN before it
	// since the start of its day (moved to just before the span, so that
	// it holds from the span's first bin on: the bins before the span are
	// those of old events' entities only), and the longer series of the
	// ASNs of old events.
	asnRows := map[bgpwatch.ASN][]seriesRow{}
	var asn int64
	rows, err = db.Pool().Query(ctx, `
		SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series
		WHERE bin >= $1 AND bin < $2
		UNION ALL
		(SELECT DISTINCT ON (asn) asn, greatest(bin, $6), visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series
		 WHERE bin >= $3 AND bin < $1 ORDER BY asn, bin DESC)
		UNION ALL
		SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series
		WHERE asn = ANY($4) AND bin >= $5 AND bin < $1`,
		from, before, from.Truncate(day), extASN, lo.Truncate(day), from.Add(-time.Second))
	if err != nil {
		return nil, fmt.Errorf("detector history: asn series: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&asn, &t, &p, &s, &v}, func() error {
		r.bin, r.Prefixes, r.Slash24, r.V6Prefixes = t.Unix(), int(p), int(s), int(v)
		a := bgpwatch.ASN(asn)
		asnRows[a] = append(asnRows[a], r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detector history: asn series: %w", err)
	}
	for a, rs := range asnRows {
		steps, last := g.steps(rs)
		if len(steps) > 0 {
			h.ASNs[a] = steps
		}
		if last != (bgpwatch.Counts{}) {
			h.LastASNs[a] = last
		}
	}
	return h, nil
}

// loadEvidence fills Withdrawn of the events that are ongoing or ended at
// or after openSince.
func (db *DB) loadEvidence(ctx context.Context, evs []bgpwatch.Event, openSince time.Time) error {
	idx := map[int64]int{}
	var ids []int64
	for i, ev := range evs {
		if ev.EndedAt.IsZero() || !ev.EndedAt.Before(openSince) {
			idx[ev.ID] = i
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := db.Pool().Query(ctx, `SELECT event_id, prefix, origin_asn, withdrawn_at FROM event_prefixes
		WHERE event_id = ANY($1) ORDER BY event_id, withdrawn_at, prefix`, ids)
	if err != nil {
		return fmt.Errorf("detector history: evidence: %w", err)
	}
	var id, origin int64
	var pfx netip.Prefix
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &pfx, &origin, &at}, func() error {
		ev := &evs[idx[id]]
		ev.Withdrawn = append(ev.Withdrawn, bgpwatch.WithdrawnPrefix{Prefix: pfx, Origin: bgpwatch.ASN(origin), WithdrawnAt: at.UTC()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("detector history: evidence: %w", err)
	}
	return nil
}

// binGrid maps stored rows onto the bins of a history.
type binGrid struct {
	bins []int64 // Unix seconds, ascending
}

func newBinGrid(bins []time.Time) *binGrid {
	g := &binGrid{bins: make([]int64, len(bins))}
	for i, t := range bins {
		g.bins[i] = t.Unix()
	}
	return g
}

// index is the first bin at or after t (len(bins) when none).
func (g *binGrid) index(t int64) int {
	return sort.Search(len(g.bins), func(i int) bool { return g.bins[i] >= t })
}

// steps turns one entity's rows into steps over the bins, by the rule of
// Series: the value at a bin is the latest row at or before it, but not
// from before that bin's UTC day start (zero then). It also returns the
// counts at the last bin.
func (g *binGrid) steps(rs []seriesRow) ([]detect.Step, bgpwatch.Counts) {
	slices.SortFunc(rs, func(a, b seriesRow) int { return cmp.Compare(a.bin, b.bin) })
	var out []detect.Step
	var cur int32
	var last bgpwatch.Counts
	n := len(g.bins)
	const daySec = int64(day / time.Second)
	set := func(i int, v int32) {
		if i >= n || v == cur {
			return
		}
		if k := len(out) - 1; k >= 0 && int(out[k].At) == i {
			out[k].Slash24 = v
		} else {
			out = append(out, detect.Step{At: int32(i), Slash24: v})
		}
		cur = v
	}
	for k, r := range rs {
		if k+1 < len(rs) && rs[k+1].bin == r.bin {
			continue // the same row read twice (span and old-event reads)
		}
		i := g.index(r.bin)
		end := g.index(r.bin - r.bin%daySec + daySec) // the row's day ends
		next := n
		if k+1 < len(rs) {
			next = g.index(rs[k+1].bin)
		}
		if i >= min(end, next) {
			continue // no bin of its own
		}
		set(i, int32(r.Slash24))
		if end < next {
			set(end, 0)
		}
		if next == n {
			if end >= n {
				last = r.Counts
			}
		}
	}
	return out, last
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
