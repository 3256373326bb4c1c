package detect

import (
	"fmt"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/setting"
)

// Thresholds are the start/end rules for one scope (country or ASN).
type Thresholds struct {
	// Drop starts an event: visible /24s at or below Baseline×(1-Drop).
	Drop float64 `yaml:"drop"`
	// Recover ends an event: visible /24s at or above Baseline×(1-Recover),
	// sustained for Config.RecoverFor. Recover < Drop gives hysteresis.
	Recover float64 `yaml:"recover"`
	// MinSlash24 is the smallest baseline (in /24s) for which events are
	// raised; smaller entities are noise-dominated.
	MinSlash24 int `yaml:"min_slash24"`
}

// Config holds the detector's tunables. Start from DefaultConfig. It is
// the "detection:" section of the configuration file (YAML keys in the
// field tags); Keys lists the user settings with their flags and bounds,
// and Validate checks them. Step, RecomputeEvery and ResumeTolerance are
// not user settings.
type Config struct {
	// Step is the bin width; bins further apart than Step are a gap. It is
	// the series' 5-minute grid (bgpwatch.BinStep), not a user setting.
	Step time.Duration `yaml:"-"`
	// Window is the baseline window: the median of the last Window of
	// accepted, non-event bins.
	Window time.Duration `yaml:"baseline"`
	// MinHistory is the warm-up: an entity needs this much accepted history
	// before it can start an event.
	MinHistory time.Duration `yaml:"min_history"`
	// MinDuration: the value must stay below the drop level for this long
	// (counted in accepted bins) before an event starts. StartedAt is then
	// set back to the first bin below the level.
	MinDuration time.Duration `yaml:"min_duration"`
	// RecoverFor: the value must stay at or above the recovery level for
	// this long before an event ends. EndedAt is set back to the first bin
	// of that recovery. A restoration shorter than this does not split the
	// event; one at least this long does.
	RecoverFor time.Duration `yaml:"recover_for"`
	// Country and ASN are the per-scope thresholds.
	Country Thresholds `yaml:"country"`
	ASN     Thresholds `yaml:"asn"`
	// ContribDrop: an ASN of the country counts as contributing to a country
	// event when its minimum during the event is at or below its own
	// baseline×(1-ContribDrop).
	ContribDrop float64 `yaml:"contrib_drop"`
	// ContribMinSlash24 is the smallest ASN baseline listed as contributor.
	// ASNs are tracked (history kept) from min(ContribMinSlash24,
	// ASN.MinSlash24) visible /24s up.
	ContribMinSlash24 int `yaml:"contrib_min_slash24"`
	// MinorShare: in the access classification, a kind (fixed or mobile)
	// whose share of the lost /24s is below MinorShare is ignored.
	MinorShare float64 `yaml:"minor_share"`
	// Lookback: prefixes withdrawn up to this long before an event's start
	// are included as evidence (unless visible again before the start).
	Lookback time.Duration `yaml:"lookback"`
	// MaxWithdrawn caps the evidence list per event (earliest kept).
	MaxWithdrawn int `yaml:"max_withdrawn"`
	// FeedCollapse: a bin whose FullFeed is below FeedCollapse × the median
	// FullFeed of the previous FeedWindow bins is skipped (collector outage).
	FeedCollapse float64 `yaml:"feed_collapse"`
	// FeedWindow is the number of previous bins in the FullFeed median.
	FeedWindow int `yaml:"feed_window"`
	// RecomputeEvery: cached medians are refreshed once per this many bins
	// (on the clock: at the first accepted bin of each such period), and on
	// demand when a value falls below the drop level of an upper bound of
	// the current median (the cached one, raised by the values stored
	// since), so a drop from a median that rose since is not missed.
	RecomputeEvery int `yaml:"-"`
	// ResumeTolerance: after Resume, a bin whose countries together have
	// more than this share fewer /24s than the resumed history's median is
	// not trusted (an incomplete view after a restart; see Resume).
	ResumeTolerance float64 `yaml:"-"`
}

