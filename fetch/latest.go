package fetch

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// ErrNoRIB reports a collector whose archive lists no RIB dump in the
// months searched.
var ErrNoRIB = errors.New("no RIB dump found")

// monthDir is the URL of the directory holding a collector's files of the
// given kind for the month of t, and the cache path of that directory.
func monthDir(a collectorArchive, collector string, k Kind, t time.Time) (url, rel string) {
	it := a.item(collector, k, t)
	return it.URL[:strings.LastIndex(it.URL, "/")+1], path.Dir(it.Rel)
}

// listed reads the index page of a collector's month directory and returns
// the files of kind k in it, by time.
func (f *fetcher) listed(ctx context.Context, a collectorArchive, collector string, k Kind, month time.Time) ([]Item, error) {
	dirURL, rel := monthDir(a, collector, k, month)
	names, err := f.listDir(ctx, dirURL)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, n := range names {
		af := archive.ParseName(n)
		if af.Collector != "" || af.Time.IsZero() || !(strings.HasSuffix(n, ".gz") || strings.HasSuffix(n, ".bz2")) {
			continue // not one of the collector's own MRT files
		}
		kind := KindRIB
		if af.Kind == archive.KindUpdates {
			kind = KindUpdates
		}
		if kind != k {
			continue
		}
		out = append(out, Item{Collector: collector, Kind: kind, Time: af.Time, URL: dirURL + n, Rel: path.Join(rel, n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// LatestRIB finds, from the archive's directory index pages, the newest
// RIB dump of collector at or before at (this month's directory, then the
// two before it). It makes no download.
func LatestRIB(ctx context.Context, o Options, collector string, at time.Time) (Item, error) {
	o = o.withDefaults()
	a, err := collectorArchiveOf(o, collector)
	if err != nil {
		return Item{}, err
	}
	f := &fetcher{o: o}
	month := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
	var firstErr error
	for range 3 {
		items, err := f.listed(ctx, a, collector, KindRIB, month)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		for i := len(items) - 1; i >= 0; i-- {
			if !items[i].Time.After(at) {
				return items[i], nil
			}
		}
		if ctx.Err() != nil {
			return Item{}, ctx.Err()
		}
		month = month.AddDate(0, -1, 0)
	}
	if firstErr != nil {
		return Item{}, fmt.Errorf("%s: %w (%v)", collector, ErrNoRIB, firstErr)
	}
	return Item{}, fmt.Errorf("%s: %w at or before %s", collector, ErrNoRIB, at.UTC().Format(time.RFC3339))
}

// PublishedUpdates lists, from the archive's directory index pages, the
// updates files of collector named in [from, to], by time. It makes no
// download.
func PublishedUpdates(ctx context.Context, o Options, collector string, from, to time.Time) ([]Item, error) {
	o = o.withDefaults()
	a, err := collectorArchiveOf(o, collector)
	if err != nil {
		return nil, err
	}
	f := &fetcher{o: o}
	var out []Item
	for month := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); !month.After(to); month = month.AddDate(0, 1, 0) {
		items, err := f.listed(ctx, a, collector, KindUpdates, month)
		if err != nil {
			return out, err
		}
		for _, it := range items {
			if !it.Time.Before(from) && !it.Time.After(to) {
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// UpdatesEvery is how long one updates file of collector covers (RIS 5
// minutes, RouteViews 15); 0 for an unknown collector.
func UpdatesEvery(collector string) time.Duration {
	a, err := collectorArchiveOf(Options{}, collector)
	if err != nil {
		return 0
	}
	return a.UpdatesEvery()
}

// ActiveWithin is how recent a collector's newest RIB dump must be for
// RISCollectors to count it as running: RIS writes a bview every 8 hours,
// and a retired collector's archive ends with its last one.
const ActiveWithin = 24 * time.Hour

// RISCollectors lists the RIS collectors of the archive's root index page
// (its rrcNN/ directories) whose newest RIB dump at or before at is at
// most ActiveWithin old, by name: the collectors running at that time,
// without the retired ones. It downloads no MRT file. An error reading the
// root page is returned; a collector whose listing fails is left out and
// named in skipped with the reason.
func RISCollectors(ctx context.Context, o Options, at time.Time) (names []string, skipped map[string]error, err error) {
	o = o.withDefaults()
	f := &fetcher{o: o}
	root := strings.TrimRight(o.risURL(), "/") + "/"
	dirs, err := f.listSubdirs(ctx, root)
	if err != nil {
		return nil, nil, err
	}
	var cands []string
	for _, d := range dirs {
		if archive.ProjectOf(d) == archive.RIS {
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		return nil, nil, fmt.Errorf("list %s: no rrcNN/ directory in the index page", root)
	}
	type result struct {
		name string
		err  error
	}
	results := make([]result, len(cands))
	sem := make(chan struct{}, o.Parallel) // withDefaults: at least 1
	var wg sync.WaitGroup
	for i, name := range cands {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rib, err := LatestRIB(ctx, o, name, at)
			if err == nil && at.Sub(rib.Time) > ActiveWithin {
				err = fmt.Errorf("%s: newest RIB dump %s, more than %v before %s: %w", name,
					rib.Time.Format(time.RFC3339), ActiveWithin, at.UTC().Format(time.RFC3339), ErrNoRIB)
			}
			results[i] = result{name, err}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	skipped = map[string]error{}
	for _, r := range results {
		if r.err != nil {
			skipped[r.name] = r.err
			continue
		}
		names = append(names, r.name)
	}
	slices.Sort(names)
	return names, skipped, nil
}
