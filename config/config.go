// Package config reads the YAML configuration file of `bgpwatch serve`:
// HTTP listener and database, live BGP sessions (embedded gobgp), the RIS
// Live feed, and the visibility and detection thresholds. Command-line
// flags override the file; docs/bgpwatch.example.yaml documents every key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/bgp/rislive"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// File is the configuration file. Zero values mean "not set": flags and
// built-in defaults apply.
type File struct {
	Listen        string `yaml:"listen"`
	DB            string `yaml:"db"`
	DataDir       string `yaml:"data_dir"`
	AdminTokenEnv string `yaml:"admin_token_env"`

	// BinStep is the width of series bins (default 5m).
	BinStep time.Duration `yaml:"bin_step"`
	// Tick is how often live ingest closes bins and saves events (1s).
	Tick time.Duration `yaml:"tick"`
	// QueueSize bounds the observations waiting for the pipeline (65536).
	QueueSize int `yaml:"queue_size"`
	// Lateness is how far out of time order a feed with the data's own
	// timestamps (RIS Live) may deliver; a bin closes once every such feed
	// is Lateness past its end (10s).
	Lateness time.Duration `yaml:"lateness"`
	// SilentAfter: a live feed that delivers nothing for this long stops
	// holding bins back (2m).
	SilentAfter time.Duration `yaml:"silent_after"`

	// Delegations, ASNInfo and ASNNames are as replay's --delegations,
	// --asn-info and --asn-names: they give each ASN its country.
	Delegations []string `yaml:"delegations"`
	ASNInfo     string   `yaml:"asn_info"`
	ASNNames    string   `yaml:"asn_names"`

	BGP        *BGP       `yaml:"bgp"`
	RISLive    RISLive    `yaml:"ris_live"`
	Visibility Visibility `yaml:"visibility"`
	Detection  Detection  `yaml:"detection"`
}

// BGP configures bgpwatch's own BGP sessions.
type BGP struct {
	ASN           uint32        `yaml:"asn"`
	RouterID      string        `yaml:"router_id"`
	ListenAddress string        `yaml:"listen_address"` // "" = all addresses
	ListenPort    int32         `yaml:"listen_port"`    // 0 = 179; -1 = do not listen
	ConnectRetry  time.Duration `yaml:"connect_retry"`
	// ResetBackoffMax caps the doubling wait of a neighbor reset again and
	// again for unparsable MP_REACH/MP_UNREACH (0 = 15 min).
	ResetBackoffMax time.Duration `yaml:"reset_backoff_max"`
	Neighbors       []Neighbor    `yaml:"neighbors"`
}

// Neighbor is one BGP session.
type Neighbor struct {
	Address string `yaml:"address"`
	ASN     uint32 `yaml:"asn"`
	Passive bool   `yaml:"passive"`
	Port    uint16 `yaml:"port"`
	// Password is the TCP MD5 key; PasswordEnv names an environment
	// variable holding it instead (keeps secrets out of the file).
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	AddPath     bool   `yaml:"add_path"`
}

// RISLive configures the RIS Live feed.
type RISLive struct {
	Enabled     bool                   `yaml:"enabled"`
	URL         string                 `yaml:"url"`
	ReadTimeout time.Duration          `yaml:"read_timeout"`
	Filters     []rislive.Subscription `yaml:"filters"`
	// Collectors are the RIS collectors bootstrapped from the RIS archive
	// (latest bview, then updates files) before their stream is applied:
	// names such as rrc00, or "ris" for every collector the stream names.
	// Empty: the stream alone, with tables that start empty.
	Collectors []string `yaml:"collectors"`
	// ArchiveURL is the RIS archive's root (https://data.ris.ripe.net).
	ArchiveURL string `yaml:"archive_url"`
	// CacheDir is where archive files are downloaded (as fetch's
	// --cache-dir).
	CacheDir string `yaml:"cache_dir"`
	// ArchivePoll is how often the archive's index is read again while
	// waiting for a file to be published, and for a new bview (1m).
	ArchivePoll time.Duration `yaml:"archive_poll"`
	// FirstWait is how long a collector waits for its first stream
	// message before bootstrapping up to the wall clock (30s).
	FirstWait time.Duration `yaml:"first_wait"`
	// ArchiveMaxWait is how long the stream is held while the archive
	// lags behind it, at the hand-off or to fill a gap (30m).
	ArchiveMaxWait time.Duration `yaml:"archive_max_wait"`
}

// AllCollectors is the Collectors entry meaning every RIS collector.
const AllCollectors = "ris"

// FollowsAll reports whether every collector of the stream is followed.
func (r *RISLive) FollowsAll() bool {
	return slices.Contains(r.Collectors, AllCollectors)
}

// Visibility holds the visibility thresholds (see package visibility).
type Visibility struct {
	FullFeedShare float64 `yaml:"full_feed_share"`
	FullFeedMin   int     `yaml:"full_feed_min"`
	FullFeedMinV6 int     `yaml:"full_feed_min_v6"`
	VisibleShare  float64 `yaml:"visible_share"`
}