// DefaultConfig returns the defaults documented in the package comment.
func DefaultConfig() Config {
	return Config{
		Step:              bgpwatch.BinStep,
		Window:            24 * time.Hour,
		MinHistory:        2 * time.Hour,
		MinDuration:       15 * time.Minute,
		RecoverFor:        30 * time.Minute,
		Country:           Thresholds{Drop: 0.30, Recover: 0.15, MinSlash24: 16},
		ASN:               Thresholds{Drop: 0.50, Recover: 0.25, MinSlash24: 16},
		ContribDrop:       0.25,
		ContribMinSlash24: 4,
		MinorShare:        0.10,
		Lookback:          2 * time.Hour,
		MaxWithdrawn:      10000,
		FeedCollapse:      0.5,
		FeedWindow:        24,
		RecomputeEvery:    12,
		ResumeTolerance:   0.10,
	}
}

// bins converts a duration to a bin count, at least 1.
func (c *Config) bins(d time.Duration) int {
	n := int(d / c.Step)
	if n < 1 {
		n = 1
	}
	return n
}

// sanitize fills zero or invalid fields from the defaults, so that a
// partially filled Config never panics or divides by zero.
func (c Config) sanitize() Config {
	def := DefaultConfig()
	if c.Step <= 0 {
		c.Step = def.Step
	}
	if c.Window <= 0 {
		c.Window = def.Window
	}
	if c.MinHistory <= 0 {
		c.MinHistory = def.MinHistory
	}
	if c.MinHistory > c.Window {
		c.MinHistory = c.Window
	}
	if c.MinDuration <= 0 {
		c.MinDuration = def.MinDuration
	}
	if c.RecoverFor <= 0 {
		c.RecoverFor = def.RecoverFor
	}
	fix := func(t, d Thresholds) Thresholds {
		if t.Drop <= 0 || t.Drop >= 1 {
			t.Drop = d.Drop
		}
		if t.Recover <= 0 || t.Recover > t.Drop {
			t.Recover = t.Drop
		}
		if t.MinSlash24 < 1 {
			t.MinSlash24 = d.MinSlash24
		}
		return t
	}
	c.Country = fix(c.Country, def.Country)
	c.ASN = fix(c.ASN, def.ASN)
	if c.ContribDrop <= 0 || c.ContribDrop >= 1 {
		c.ContribDrop = def.ContribDrop
	}
	if c.ContribMinSlash24 < 1 {
		c.ContribMinSlash24 = def.ContribMinSlash24
	}
	if c.MinorShare < 0 || c.MinorShare >= 0.5 {
		c.MinorShare = def.MinorShare
	}
	if c.Lookback < 0 {
		c.Lookback = def.Lookback
	}
	if c.MaxWithdrawn <= 0 {
		c.MaxWithdrawn = def.MaxWithdrawn
	}
	if c.FeedCollapse < 0 || c.FeedCollapse >= 1 {
		c.FeedCollapse = def.FeedCollapse
	}
	if c.FeedWindow < 1 {
		c.FeedWindow = def.FeedWindow
	}
	if c.RecomputeEvery < 1 {
		c.RecomputeEvery = def.RecomputeEvery
	}
	if c.ResumeTolerance <= 0 || c.ResumeTolerance >= 1 {
		c.ResumeTolerance = def.ResumeTolerance
	}
	return c
}

// Section is the name of the configuration file section of Config.
const Section = "detection"

