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
	"regexp"
	"sort"
	"strings"
	"time"
)

// Default archive locations: the real public archives.
const (
	DefaultRISURL        = "https://data.ris.ripe.net"
	DefaultRouteViewsURL = "https://archive.routeviews.org"
)

// Kind says what a file is.
type Kind uint8

// File kinds.
const (
	KindRIB Kind = iota + 1
	KindUpdates
	KindDelegation
)

func (k Kind) String() string {
	switch k {
	case KindRIB:
		return "rib"
	case KindUpdates:
		return "updates"
	case KindDelegation:
		return "delegation"
	}
	return "unknown"
}

// MarshalText makes Kind readable in JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Item is one file to fetch: where it lives upstream and where it goes in
// the cache.
type Item struct {
	Collector string    `json:"collector"` // rrc00, route-views2, ... or the registry for delegations
	Kind      Kind      `json:"kind"`
	Time      time.Time `json:"time"` // the time (or date) in the file's name
	URL       string    `json:"url"`
	Rel       string    `json:"path"` // slash-separated path relative to the cache directory
}

// archive describes one collector's layout.
type archive struct {
	ribEvery, updEvery time.Duration
	ris                bool
	base               string // URL up to and including the collector part
	local              string // cache directory of the collector
}

var risRE = regexp.MustCompile(`^rrc\d{2}$`)

// collectorArchive maps a collector name to its archive layout.
func collectorArchive(o Options, name string) (archive, error) {
	switch {
	case risRE.MatchString(name):
		return archive{ribEvery: 8 * time.Hour, updEvery: 5 * time.Minute, ris: true,
			base: strings.TrimRight(o.risURL(), "/") + "/" + name, local: name}, nil
	case name == "route-views2":
		// RouteViews publishes its oldest collector at the archive root.
		return archive{ribEvery: 2 * time.Hour, updEvery: 15 * time.Minute,
			base: strings.TrimRight(o.routeViewsURL(), "/"), local: name}, nil
	case strings.HasPrefix(name, "route-views") && !strings.ContainsAny(name, "/\\ ") && name != "route-views":
		return archive{ribEvery: 2 * time.Hour, updEvery: 15 * time.Minute,
			base: strings.TrimRight(o.routeViewsURL(), "/") + "/" + name, local: name}, nil
	}
	return archive{}, fmt.Errorf("unknown collector %q: want rrcNN (RIPE RIS) or route-views* (RouteViews)", name)
}

// item builds the Item of one file of a collector.
func (a archive) item(collector string, k Kind, t time.Time) Item {
	t = t.UTC()
	month := t.Format("2006.01")
	stamp := t.Format("20060102.1504")
	var dir, name string
	if a.ris {
		dir = month
		name = "bview." + stamp + ".gz"
		if k == KindUpdates {
			name = "updates." + stamp + ".gz"
		}
	} else {
		dir = "bgpdata/" + month + "/RIBS"
		name = "rib." + stamp + ".bz2"
		if k == KindUpdates {
			dir = "bgpdata/" + month + "/UPDATES"
			name = "updates." + stamp + ".bz2"
		}
	}
	return Item{Collector: collector, Kind: k, Time: t,
		URL: a.base + "/" + dir + "/" + name,
		Rel: path.Join(a.local, dir, name)}
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
		a, err := collectorArchive(o, c)
		if err != nil {
			return nil, fmt.Errorf("select: %w", err)
		}
		rib := from.UTC().Truncate(a.ribEvery)
		out = append(out, a.item(c, KindRIB, rib))
		for t := rib; t.Before(to); t = t.Add(a.updEvery) {
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
	a, err := collectorArchive(o, it.Collector)
	if err != nil {
		return 0
	}
	return a.ribEvery
}