// Thresholds are one scope's start/end rules (see package detect).
type Thresholds struct {
	Drop       float64 `yaml:"drop"`
	Recover    float64 `yaml:"recover"`
	MinSlash24 int     `yaml:"min_slash24"`
}

// Detection holds the detector's tunables (see package detect).
type Detection struct {
	Baseline    time.Duration `yaml:"baseline"`
	MinHistory  time.Duration `yaml:"min_history"`
	MinDuration time.Duration `yaml:"min_duration"`
	RecoverFor  time.Duration `yaml:"recover_for"`
	Country     Thresholds    `yaml:"country"`
	ASN         Thresholds    `yaml:"asn"`
	// Evidence and classification (see detect.Config); 0 keeps the default.
	ContribDrop       float64       `yaml:"contrib_drop"`
	ContribMinSlash24 int           `yaml:"contrib_min_slash24"`
	MinorShare        float64       `yaml:"minor_share"`
	Lookback          time.Duration `yaml:"lookback"`
	MaxWithdrawn      int           `yaml:"max_withdrawn"`
	FeedCollapse      float64       `yaml:"feed_collapse"`
	FeedWindow        int           `yaml:"feed_window"`
}

// Load reads and validates a configuration file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := Parse(bytes.NewReader(b), os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates a configuration; unknown keys are errors.
// getenv resolves password_env.
func Parse(r io.Reader, getenv func(string) string) (*File, error) {
	var f File
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", bgpwatch.ErrInvalid, err)
	}
	if err := f.Validate(getenv); err != nil {
		return nil, err
	}
	return &f, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{bgpwatch.ErrInvalid}, a...)...)
}

// Validate checks the configuration (after flags changed it) and resolves
// password_env through getenv.
func (f *File) Validate(getenv func(string) string) error {
	if f.BinStep < 0 || (f.BinStep > 0 && f.BinStep < time.Second) {
		return invalid("bin_step %v: want at least 1s", f.BinStep)
	}
	if f.Tick < 0 || f.QueueSize < 0 || f.Lateness < 0 || f.SilentAfter < 0 {
		return invalid("tick, queue_size, lateness and silent_after must not be negative")
	}
	if b := f.BGP; b != nil {
		if b.ASN == 0 {
			return invalid("bgp.asn is required")
		}
		if a, err := netip.ParseAddr(b.RouterID); err != nil || !a.Is4() {
			return invalid("bgp.router_id %q: want an IPv4 address", b.RouterID)
		}
		if b.ListenAddress != "" {
			if _, err := netip.ParseAddr(b.ListenAddress); err != nil {
				return invalid("bgp.listen_address %q: %v", b.ListenAddress, err)
			}
		}
		if b.ListenPort < -1 || b.ListenPort > 65535 {
			return invalid("bgp.listen_port %d", b.ListenPort)
		}
		if b.ConnectRetry < 0 || b.ResetBackoffMax < 0 {
			return invalid("bgp.connect_retry and bgp.reset_backoff_max must not be negative")
		}
		seen := map[netip.Addr]bool{}
		for i := range b.Neighbors {
			n := &b.Neighbors[i]
			a, err := netip.ParseAddr(n.Address)
			if err != nil {
				return invalid("bgp.neighbors[%d].address %q: %v", i, n.Address, err)
			}
			if seen[a] {
				return invalid("bgp.neighbors[%d]: %s configured twice", i, a)
			}
			seen[a] = true
			if n.ASN == 0 {
				return invalid("bgp.neighbors[%d] (%s): asn is required", i, a)
			}
			if n.PasswordEnv != "" {
				pw := strings.TrimSpace(getenv(n.PasswordEnv))
				if n.Password != "" && n.Password != pw {
					return invalid("bgp.neighbors[%d] (%s): password and password_env are exclusive", i, a)
				}
				n.Password = pw
				if n.Password == "" {
					return invalid("bgp.neighbors[%d] (%s): environment variable %s is empty", i, a, n.PasswordEnv)
				}
			}
		}
	}
	if f.RISLive.URL != "" && !strings.HasPrefix(f.RISLive.URL, "ws://") && !strings.HasPrefix(f.RISLive.URL, "wss://") {
		return invalid("ris_live.url %q: want ws:// or wss://", f.RISLive.URL)
	}
	for i, c := range f.RISLive.Collectors {
		c = strings.ToLower(strings.TrimSpace(c))
		f.RISLive.Collectors[i] = c
		if c != AllCollectors && !risCollectorRE.MatchString(c) {
			return invalid("ris_live.collectors[%d] %q: want a RIS collector such as rrc00, or ris for all", i, c)
		}
	}
	if len(f.RISLive.Collectors) > 0 {
		f.RISLive.Enabled = true
	}
	if u := f.RISLive.ArchiveURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return invalid("ris_live.archive_url %q: want http:// or https://", u)
	}
	if f.RISLive.ArchivePoll < 0 || f.RISLive.FirstWait < 0 || f.RISLive.ArchiveMaxWait < 0 {
		return invalid("ris_live.archive_poll, first_wait and archive_max_wait must not be negative")
	}
	d := &f.Detection
	for _, v := range []float64{f.Visibility.FullFeedShare, f.Visibility.VisibleShare, d.Country.Drop,
		d.Country.Recover, d.ASN.Drop, d.ASN.Recover, d.ContribDrop, d.FeedCollapse} {
		if v < 0 || v >= 1 {
			return invalid("shares and drop ratios must be in [0, 1), got %v", v)
		}
	}
	if d.MinorShare < 0 || d.MinorShare >= 0.5 {
		return invalid("detection.minor_share must be in [0, 0.5), got %v", d.MinorShare)
	}
	if d.ContribMinSlash24 < 0 || d.MaxWithdrawn < 0 || d.FeedWindow < 0 || d.Lookback < 0 {
		return invalid("detection: contrib_min_slash24, max_withdrawn, feed_window and lookback must not be negative")
	}
	return nil
}