// Keys lists the user settings of Config: YAML key (under "detection:"),
// flag, help and bounds. Every command that detects (replay, serve, detect,
// worker) takes them all, from the file and as flags.
func Keys() []setting.Key[Config] {
	type K = setting.Key[Config]
	share := func(name, flag, usage string, f func(*Config) *float64) K {
		return K{Name: name, Flag: flag, Usage: usage, Field: func(c *Config) any { return f(c) }, Min: 0, Max: 1, MinOpen: true, MaxOpen: true}
	}
	count := func(name, flag, usage string, min float64, f func(*Config) *int) K {
		return K{Name: name, Flag: flag, Usage: usage, Field: func(c *Config) any { return f(c) }, Min: min, NoMax: true}
	}
	dur := func(name, flag, usage string, f func(*Config) *time.Duration) K {
		return K{Name: name, Flag: flag, Usage: usage, Field: func(c *Config) any { return f(c) }, Min: 0, MinOpen: true, NoMax: true}
	}
	keys := []K{
		dur("baseline", "baseline", "baseline window: the median of this much history", func(c *Config) *time.Duration { return &c.Window }),
		dur("min_history", "min-history", "history needed before an entity can start an event (at most the baseline)", func(c *Config) *time.Duration { return &c.MinHistory }),
		dur("min_duration", "min-duration", "a drop must last this long to start an event", func(c *Config) *time.Duration { return &c.MinDuration }),
		dur("recover_for", "recover-for", "a recovery must last this long to end an event", func(c *Config) *time.Duration { return &c.RecoverFor }),
		share("country.drop", "country-drop", "a country event starts when visible /24s fall this `share` below the baseline", func(c *Config) *float64 { return &c.Country.Drop }),
		share("country.recover", "country-recover", "a country event ends when visible /24s are back within this `share` of the baseline (at most country.drop)", func(c *Config) *float64 { return &c.Country.Recover }),
		count("country.min_slash24", "country-min-slash24", "smallest country baseline (`/24s`) that can raise events", 1, func(c *Config) *int { return &c.Country.MinSlash24 }),
		share("asn.drop", "asn-drop", "an ASN event starts when visible /24s fall this `share` below the baseline", func(c *Config) *float64 { return &c.ASN.Drop }),
		share("asn.recover", "asn-recover", "an ASN event ends when visible /24s are back within this `share` of the baseline (at most asn.drop)", func(c *Config) *float64 { return &c.ASN.Recover }),
		count("asn.min_slash24", "asn-min-slash24", "smallest ASN baseline (`/24s`) that can raise events", 1, func(c *Config) *int { return &c.ASN.MinSlash24 }),
		share("contrib_drop", "contrib-drop", "an ASN contributes to a country event when its minimum is this `share` below its own baseline", func(c *Config) *float64 { return &c.ContribDrop }),
		count("contrib_min_slash24", "contrib-min-slash24", "smallest ASN baseline (`/24s`) listed as a contributor", 1, func(c *Config) *int { return &c.ContribMinSlash24 }),
		{Name: "minor_share", Flag: "minor-share", Usage: "in the access classification, a kind with less than this `share` of the lost /24s is ignored",
			Field: func(c *Config) any { return &c.MinorShare }, Min: 0, Max: 0.5, MaxOpen: true},
		{Name: "lookback", Flag: "lookback", Usage: "prefixes withdrawn up to this long before an event's start are evidence",
			Field: func(c *Config) any { return &c.Lookback }, Min: 0, NoMax: true},
		count("max_withdrawn", "max-withdrawn", "at most this many withdrawn prefixes are kept as an event's evidence", 1, func(c *Config) *int { return &c.MaxWithdrawn }),
		{Name: "feed_collapse", Flag: "feed-collapse", Usage: "a bin whose full-feed peers fall below this `share` of the recent median is skipped (collector outage); 0 disables",
			Field: func(c *Config) any { return &c.FeedCollapse }, Min: 0, Max: 1, MaxOpen: true},
		count("feed_window", "feed-window", "`bins` in the full-feed median of the collector-outage check", 1, func(c *Config) *int { return &c.FeedWindow }),
	}
	return keys
}

// Validate checks every user setting against its bounds and the rules
// between them; the error wraps bgpwatch.ErrInvalid and names the key
// ("detection.country.drop") and its flag.
func (c *Config) Validate() error {
	keys := Keys()
	if err := setting.Validate(Section, keys, c); err != nil {
		return err
	}
	if c.MinHistory > c.Window {
		return fmt.Errorf("%w: %s.min_history (--min-history) %s: want at most the baseline (%s)", bgpwatch.ErrInvalid, Section, c.MinHistory, c.Window)
	}
	if c.Country.Recover > c.Country.Drop {
		return fmt.Errorf("%w: %s.country.recover (--country-recover) %g: want at most country.drop (%g)", bgpwatch.ErrInvalid, Section, c.Country.Recover, c.Country.Drop)
	}
	if c.ASN.Recover > c.ASN.Drop {
		return fmt.Errorf("%w: %s.asn.recover (--asn-recover) %g: want at most asn.drop (%g)", bgpwatch.ErrInvalid, Section, c.ASN.Recover, c.ASN.Drop)
	}
	return nil
}
