// Package synth generates synthetic but realistic BGP route-collector
// archives with known truth: RIPE RIS and RouteViews MRT files (RIB dumps
// and update files), RIR delegation files, an ASN info CSV and a truth file
// listing the events a correct monitor reports and the per-bin visibility
// it should compute. Tests, benchmarks and the demo use it because real
// archives are large and cannot be downloaded everywhere.
//
// The world is a model: networks (ASNs) own prefixes; collectors have peers
// with full or partial feeds; scripted happenings (origin withdrawals and
// restorations, peer session resets, de-aggregation, collector gaps,
// damaged files) and background churn change what each peer holds. The
// archive is written from that model and the truth is computed from the
// same model state, so they agree by construction (and tests check it).
package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// Duration is a time.Duration that reads and writes as "90s", "2m", "1h30m"
// in JSON and YAML scenario files.
type Duration time.Duration

// MarshalText renders the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a time.ParseDuration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w duration %q: %v", bgpwatch.ErrInvalid, b, err)
	}
	*d = Duration(v)
	return nil
}

// Scenario describes a world, its collectors and what happens in it.
type Scenario struct {
	Name        string    `json:"name" yaml:"name"`
	Description string    `json:"description" yaml:"description"`
	Start       time.Time `json:"start" yaml:"start"` // first bin, multiple of 5 minutes
	End         time.Time `json:"end" yaml:"end"`     // exclusive
	Seed        uint64    `json:"seed" yaml:"seed"`   // default seed; Options.Seed overrides

	// Networks are the named ASNs the scenario is about. Their per-bin
	// visibility (and their countries') is in the truth file.
	Networks []Network `json:"networks" yaml:"networks"`
	// World is the randomly generated rest of the Internet.
	World World `json:"world" yaml:"world"`

	Collectors []Collector  `json:"collectors" yaml:"collectors"`
	Churn      Churn        `json:"churn" yaml:"churn"`
	Happenings []Happening  `json:"happenings" yaml:"happenings"`
	Expect     []TruthEvent `json:"expect" yaml:"expect"` // events a correct monitor reports

	// FirstRIBOnly writes only the RIB dump at Start (benchmark scenarios
	// whose full-cadence RIBs would be gigabytes each).
	FirstRIBOnly bool `json:"first_rib_only,omitempty" yaml:"first_rib_only,omitempty"`
	// TrackAll puts every country's series in the truth (default: the
	// countries of Networks only).
	TrackAll bool `json:"track_all,omitempty" yaml:"track_all,omitempty"`
}

// Network is one named ASN with the size of its routing table.
type Network struct {
	ASN      bgpwatch.ASN    `json:"asn" yaml:"asn"`
	Name     string          `json:"name" yaml:"name"`
	Country  string          `json:"country" yaml:"country"`
	Access   bgpwatch.Access `json:"access" yaml:"access"`
	V4       int             `json:"v4" yaml:"v4"`             // IPv4 prefixes
	V6       int             `json:"v6" yaml:"v6"`             // IPv6 prefixes
	Upstream bgpwatch.ASN    `json:"upstream" yaml:"upstream"` // transit seen before the origin in AS paths; 0 for none
	// Aggregates forces this many IPv4 prefixes to be /16s (de-aggregation
	// candidates).
	Aggregates int `json:"aggregates" yaml:"aggregates"`
}

// World is the randomly generated rest of the Internet.
type World struct {
	ASNs      int      `json:"asns" yaml:"asns"`
	V4        int      `json:"v4" yaml:"v4"` // total IPv4 prefixes over all world ASNs
	V6        int      `json:"v6" yaml:"v6"`
	Countries []string `json:"countries" yaml:"countries"`
	// Access is the access type of every world ASN; default a realistic mix.
	Access bgpwatch.Access `json:"access,omitempty" yaml:"access,omitempty"`
}

// Collector is one route collector and its peers.
type Collector struct {
	Name    string `json:"name" yaml:"name"`       // "rrc00", "route-views2"
	Project string `json:"project" yaml:"project"` // "ris" or "routeviews"
	Peers   []Peer `json:"peers" yaml:"peers"`
}

