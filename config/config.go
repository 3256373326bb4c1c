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
	"math"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
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
	// CacheMaxBytes is the API response cache's memory budget (serve's
	// --cache-max-bytes; 0: 32 MiB). An integer of bytes or a size such as
	// "64MiB", "500KB".
	CacheMaxBytes ByteSize `yaml:"cache_max_bytes"`

	// BinStep is the width of the bins live ingest closes on the wall clock
	// (default and normal value 5m, bgpwatch.BinStep). It is not a
	// detection setting: the stored series, the API and replay are on the
	// 5-minute grid; shorter steps exist so that tests of live ingest run in
	// seconds. The detector's durations are counted in bins of this width.
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

	// Webhooks configures webhook registration and delivery.
	Webhooks Webhooks `yaml:"webhooks"`

	BGP     *BGP    `yaml:"bgp"`
	RISLive RISLive `yaml:"ris_live"`
	BMP     *BMP    `yaml:"bmp"`
	// Visibility and Detection are the visibility rules and the
	// detector's settings, owned by their packages (visibility.Keys and
	// detect.Keys list them, with their flags and bounds). Parse starts
	// them from the defaults: a key left out keeps its default.
	Visibility visibility.Config `yaml:"visibility"`
	Detection  detect.Config     `yaml:"detection"`
}

// Webhooks configures webhook registration and delivery.
type Webhooks struct {
	// AllowPrivate permits receivers on internal addresses (loopback,
	// private, link-local, multicast, unspecified, CGNAT, ...), refused by
	// default at registration and on every address delivery dials (serve's
	// --webhooks-allow-private).
	AllowPrivate bool `yaml:"allow_private"`
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
	// names such as rrc00, or "ris" for every collector: those running
	// per the archive's root page (a bview within the last 24 hours) and
	// any other the stream names.
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
	// GapHold is how long a collector whose stream was cut holds every
	// collector's bins back while the archive fills the gap (15m); past
	// it they close with its tables as they were at the cut.
	GapHold time.Duration `yaml:"gap_hold"`
}

// AllCollectors is the Collectors entry meaning every RIS collector.
const AllCollectors = "ris"

// FollowsAll reports whether every running collector is followed.
func (r *RISLive) FollowsAll() bool {
	return slices.Contains(r.Collectors, AllCollectors)
}

// ByteSize is a number of bytes, written as an integer or with a unit: B,
// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

// ParseByteSize parses "33554432", "32MiB", "64 MB" or "512KiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	units := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
	mult, ok := units[strings.ToUpper(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (want KiB, MiB, GiB, KB, MB or GB)", s, strings.TrimSpace(t[i:]))
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalYAML reads an integer or a size with a unit.
func (b *ByteSize) UnmarshalYAML(v *yaml.Node) error {
	n, err := ParseByteSize(v.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", v.Line, err)
	}
	*b = n
	return nil
}

// String writes the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		n    ByteSize
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = n
	return nil
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
	f := File{Visibility: visibility.DefaultConfig(), Detection: detect.DefaultConfig()}
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
	if err := f.BMP.validate(getenv); err != nil {
		return err
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
	if f.RISLive.ArchivePoll < 0 || f.RISLive.FirstWait < 0 || f.RISLive.ArchiveMaxWait < 0 || f.RISLive.GapHold < 0 {
		return invalid("ris_live.archive_poll, first_wait, archive_max_wait and gap_hold must not be negative")
	}
	if err := f.CheckDetection(); err != nil {
		return err
	}
	return nil
}

var risCollectorRE = regexp.MustCompile(`^rrc\d{2}$`)

// Live reports whether any live source is configured.
func (f *File) Live() bool {
	return (f.BGP != nil && len(f.BGP.Neighbors) > 0) || f.RISLive.Enabled || f.BMP.Enabled()
}

// Step is the bin step, bgpwatch.BinStep unless set.
func (f *File) Step() time.Duration {
	if f.BinStep > 0 {
		return f.BinStep
	}
	return bgpwatch.BinStep
}

// CheckDetection validates the visibility and detection sections (on the
// file's bin step); errors name the key and its flag.
func (f *File) CheckDetection() error {
	v := f.VisibilityConfig()
	if err := v.Validate(); err != nil {
		return err
	}
	d := f.DetectConfig()
	return d.Validate()
}

// VisibilityConfig returns the visibility rules on the file's bin step.
func (f *File) VisibilityConfig() visibility.Config {
	c := f.Visibility
	c.Step = f.Step()
	return c
}

// DetectConfig returns the detector's settings on the file's bin step.
func (f *File) DetectConfig() detect.Config {
	c := f.Detection
	c.Step = f.Step()
	return c
}

// Default returns a File with nothing set: the visibility and detection
// defaults, as Parse of an empty file gives.
func Default() *File {
	return &File{Visibility: visibility.DefaultConfig(), Detection: detect.DefaultConfig()}
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
