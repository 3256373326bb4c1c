package archive

import (
	"testing"
	"time"
)

func TestProjectOf(t *testing.T) {
	for name, want := range map[string]Project{
		"rrc00": RIS, "rrc26": RIS, "rrc1": Unknown, "rrc000": Unknown,
		"route-views2": RouteViews, "route-views.sydney": RouteViews, "route-views6": RouteViews,
		"route-views": Unknown, "route-views/x": Unknown, "bird": Unknown, "": Unknown,
	} {
		if got := ProjectOf(name); got != want {
			t.Errorf("ProjectOf(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPath(t *testing.T) {
	tm := time.Date(2022, 1, 5, 8, 0, 0, 0, time.FixedZone("ALMT", 6*3600)) // 02:00 UTC
	for _, tc := range []struct {
		p    Project
		k    Kind
		want string
	}{
		{RIS, KindRIB, "2022.01/bview.20220105.0200.gz"},
		{RIS, KindUpdates, "2022.01/updates.20220105.0200.gz"},
		{RouteViews, KindRIB, "bgpdata/2022.01/RIBS/rib.20220105.0200.bz2"},
		{RouteViews, KindUpdates, "bgpdata/2022.01/UPDATES/updates.20220105.0200.bz2"},
		{Unknown, KindRIB, ""},
		{RIS, KindUnknown, ""},
	} {
		if got := tc.p.Path(tc.k, tm); got != tc.want {
			t.Errorf("%v.Path(%v) = %q, want %q", tc.p, tc.k, got, tc.want)
		}
	}
}

// TestRoundTrip: what Path writes, Classify reads back, for both projects,
// both kinds and times across a month and a year boundary.
func TestRoundTrip(t *testing.T) {
	start := time.Date(2021, 12, 31, 16, 0, 0, 0, time.UTC)
	for _, c := range []string{"rrc00", "rrc21", "route-views2", "route-views.sydney"} {
		p := ProjectOf(c)
		for _, k := range []Kind{KindRIB, KindUpdates} {
			every := p.UpdatesEvery()
			if k == KindRIB {
				every = p.RIBEvery()
			}
			for tm := start; tm.Before(start.Add(48 * time.Hour)); tm = tm.Add(every) {
				rel := c + "/" + p.Path(k, tm)
				got := Classify("/srv/archive/" + rel)
				if got.Collector != c || got.Kind != k || !got.Time.Equal(tm) {
					t.Fatalf("Classify(%q) = %+v, want %s %v %v", rel, got, c, k, tm)
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tm := func(s string) time.Time { v, _ := time.Parse("2006-01-02 15:04", s); return v }
	for _, tc := range []struct {
		path string
		want File
	}{
		{"data/mrt/ris/rrc06.updates.20150401.0000.gz", File{"rrc06", KindUpdates, tm("2015-04-01 00:00")}},
		{"data/route-views6.rib6.20151101.0600_firstMB.bz2", File{"route-views6", KindRIB, tm("2015-11-01 06:00")}},
		{"rv/bgpdata/2022.01/UPDATES/updates.20220105.0745.bz2", File{"rv", KindUpdates, tm("2022-01-05 07:45")}},
		{"dumps/rrc03/whatever.mrt", File{"rrc03", KindUnknown, time.Time{}}},
		{"lab/bird.mrtdump_bgp_addpath_ipv4", File{}},
		{"updates.20229999.0000.gz", File{Kind: KindUpdates}}, // a name with an impossible time
		{"", File{}},
		{"/", File{}},
	} {
		if got := Classify(tc.path); got != tc.want {
			t.Errorf("Classify(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
}
