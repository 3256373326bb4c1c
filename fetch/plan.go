// Package fetch downloads public route-collector archives (RIPE RIS,
// RouteViews) and RIR delegation files for a time range into a local cache
// that mirrors the archive layout, so that a replay can read it directly.
//
// Select works out which files a replay of [from, to] needs: per collector
// the latest RIB dump at or before from and the updates files that follow
// it up to to. Fetch downloads them with a few parallel connections,
// resumes partial downloads, verifies every file (it decompresses cleanly and
// its MRT framing is sane) before it gets its final name, and re-uses cached
// files without any request on the next run.
package fetch

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// Default archive locations: the real public archives.
const (
	DefaultRISURL        = "https://data.ris.ripe.net"
	DefaultRouteViewsURL = "https://archive.routeviews.org"
)

// Kind says what a file is: the archive kinds and RIR delegation files.
type Kind = archive.Kind

// File kinds.
const (
	KindRIB        = archive.KindRIB
	KindUpdates    = archive.KindUpdates
	KindDelegation = archive.KindDelegation
)

// Item is one file to fetch: where it lives upstream and where it goes in
// the cache.
type Item struct {
	Collector string    `json:"collector"` // rrc00, route-views2, ... or the registry for delegations
	Kind      Kind      `json:"kind"`
	Time      time.Time `json:"time"` // the time (or date) in the file's name
	URL       string    `json:"url"`
	Rel       string    `json:"path"` // slash-separated path relative to the cache directory
}

// collectorArchive is where one collector's files are: its project's
// layout (package archive) under a base URL.
type collectorArchive struct {
	archive.Project
	base  string // URL up to and including the collector part
	local string // cache directory of the collector
}

// collectorArchiveOf maps a collector name to where its files are.
func collectorArchiveOf(o Options, name string) (collectorArchive, error) {
	switch p := archive.ProjectOf(name); {
	case p == archive.RIS:
		return collectorArchive{Project: p, base: strings.TrimRight(o.risURL(), "/") + "/" + name, local: name}, nil
	case name == "route-views2":
		// RouteViews publishes its oldest collector at the archive root.
		return collectorArchive{Project: p, base: strings.TrimRight(o.routeViewsURL(), "/"), local: name}, nil
	case p == archive.RouteViews:
		return collectorArchive{Project: p, base: strings.TrimRight(o.routeViewsURL(), "/") + "/" + name, local: name}, nil
	}
	return collectorArchive{}, fmt.Errorf("unknown collector %q: want rrcNN (RIPE RIS) or route-views* (RouteViews)", name)
}

// item builds the Item of one file of a collector.
func (a collectorArchive) item(collector string, k Kind, t time.Time) Item {
	rel := a.Path(k, t)
	return Item{Collector: collector, Kind: k, Time: t.UTC(), URL: a.base + "/" + rel, Rel: path.Join(a.local, rel)}
}

// Select lists the files a replay of [from, to) needs from the collectors,
// in replay order (by time, RIBs first): per collector the RIB dump due at or
// before from, then every updates file from that dump's time until to. It
// makes no request; a RIB whose exact name is missing upstream is looked up
// in the month's directory listing when fetched (see Fetch).
func Select(o Options, collectors []string, from, to time.Time) ([]Item, error) {
	if from.IsZero() || to.IsZero() {
		return nil, fmt.Errorf("select: %w", errNeedRange)
	}
	if !to.After(from) {
		return nil, fmt.Errorf("select: %w", errBadRange)
	}
	var out []Item
	seen := map[string]bool{}
	for _, c := range collectors {
		c = strings.TrimSpace(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		a, err := collectorArchiveOf(o, c)
		if err != nil {
			return nil, fmt.Errorf("select: %w", err)
		}
		rib := from.UTC().Truncate(a.RIBEvery())
		out = append(out, a.item(c, KindRIB, rib))
		for t := rib; t.Before(to); t = t.Add(a.UpdatesEvery()) {
			out = append(out, a.item(c, KindUpdates, t))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("select: %w", errNoCollectors)
	}
	sortItems(out)
	return out, nil
}

func sortItems(items []Item) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Collector < b.Collector
	})
}

// period is how often a collector writes RIBs (0 for non-MRT items).
func ribPeriod(o Options, it Item) time.Duration {
	if it.Kind != KindRIB {
		return 0
	}
	return archive.ProjectOf(it.Collector).RIBEvery()
}
