package synth

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// TruthEvent is one event a correct monitor reports. EndedAt is nil for an
// event still ongoing at the end of the archive.
type TruthEvent struct {
	Scope     bgpwatch.Scope  `json:"scope" yaml:"scope"`
	Country   string          `json:"country" yaml:"country"`
	ASN       bgpwatch.ASN    `json:"asn,omitempty" yaml:"asn,omitempty"`
	Access    bgpwatch.Access `json:"access" yaml:"access"`
	StartedAt time.Time       `json:"started_at" yaml:"started_at"`
	EndedAt   *time.Time      `json:"ended_at" yaml:"ended_at"`
	Note      string          `json:"note,omitempty" yaml:"note,omitempty"`
}

// Event converts to the domain type (ID and counts left zero).
func (e TruthEvent) Event() bgpwatch.Event {
	ev := bgpwatch.Event{Scope: e.Scope, Country: e.Country, ASN: e.ASN, Access: e.Access, StartedAt: e.StartedAt}
	if e.EndedAt != nil {
		ev.EndedAt = *e.EndedAt
	}
	return ev
}

// Truth is what truth.json holds: the scenario's known facts.
type Truth struct {
	Scenario    string    `json:"scenario"`
	Description string    `json:"description"`
	Seed        uint64    `json:"seed"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	BinSeconds  int       `json:"bin_seconds"`
	// Visibility rule used for Series: a prefix is visible when more than
	// half of the full-feed peer ASNs carrying its family hold it (sessions
	// of one ASN on several collectors count once, as a union).
	FullFeedASNsV4 int               `json:"full_feed_asns_v4"`
	FullFeedASNsV6 int               `json:"full_feed_asns_v6"`
	Collectors     []TruthCollector  `json:"collectors"`
	Networks       []TruthNetwork    `json:"networks"`
	Events         []TruthEvent      `json:"events"`
	Happenings     []Happening       `json:"happenings"`
	Series         TruthSeries       `json:"series"`
	Files          []FileInfo        `json:"files"`
	RIRFiles       []string          `json:"rir_files"` // relative to the output directory
	ASNInfo        string            `json:"asn_info"`
	Metadata       string            `json:"metadata,omitempty"`  // directory of network metadata files (--metadata-dir)
	ASNames        string            `json:"asn_names,omitempty"` // ASN names list (--asn-names)
	BZip2          string            `json:"bzip2,omitempty"`     // tool that compressed .bz2 files
	Totals         map[string]int    `json:"totals"`              // prefixes in the model: v4, v6, asns
	Extra          map[string]string `json:"extra,omitempty"`
}

// TruthCollector lists one collector's peers.
type TruthCollector struct {
	Name    string      `json:"name"`
	Project string      `json:"project"`
	Peers   []TruthPeer `json:"peers"`
}

// TruthPeer is one session and how the truth treats it.
type TruthPeer struct {
	ASN      bgpwatch.ASN `json:"asn"`
	Addr     string       `json:"addr"`
	FullFeed bool         `json:"full_feed"`
	Share    float64      `json:"share"`
	V4       bool         `json:"v4"`
	V6       bool         `json:"v6"`
	AS2      bool         `json:"as2,omitempty"`
	AddPath  bool         `json:"add_path,omitempty"`
}

// TruthNetwork is one named network with its size at Start.
type TruthNetwork struct {
	ASN        bgpwatch.ASN    `json:"asn"`
	Name       string          `json:"name"`
	Country    string          `json:"country"`
	Access     bgpwatch.Access `json:"access"`
	Prefixes   int             `json:"prefixes"`
	V6Prefixes int             `json:"v6_prefixes"`
	Slash24    int             `json:"slash24"`
}

// TruthSeries holds the expected visible counts at the end of every bin:
// index k is the bin starting at Start + k*Step.
type TruthSeries struct {
	Start     time.Time              `json:"start"`
	Step      int                    `json:"step"`
	Countries map[string]*SeriesData `json:"countries"`
	ASNs      map[string]*SeriesData `json:"asns"`
}

// SeriesData is one entity's counts per bin, parallel arrays.
type SeriesData struct {
	Prefixes   []int `json:"prefixes"`
	Slash24    []int `json:"slash24"`
	V6Prefixes []int `json:"v6_prefixes"`
}

func (d *SeriesData) points(start time.Time, step int) []bgpwatch.Point {
	if d == nil {
		return nil
	}
	out := make([]bgpwatch.Point, len(d.Slash24))
	for k := range out {
		out[k] = bgpwatch.Point{Time: start.Add(time.Duration(k*step) * time.Second),
			Counts: bgpwatch.Counts{Prefixes: d.Prefixes[k], Slash24: d.Slash24[k], V6Prefixes: d.V6Prefixes[k]}}
	}
	return out
}

// CountrySeries returns the expected series of a country (nil if not tracked).
func (t *Truth) CountrySeries(cc string) []bgpwatch.Point {
	return t.Series.Countries[cc].points(t.Series.Start, t.Series.Step)
}

// ASNSeries returns the expected series of a named network (nil if not tracked).
func (t *Truth) ASNSeries(asn bgpwatch.ASN) []bgpwatch.Point {
	return t.Series.ASNs[asn.String()].points(t.Series.Start, t.Series.Step)
}

// FileInfo describes one written file and what it holds, counted like
// `bgpdump -m` prints it.
type FileInfo struct {
	Path      string    `json:"path"` // relative to the output directory
	Collector string    `json:"collector"`
	Kind      string    `json:"kind"` // "rib" or "updates"
	Time      time.Time `json:"time"` // dump time or first second covered
	Records   int       `json:"records"`
	RIB       int       `json:"rib_entries"` // TABLE_DUMP2 B lines
	Announce  int       `json:"announce"`    // A lines
	Withdraw  int       `json:"withdraw"`    // W lines
	State     int       `json:"state"`       // STATE lines
	PeerDown  int       `json:"peer_down"`   // STATE lines leaving Established
	Damage    string    `json:"damage,omitempty"`
	Bytes     int64     `json:"bytes"`
}

// LoadTruth reads a truth.json file written by Generate.
func LoadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%w truth %s: %v", bgpwatch.ErrInvalid, path, err)
	}
	return &t, nil
}