// archive is the collector's project as package archive names it.
func (c *Collector) archive() archive.Project {
	if c.Project == "routeviews" {
		return archive.RouteViews
	}
	return archive.RIS
}

// Peer is one BGP session of a collector.
type Peer struct {
	ASN  bgpwatch.ASN `json:"asn" yaml:"asn"`
	Addr string       `json:"addr" yaml:"addr"` // session address; IPv6 sessions carry only IPv6 routes
	// Share is the share of all prefixes the peer sends: 1 for a full feed.
	// Peers below FullFeedShare are partial feeds.
	Share float64 `json:"share" yaml:"share"`
	// NoV6 stops an IPv4 session from carrying IPv6 routes (MP-BGP).
	NoV6 bool `json:"no_v6" yaml:"no_v6"`
	// AS2 makes this an old 2-byte speaker: BGP4MP_MESSAGE and
	// STATE_CHANGE records with 2-byte ASNs and AS4_PATH.
	AS2 bool `json:"as2" yaml:"as2"`
	// AddPath makes the session ADD-PATH: BGP4MP_MESSAGE_AS4_ADDPATH and
	// RIB_*_ADDPATH; some prefixes are sent with two path identifiers.
	AddPath bool `json:"add_path" yaml:"add_path"`
}

// FullFeedShare is the share at or above which a Peer is a full feed in
// the truth computation.
const FullFeedShare = 0.9

// Churn is background noise: single-peer flaps and path changes.
type Churn struct {
	FlapsPerPeerHour       float64 `json:"flaps_per_peer_hour" yaml:"flaps_per_peer_hour"`
	PathChangesPerPeerHour float64 `json:"path_changes_per_peer_hour" yaml:"path_changes_per_peer_hour"`
}

// HappeningKind names a scripted happening.
type HappeningKind string

// Happening kinds.
const (
	// Withdraw: the origin ASN withdraws Share of its prefixes (always the
	// same ones for a given share: the first of a fixed shuffled order).
	Withdraw HappeningKind = "withdraw"
	// Restore: the origin re-announces the first Share of its withdrawn
	// prefixes in the same order (Share 0 or 1: all).
	Restore HappeningKind = "restore"
	// PeerReset: the session Collector/Peer goes down at At, up after For,
	// then re-announces its table. Not an origin withdrawal.
	PeerReset HappeningKind = "peer-reset"
	// Deaggregate: the ASN replaces its /16 aggregates by their /24s;
	// address space unchanged. Reaggregate does the reverse.
	Deaggregate HappeningKind = "deaggregate"
	Reaggregate HappeningKind = "reaggregate"
	// Gap: Collector writes no update files for For from At.
	Gap HappeningKind = "gap"
	// Truncate: the update file of Collector covering At is cut short.
	Truncate HappeningKind = "truncate"
	// NotMRT: the update file of Collector covering At is a text file.
	NotMRT HappeningKind = "not-mrt"
)

// Happening is one scripted change of the world or the archive.
type Happening struct {
	At        time.Time      `json:"at" yaml:"at"`
	Kind      HappeningKind  `json:"kind" yaml:"kind"`
	ASNs      []bgpwatch.ASN `json:"asns,omitempty" yaml:"asns,omitempty"`
	Share     float64        `json:"share,omitempty" yaml:"share,omitempty"`
	Jitter    Duration       `json:"jitter,omitempty" yaml:"jitter,omitempty"` // max per-peer propagation delay
	Collector string         `json:"collector,omitempty" yaml:"collector,omitempty"`
	Peer      string         `json:"peer,omitempty" yaml:"peer,omitempty"` // peer address
	For       Duration       `json:"for,omitempty" yaml:"for,omitempty"`
	Note      string         `json:"note,omitempty" yaml:"note,omitempty"`
}

