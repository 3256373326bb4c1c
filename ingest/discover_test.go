package ingest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tm := func(s string) time.Time { v, _ := time.Parse("2006-01-02 15:04", s); return v }
	tests := []struct {
		path      string
		collector string
		kind      FileKind
		time      time.Time
	}{
		{"a/rrc00/2022.01/bview.20220105.0800.gz", "rrc00", KindRIB, tm("2022-01-05 08:00")},
		{"a/rrc21/2022.01/updates.20220105.0805.gz", "rrc21", KindUpdates, tm("2022-01-05 08:05")},
		{"x/route-views2/bgpdata/2022.01/RIBS/rib.20220105.0600.bz2", "route-views2", KindRIB, tm("2022-01-05 06:00")},
		{"x/route-views.sydney/bgpdata/2022.01/UPDATES/updates.20220105.0615.bz2", "route-views.sydney", KindUpdates, tm("2022-01-05 06:15")},
		{"data/mrt/ris/rrc06.updates.20150401.0000.gz", "rrc06", KindUpdates, tm("2015-04-01 00:00")},
		{"data/route-views6.rib6.20151101.0600_firstMB.bz2", "route-views6", KindRIB, tm("2015-11-01 06:00")},
		{"lab/bird.mrtdump_bgp_addpath_ipv4", "unknown", KindUnknown, time.Time{}},
		{"dumps/rrc03/whatever.mrt", "rrc03", KindUnknown, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := classify(tt.path)
			if got.Collector != tt.collector || got.Kind != tt.kind || !got.Time.Equal(tt.time) {
				t.Fatalf("classify = %+v, want %s %s %s", got, tt.collector, tt.kind, tt.time)
			}
		})
	}
}

func TestDiscoverAndSelectWindow(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"rrc00/2022.01/bview.20220105.0000.gz",
		"rrc00/2022.01/bview.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0755.gz",
		"rrc00/2022.01/updates.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0805.gz",
		"rrc00/2022.01/updates.20220105.1205.gz",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0745.bz2",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0800.bz2",
		".hidden/rrc00/2022.01/bview.20220105.0000.gz",
		"notes.txt",
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 9 {
		t.Fatalf("found %d files, want 9 (hidden skipped)", len(files))
	}
	if filepath.Base(files[0].Path) != "notes.txt" {
		t.Errorf("first file = %s, want the one without a time", files[0].Path)
	}
	from := time.Date(2022, 1, 5, 8, 3, 0, 0, time.UTC)
	to := time.Date(2022, 1, 5, 12, 0, 0, 0, time.UTC)
	var got []string
	for _, f := range SelectWindow(files, from, to) {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, rel)
	}
	want := []string{
		"notes.txt",
		"rrc00/2022.01/bview.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0800.gz",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0800.bz2", // no RV RIB: updates from 15 min before on
		"rrc00/2022.01/updates.20220105.0805.gz",
	}
	if len(got) != len(want) {
		t.Fatalf("selected %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("selected %v, want %v", got, want)
		}
	}
}
