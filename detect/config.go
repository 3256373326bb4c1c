package detect

import (
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Thresholds are the start/end rules for one scope (country or ASN).
type Thresholds struct {
	// Drop starts an event: visible /24s at or below Baseline×(1-Drop).
	Drop float64
	// Recover ends an event: visible /24s at or above Baseline×(1-Recover),
	// sustained for Config.RecoverFor. Recover < Drop gives hysteresis.
	Recover float64
	// MinSlash24 is the smallest baseline (in /24s) for which events are
	// raised; smaller entities are noise-dominated.
	MinSlash24 int
}

// Config holds the detector's tunables. Start from DefaultConfig.
type Config struct {
	// Step is the bin width; bins further apart than Step are a gap.
	Step time.Duration
	// Window is the baseline window: the median of the last Window of
	// accepted, non-event bins.
	Window time.Duration
	// MinHistory is the warm-up: an entity needs this much accepted history
	// before it can start an event.
	MinHistory time.Duration
	// MinDuration: the value must stay below the drop level for this long
	// (counted in accepted bins) before an event starts. StartedAt is then
	// set back to the first bin below the level.
	MinDuration time.Duration
	// RecoverFor: the value must stay at or above the recovery level for
	// this long before an event ends. EndedAt is set back to the first bin
	// of that recovery. A restoration shorter than this does not split the
	// event; one at least this long does.
	RecoverFor time.Duration
	// Country and ASN are the per-scope thresholds.
	Country Thresholds
	ASN     Thresholds
	// ContribDrop: an ASN of the country counts as contributing to a country
	// event when its minimum during the event is at or below its own
	// baseline×(1-ContribDrop).
	ContribDrop float64
	// ContribMinSlash24 is the smallest ASN baseline listed as contributor.
	// ASNs are tracked (history kept) from min(ContribMinSlash24,
	// ASN.MinSlash24) visible /24s up.
	ContribMinSlash24 int
	// MinorShare: in the access classification, a kind (fixed or mobile)
	// whose share of the lost /24s is below MinorShare is ignored.
	MinorShare float64
	// Lookback: prefixes withdrawn up to this long before an event's start
	// are included as evidence (unless visible again before the start).
	Lookback time.Duration
	// MaxWithdrawn caps the evidence list per event (earliest kept).
	MaxWithdrawn int
	// FeedCollapse: a bin whose FullFeed is below FeedCollapse × the median
	// FullFeed of the previous FeedWindow bins is skipped (collector outage).
	FeedCollapse float64
	// FeedWindow is the number of previous bins in the FullFeed median.
	FeedWindow int
	// RecomputeEvery: cached medians are refreshed once per this many bins
	// (on the clock: at the first accepted bin of each such period), and on
	// demand when a value falls below the drop level of an upper bound of
	// the current median (the cached one, raised by the values stored
	// since), so a drop from a median that rose since is not missed.
	RecomputeEvery int
	// ResumeTolerance: after Resume, a bin whose countries together have
	// more than this share fewer /24s than the resumed history's median is
	// not trusted (an incomplete view after a restart; see Resume).
	ResumeTolerance float64
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
