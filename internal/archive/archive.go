// Package archive is the one place that knows how the public
// route-collector archives lay out their files:
//
//	RIPE RIS    rrcNN/YYYY.MM/bview.YYYYMMDD.HHMM.gz          RIB, every 8 h
//	            rrcNN/YYYY.MM/updates.YYYYMMDD.HHMM.gz        updates, every 5 min
//	RouteViews  NAME/bgpdata/YYYY.MM/RIBS/rib.YYYYMMDD.HHMM.bz2          every 2 h
//	            NAME/bgpdata/YYYY.MM/UPDATES/updates.YYYYMMDD.HHMM.bz2   every 15 min
//
// fetch builds download paths with it, synth writes archives with it and
// ingest recognises the collector, kind and time of a file with it.
package archive

import (
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Project is the archive a collector publishes into.
type Project uint8

// Projects.
const (
	Unknown    Project = iota
	RIS                // RIPE RIS: collectors rrc00, rrc01, …
	RouteViews         // RouteViews: route-views2, route-views.sydney, …
)

var risRE = regexp.MustCompile(`^rrc\d{2}$`)

// ProjectOf tells a collector's project from its name: rrcNN is RIPE RIS,
// route-views2, route-views3, route-views.NAME, … are RouteViews (the bare
// "route-views" is not a collector); anything else is Unknown.
func ProjectOf(collector string) Project {
	switch {
	case risRE.MatchString(collector):
		return RIS
	case strings.HasPrefix(collector, "route-views") && collector != "route-views" &&
		!strings.ContainsAny(collector, "/\\ "):
		return RouteViews
	}
	return Unknown
}

func (p Project) String() string {
	switch p {
	case RIS:
		return "ris"
	case RouteViews:
		return "routeviews"
	}
	return "unknown"
}

// RIBEvery is how often the project's collectors dump their RIB (0 for
// Unknown).
func (p Project) RIBEvery() time.Duration {
	switch p {
	case RIS:
		return 8 * time.Hour
	case RouteViews:
		return 2 * time.Hour
	}
	return 0
}

// UpdatesEvery is the span of one updates file (0 for Unknown).
func (p Project) UpdatesEvery() time.Duration {
	switch p {
	case RIS:
		return 5 * time.Minute
	case RouteViews:
		return 15 * time.Minute
	}
	return 0
}

// Compression is the project's file compression: "gzip" (RIS) or "bzip2"
// (RouteViews); "" for Unknown.
func (p Project) Compression() string {
	switch p {
	case RIS:
		return "gzip"
	case RouteViews:
		return "bzip2"
	}
	return ""
}

// Kind is what an archive file holds.
type Kind uint8

// Kinds.
const (
	KindUnknown    Kind = iota // no recognised name
	KindRIB                    // bview.* / rib.* table dump
	KindUpdates                // updates.* message stream
	KindDelegation             // a RIR delegation file, fetched beside the MRT archives
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

// stampLayout is the time in file names (UTC).
const stampLayout = "20060102.1504"

// Path is where the project puts the file of kind k (KindRIB or
// KindUpdates) starting at t, slash-separated, relative to the
// collector's directory; "" for Unknown or KindUnknown.
func (p Project) Path(k Kind, t time.Time) string {
	t = t.UTC()
	month, stamp := t.Format("2006.01"), t.Format(stampLayout)
	switch {
	case p == RIS && k == KindRIB:
		return month + "/bview." + stamp + ".gz"
	case p == RIS && k == KindUpdates:
		return month + "/updates." + stamp + ".gz"
	case p == RouteViews && k == KindRIB:
		return "bgpdata/" + month + "/RIBS/rib." + stamp + ".bz2"
	case p == RouteViews && k == KindUpdates:
		return "bgpdata/" + month + "/UPDATES/updates." + stamp + ".bz2"
	}
	return ""
}

// nameRE finds "bview.YYYYMMDD.HHMM", "rib.…", "rib6.…" or "updates.…" in a
// base name, optionally preceded by a collector ("rrc21.updates.…").
var nameRE = regexp.MustCompile(`^(?:(.+?)\.)?(bview|rib6?|updates)\.(\d{8})\.(\d{4})`)

// File is what a file's path tells under the archive layouts.
type File struct {
	Collector string    // "" when the path does not tell
	Kind      Kind      // from the name
	Time      time.Time // from the name (UTC); zero when the name has none
}

// ParseName reads kind and time from a base name as the archives write
// them ("bview.20220105.0800.gz", "rib.20220105.0800.bz2",
// "updates.20220105.0805.gz"), also with a collector in front
// ("rrc21.updates.…", which then goes to Collector) or without the
// compression suffix. Kind is KindUnknown when the name is not one.
func ParseName(base string) File {
	var f File
	m := nameRE.FindStringSubmatch(base)
	if m == nil {
		return f
	}
	if t, err := time.Parse(stampLayout, m[3]+"."+m[4]); err == nil {
		f.Time = t.UTC()
	}
	if m[2] == "updates" {
		f.Kind = KindUpdates
	} else {
		f.Kind = KindRIB
	}
	f.Collector = m[1]
	return f
}

var monthDirRE = regexp.MustCompile(`^\d{4}\.\d{2}$`)

// Classify reads collector, kind and time from a file's path: the collector from the layout's directories
// (NAME/bgpdata/… for RouteViews, rrcNN/YYYY.MM/… for RIS), else from a
// collector in front of the name, else from the nearest directory named
// like a collector.
func Classify(p string) File {
	p = filepath.ToSlash(filepath.Clean(p))
	parts := strings.Split(p, "/")
	f := ParseName(parts[len(parts)-1])
	dirs := parts[:len(parts)-1]
	for i := len(dirs) - 1; i >= 1; i-- {
		if dirs[i] == "bgpdata" && dirs[i-1] != "" {
			f.Collector = dirs[i-1]
			return f
		}
	}
	if n := len(dirs); n >= 2 && monthDirRE.MatchString(dirs[n-1]) && ProjectOf(dirs[n-2]) == RIS {
		f.Collector = dirs[n-2]
		return f
	}
	if f.Collector != "" {
		return f
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if ProjectOf(dirs[i]) != Unknown {
			f.Collector = dirs[i]
			return f
		}
	}
	return f
}
