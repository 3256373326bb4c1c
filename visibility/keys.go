package visibility

import (
	"github.com/bgpwatch/bgpwatch/internal/setting"
)

// Section is the name of the configuration file section of Config.
const Section = "visibility"

// Keys lists the user settings of Config: YAML key (under "visibility:"),
// flag, help and bounds. Step is not one: it is the series' 5-minute grid.
func Keys() []setting.Key[Config] {
	type K = setting.Key[Config]
	return []K{
		{Name: "full_feed_share", Flag: "full-feed-share", Usage: "a peer session is full-feed when its table holds at least this `share` of the largest one",
			Field: func(c *Config) any { return &c.FullFeedShare }, Min: 0, Max: 1, MinOpen: true},
		{Name: "full_feed_min", Flag: "full-feed-min", Usage: "if > 0, a session is IPv4 full-feed from this many `prefixes` on instead (IODA: 400000)",
			Field: func(c *Config) any { return &c.FullFeedMin }, Min: 0, NoMax: true},
		{Name: "full_feed_min_v6", Flag: "full-feed-min-v6", Usage: "if > 0, a session is IPv6 full-feed from this many `prefixes` on",
			Field: func(c *Config) any { return &c.FullFeedMinV6 }, Min: 0, NoMax: true},
		{Name: "visible_share", Flag: "visible-share", Usage: "a prefix is visible when more than this `share` of full-feed peer ASNs see it",
			Field: func(c *Config) any { return &c.VisibleShare }, Min: 0, Max: 1, MaxOpen: true},
	}
}

// Validate checks every user setting against its bounds; the error wraps
// bgpwatch.ErrInvalid and names the key ("visibility.visible_share") and
// its flag.
func (c *Config) Validate() error {
	return setting.Validate(Section, Keys(), c)
}
