package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
)

func TestBMPConfig(t *testing.T) {
	f, err := Parse(strings.NewReader("bmp: {listen: ':11019', ribs: [loc-rib, adj-rib-in-post]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := f.BMP.StationConfig()
	if !f.Live() || sc.Listen != ":11019" || sc.RIBs != bmp.RIBSet(0).With(bmp.LocRIB).With(bmp.AdjRIBInPost) {
		t.Errorf("station config %+v", sc)
	}
	if f, _ := Parse(strings.NewReader("bmp: {listen: ':11019'}\n"), nil); f.BMP.StationConfig().RIBs != bmp.DefaultRIBs {
		t.Error("default RIB kinds")
	}
	for _, bad := range []string{"bmp: {listen: '11019'}", "bmp: {listen: ':1', ribs: [adj-rib-in]}", "bmp: {listn: ':1'}"} {
		if _, err := Parse(strings.NewReader(bad), nil); !errors.Is(err, bgpwatch.ErrInvalid) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
