package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExampleFile(t *testing.T) {
	if _, err := Load("../docs/bgpwatch.example.yaml"); err == nil {
		t.Fatal("example needs BGPWATCH_BGP_PASSWORD_64500; Load without it must fail")
	}
	t.Setenv("BGPWATCH_BGP_PASSWORD_64500", "s3cret")
	f, err := Load("../docs/bgpwatch.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Live() || f.Listen != "127.0.0.1:8080" || f.Step() != 5*time.Minute || f.Tick != time.Second {
		t.Errorf("file = %+v", f)
	}
	sc := f.SpeakerConfig()
	if sc.ASN != 65000 || sc.RouterID != netip.MustParseAddr("192.0.2.1") || len(sc.Neighbors) != 2 ||
		sc.ConnectRetry != 5*time.Second || sc.ResetBackoffMax != 15*time.Minute {
		t.Fatalf("speaker = %+v", sc)
	}
	n := sc.Neighbors[0]
	if n.Address != netip.MustParseAddr("192.0.2.10") || n.ASN != 64500 || n.Password != "s3cret" || !n.AddPath || n.Passive || n.Port != 179 {
		t.Errorf("neighbor 0 = %+v", n)
	}
	if !sc.Neighbors[1].Passive || sc.Neighbors[1].Address != netip.MustParseAddr("2001:db8::10") {
		t.Errorf("neighbor 1 = %+v", sc.Neighbors[1])
	}
	rc := f.RISConfig()
	if len(rc.Subscriptions) != 3 || rc.Subscriptions[0].Host != "rrc21" || !rc.Subscriptions[1].MoreSpecific ||
		rc.Subscriptions[1].Prefix[0] != "2.72.0.0/13" || rc.ReadTimeout != time.Minute {
		t.Errorf("ris = %+v", rc)
	}
	if f.CacheMaxBytes != 32<<20 {
		t.Errorf("cache_max_bytes = %d", f.CacheMaxBytes)
	}
	// The example shows the defaults.
	if dc, def := f.DetectConfig(), detect.DefaultConfig(); dc != def {
		t.Errorf("example's detection differs from the defaults:\n%+v\n%+v", dc, def)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string
		check    func(t *testing.T, f *File)
	}{
		{name: "empty", in: "", check: func(t *testing.T, f *File) {
			if f.Live() || f.Step() != bgpwatch.BinStep {
				t.Errorf("empty file: %+v", f)
			}
		}},
		{name: "thresholds override defaults", in: "bin_step: 2s\ndetection: {min_duration: 4s, asn: {drop: 0.6}}\nvisibility: {visible_share: 0.4}\n",
			check: func(t *testing.T, f *File) {
				dc, vc := f.DetectConfig(), f.VisibilityConfig()
				if dc.Step != 2*time.Second || dc.MinDuration != 4*time.Second || dc.ASN.Drop != 0.6 || dc.ASN.Recover != 0.25 {
					t.Errorf("detect = %+v", dc)
				}
				if vc.Step != 2*time.Second || vc.VisibleShare != 0.4 || vc.FullFeedShare != 0.9 {
					t.Errorf("visibility = %+v", vc)
				}
			}},
		{name: "ris only", in: "ris_live: {enabled: true}\n", check: func(t *testing.T, f *File) {
			if !f.Live() || f.RISConfig().Subscriptions != nil {
				t.Errorf("ris: %+v", f.RISLive)
			}
		}},
		{name: "unknown key", in: "bgp: {asn: 1, router_id: 1.2.3.4, neighbours: []}\n", wantErr: "neighbours"},
		{name: "no asn", in: "bgp: {router_id: 1.2.3.4}\n", wantErr: "bgp.asn"},
		{name: "v6 router id", in: "bgp: {asn: 1, router_id: '::1'}\n", wantErr: "router_id"},
		{name: "bad neighbor", in: "bgp: {asn: 1, router_id: 1.2.3.4, neighbors: [{address: x, asn: 2}]}\n", wantErr: "neighbors[0].address"},
		{name: "duplicate neighbor", in: "bgp: {asn: 1, router_id: 1.2.3.4, neighbors: [{address: 10.0.0.1, asn: 2}, {address: 10.0.0.1, asn: 3}]}\n", wantErr: "twice"},
		{name: "neighbor without asn", in: "bgp: {asn: 1, router_id: 1.2.3.4, neighbors: [{address: 10.0.0.1}]}\n", wantErr: "asn is required"},
		{name: "password env", in: "bgp: {asn: 1, router_id: 1.2.3.4, neighbors: [{address: 10.0.0.1, asn: 2, password_env: PW}]}\n",
			check: func(t *testing.T, f *File) {
				if f.BGP.Neighbors[0].Password != "pw" {
					t.Errorf("password = %q", f.BGP.Neighbors[0].Password)
				}
			}},
		{name: "negative backoff", in: "bgp: {asn: 1, router_id: 1.2.3.4, reset_backoff_max: -1m}\n", wantErr: "reset_backoff_max"},
		{name: "bad url", in: "ris_live: {enabled: true, url: http://x}\n", wantErr: "ws://"},
		{name: "bad share", in: "visibility: {visible_share: 1.5}\n", wantErr: "visibility.visible_share (--visible-share) 1.5"},
		{name: "evidence settings", in: "detection: {contrib_drop: 0.4, contrib_min_slash24: 8, minor_share: 0.2, lookback: 30m, max_withdrawn: 50, feed_collapse: 0.7, feed_window: 12}\n",
			check: func(t *testing.T, f *File) {
				dc := f.DetectConfig()
				if dc.ContribDrop != 0.4 || dc.ContribMinSlash24 != 8 || dc.MinorShare != 0.2 || dc.Lookback != 30*time.Minute ||
					dc.MaxWithdrawn != 50 || dc.FeedCollapse != 0.7 || dc.FeedWindow != 12 {
					t.Errorf("detect = %+v", dc)
				}
			}},
		{name: "bad minor share", in: "detection: {minor_share: 0.6}\n", wantErr: "minor_share"},
		{name: "negative lookback", in: "detection: {lookback: -1h}\n", wantErr: "lookback"},
		{name: "bad contrib drop", in: "detection: {contrib_drop: 1}\n", wantErr: "detection.contrib_drop"},
		{name: "recover above drop", in: "detection: {country: {drop: 0.1}}\n", wantErr: "detection.country.recover"},
		{name: "history beyond baseline", in: "detection: {baseline: 1h}\n", wantErr: "detection.min_history"},
		{name: "explicit zero", in: "detection: {asn: {min_slash24: 0}}\n", wantErr: "detection.asn.min_slash24"},
		{name: "zero kept where it means off", in: "visibility: {full_feed_min: 0}\ndetection: {lookback: 0s, feed_collapse: 0, minor_share: 0}\n",
			check: func(t *testing.T, f *File) {
				if f.Detection.Lookback != 0 || f.Detection.FeedCollapse != 0 || f.Detection.MinorShare != 0 || f.Visibility.FullFeedMin != 0 {
					t.Errorf("zeros not kept: %+v %+v", f.Detection, f.Visibility)
				}
			}},
		{name: "bad duration", in: "bin_step: soon\n", wantErr: "invalid"},
		{name: "tiny step", in: "bin_step: 1ms\n", wantErr: "bin_step"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), env(map[string]string{"PW": "pw"}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, bgpwatch.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f)
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"33554432", 32 << 20, false},
		{"32MiB", 32 << 20, false},
		{"64 MB", 64e6, false},
		{"512kib", 512 << 10, false},
		{"1GiB", 1 << 30, false},
		{"0", 0, false},
		{"", 0, true},
		{"-5MiB", 0, true},
		{"12 parsecs", 0, true},
		{"99999999999GiB", 0, true},
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %d, %v", tc.in, got, err)
		}
	}
	if _, err := Parse(strings.NewReader("cache_max_bytes: lots\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad cache_max_bytes: %v", err)
	}
	if s := ByteSize(32 << 20).String(); s != "32MiB" {
		t.Errorf("String %q", s)
	}
}