// LoadScenario reads a scenario from a JSON or YAML file (by extension;
// anything but .json is read as YAML, which also accepts JSON).
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	var sc Scenario
	if strings.EqualFold(filepath.Ext(path), ".json") {
		err = json.Unmarshal(b, &sc)
	} else {
		err = yaml.Unmarshal(b, &sc)
	}
	if err != nil {
		return Scenario{}, fmt.Errorf("%w scenario %s: %v", bgpwatch.ErrInvalid, path, err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return sc, sc.Validate()
}

// Validate checks the scenario for mistakes that would make the archive or
// the truth wrong.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w scenario %q: %s", bgpwatch.ErrInvalid, sc.Name, fmt.Sprintf(format, a...)))
	}
	if sc.Start.IsZero() || !sc.End.After(sc.Start) {
		bad("need start before end")
	}
	if sc.Start.Unix()%300 != 0 || sc.End.Unix()%300 != 0 {
		bad("start and end must be multiples of 5 minutes")
	}
	seen := map[bgpwatch.ASN]bool{}
	for _, n := range sc.Networks {
		if n.ASN == 0 || seen[n.ASN] {
			bad("network AS%d: zero or duplicate ASN", n.ASN)
		}
		seen[n.ASN] = true
		if _, err := bgpwatch.ParseCountry(n.Country); err != nil {
			bad("network AS%d: %v", n.ASN, err)
		}
		if _, err := bgpwatch.ParseAccess(string(n.Access)); err != nil {
			bad("network AS%d: %v", n.ASN, err)
		}
		if n.V4 < n.Aggregates {
			bad("network AS%d: aggregates > v4", n.ASN)
		}
	}
	for _, c := range sc.World.Countries {
		if _, err := bgpwatch.ParseCountry(c); err != nil {
			bad("world: %v", err)
		}
	}
	if sc.World.ASNs > 0 && len(sc.World.Countries) == 0 {
		bad("world: need countries")
	}
	if len(sc.Collectors) == 0 {
		bad("need at least one collector")
	}
	full := 0
	cols := map[string]*Collector{}
	for i := range sc.Collectors {
		c := &sc.Collectors[i]
		cols[c.Name] = c
		if c.Project != "ris" && c.Project != "routeviews" {
			bad("collector %s: project must be ris or routeviews", c.Name)
		}
		for _, p := range c.Peers {
			a, err := netip.ParseAddr(p.Addr)
			if err != nil {
				bad("collector %s peer %s: %v", c.Name, p.Addr, err)
			}
			if p.AS2 && p.ASN > 0xffff {
				bad("collector %s peer %s: a 2-byte speaker needs a 2-byte ASN", c.Name, p.Addr)
			}
			if p.Share >= FullFeedShare && a.Is4() {
				full++
			}
		}
	}
	if full == 0 {
		bad("need at least one full-feed IPv4 peer")
	}
	for _, h := range sc.Happenings {
		if h.At.Before(sc.Start) || !h.At.Before(sc.End) {
			bad("%s at %s: outside the scenario", h.Kind, h.At.Format(time.RFC3339))
		}
		switch h.Kind {
		case Withdraw, Restore, Deaggregate, Reaggregate:
			if len(h.ASNs) == 0 {
				bad("%s at %s: needs asns", h.Kind, h.At.Format(time.RFC3339))
			}
			for _, a := range h.ASNs {
				if !seen[a] {
					bad("%s at %s: AS%d is not a network", h.Kind, h.At.Format(time.RFC3339), a)
				}
			}
			if time.Duration(h.Jitter) > 4*time.Minute {
				bad("%s at %s: jitter above 4m", h.Kind, h.At.Format(time.RFC3339))
			}
		case PeerReset, Gap, Truncate, NotMRT:
			c := cols[h.Collector]
			if c == nil {
				bad("%s at %s: unknown collector %q", h.Kind, h.At.Format(time.RFC3339), h.Collector)
				continue
			}
			if h.Kind == PeerReset {
				ok := false
				for _, p := range c.Peers {
					ok = ok || p.Addr == h.Peer
				}
				if !ok {
					bad("peer-reset at %s: unknown peer %q", h.At.Format(time.RFC3339), h.Peer)
				}
			}
		default:
			bad("unknown happening kind %q", h.Kind)
		}
	}
	return errors.Join(errs...)
}
