package setting

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

type conf struct {
	Share float64
	N     int
	D     time.Duration
}

func keys() []Key[conf] {
	return []Key[conf]{
		{Name: "share", Flag: "share", Field: func(c *conf) any { return &c.Share }, Min: 0, Max: 1, MinOpen: true, MaxOpen: true},
		{Name: "n", Flag: "n", Field: func(c *conf) any { return &c.N }, Min: 1, NoMax: true},
		{Name: "d", Flag: "d", Field: func(c *conf) any { return &c.D }, Min: 0, NoMax: true},
	}
}

func TestCheckAndOverride(t *testing.T) {
	for _, tc := range []struct {
		c    conf
		want string
	}{
		{conf{0.5, 1, 0}, ""},
		{conf{0, 1, 0}, "s.share (--share) 0: want > 0 and < 1"},
		{conf{1, 1, 0}, "s.share (--share) 1: want > 0 and < 1"},
		{conf{0.5, 0, 0}, "s.n (--n) 0: want ≥ 1"},
		{conf{0.5, 1, -time.Second}, "s.d (--d) -1s: want ≥ 0s"},
	} {
		err := Validate("s", keys(), &tc.c)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.c, err)
			}
			continue
		}
		if !errors.Is(err, bgpwatch.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	// Flags override only what was given.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	src := conf{0.5, 1, time.Minute}
	Bind(fs, keys(), &src)
	if err := fs.Parse([]string{"--n", "7"}); err != nil {
		t.Fatal(err)
	}
	dst := conf{0.9, 2, time.Hour}
	Override(fs, keys(), &src, &dst)
	if dst != (conf{0.9, 7, time.Hour}) {
		t.Errorf("override: %+v", dst)
	}
	m := map[string]any{}
	Values("s", keys(), &dst, m)
	if m["s.n"] != 7 || m["s.d"] != "1h0m0s" || m["s.share"] != 0.9 {
		t.Errorf("values: %v", m)
	}
}
