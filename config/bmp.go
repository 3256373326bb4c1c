package config

import (
	"net"

	"github.com/bgpwatch/bgpwatch/bgp/bmp"
)

// BMP configures the BMP station: routers connect to Listen and stream
// their tables (RFC 7854).
type BMP struct {
	// Listen is the TCP address routers connect to, e.g. ":11019".
	Listen string `yaml:"listen"`
	// RIBs are the table kinds whose routes count as vantage points:
	// adj-rib-in-pre (the default), adj-rib-in-post, adj-rib-out-pre,
	// adj-rib-out-post, loc-rib.
	RIBs []string `yaml:"ribs"`
}

// Enabled reports whether a BMP source is configured.
func (b *BMP) Enabled() bool { return b != nil && b.Listen != "" }

func (b *BMP) validate() error {
	if b == nil {
		return nil
	}
	if b.Listen != "" {
		if _, _, err := net.SplitHostPort(b.Listen); err != nil {
			return invalid("bmp.listen %q: want host:port or :port", b.Listen)
		}
	}
	if _, err := b.ribSet(); err != nil {
		return invalid("bmp.ribs: %v", err)
	}
	return nil
}

func (b *BMP) ribSet() (bmp.RIBSet, error) {
	var s bmp.RIBSet
	for _, n := range b.RIBs {
		k, err := bmp.ParseRIB(n)
		if err != nil {
			return 0, err
		}
		s = s.With(k)
	}
	if s == 0 {
		s = bmp.DefaultRIBs
	}
	return s, nil
}

// StationConfig returns the BMP station's configuration (validated).
func (b *BMP) StationConfig() bmp.StationConfig {
	s, _ := b.ribSet()
	return bmp.StationConfig{Listen: b.Listen, RIBs: s}
}