var risCollectorRE = regexp.MustCompile(`^rrc\d{2}$`)

// Live reports whether any live source is configured.
func (f *File) Live() bool {
	return (f.BGP != nil && len(f.BGP.Neighbors) > 0) || f.RISLive.Enabled
}

// Step is the bin step, bgpwatch.BinStep unless set.
func (f *File) Step() time.Duration {
	if f.BinStep > 0 {
		return f.BinStep
	}
	return bgpwatch.BinStep
}

// VisibilityConfig returns the visibility thresholds: defaults overridden
// by the file's non-zero values.
func (f *File) VisibilityConfig() visibility.Config {
	c := visibility.DefaultConfig()
	v := f.Visibility
	if v.FullFeedShare > 0 {
		c.FullFeedShare = v.FullFeedShare
	}
	if v.FullFeedMin > 0 {
		c.FullFeedMin = v.FullFeedMin
	}
	if v.FullFeedMinV6 > 0 {
		c.FullFeedMinV6 = v.FullFeedMinV6
	}
	if v.VisibleShare > 0 {
		c.VisibleShare = v.VisibleShare
	}
	c.Step = f.Step()
	return c
}

// DetectConfig returns the detector's configuration: defaults overridden
// by the file's non-zero values, on the file's bin step.
func (f *File) DetectConfig() detect.Config {
	c := detect.DefaultConfig()
	d := f.Detection
	setD := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setD(&c.Window, d.Baseline)
	setD(&c.MinHistory, d.MinHistory)
	setD(&c.MinDuration, d.MinDuration)
	setD(&c.RecoverFor, d.RecoverFor)
	th := func(dst *detect.Thresholds, v Thresholds) {
		if v.Drop > 0 {
			dst.Drop = v.Drop
		}
		if v.Recover > 0 {
			dst.Recover = v.Recover
		}
		if v.MinSlash24 > 0 {
			dst.MinSlash24 = v.MinSlash24
		}
	}
	th(&c.Country, d.Country)
	th(&c.ASN, d.ASN)
	setF := func(dst *float64, v float64) {
		if v > 0 {
			*dst = v
		}
	}
	setI := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setF(&c.ContribDrop, d.ContribDrop)
	setI(&c.ContribMinSlash24, d.ContribMinSlash24)
	setF(&c.MinorShare, d.MinorShare)
	setD(&c.Lookback, d.Lookback)
	setI(&c.MaxWithdrawn, d.MaxWithdrawn)
	setF(&c.FeedCollapse, d.FeedCollapse)
	setI(&c.FeedWindow, d.FeedWindow)
	c.Step = f.Step()
	return c
}

// SpeakerConfig returns the live speaker's configuration (f.BGP must be set).
func (f *File) SpeakerConfig() live.Config {
	b := f.BGP
	c := live.Config{
		ASN: bgpwatch.ASN(b.ASN), ListenPort: b.ListenPort, ConnectRetry: b.ConnectRetry,
		ResetBackoffMax: b.ResetBackoffMax,
	}
	c.RouterID, _ = netip.ParseAddr(b.RouterID)
	if b.ListenAddress != "" {
		a, _ := netip.ParseAddr(b.ListenAddress)
		c.ListenAddresses = []netip.Addr{a}
	}
	for _, n := range b.Neighbors {
		a, _ := netip.ParseAddr(n.Address)
		c.Neighbors = append(c.Neighbors, live.Neighbor{
			Address: a.Unmap(), ASN: bgpwatch.ASN(n.ASN), Passive: n.Passive, Port: n.Port,
			Password: n.Password, AddPath: n.AddPath,
		})
	}
	return c
}

// RISConfig returns the RIS Live client's configuration.
func (f *File) RISConfig() rislive.Config {
	c := rislive.Config{URL: f.RISLive.URL, Subscriptions: f.RISLive.Filters, ReadTimeout: f.RISLive.ReadTimeout}
	if c.Subscriptions == nil && len(f.RISLive.Collectors) > 0 && !f.RISLive.FollowsAll() {
		// Only the collectors followed.
		for _, name := range f.RISLive.Collectors {
			c.Subscriptions = append(c.Subscriptions,
				rislive.Subscription{Host: name, Type: rislive.Update},
				rislive.Subscription{Host: name, Type: rislive.PeerState})
		}
	}
	return c
}
