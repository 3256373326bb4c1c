package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLatestRIBAndPublishedUpdates reads the generated archive's index
// pages: the newest bview at or before a time (also across a month
// boundary, where the month's directory has none), and the updates files
// named in a range.
func TestLatestRIBAndPublishedUpdates(t *testing.T) {
	s := newServer(t, generated(t)) // rrc00, 2024-01-01 00:00 to 04:00
	o := s.options(t.TempDir())
	ctx := context.Background()
	for _, tc := range []struct {
		at   time.Time
		want time.Time
	}{
		{time.Date(2024, 1, 1, 3, 59, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, // no 2024.02 directory
	} {
		it, err := LatestRIB(ctx, o, "rrc00", tc.at)
		if err != nil || !it.Time.Equal(tc.want) || it.Kind != KindRIB || it.Rel != "rrc00/2024.01/bview.20240101.0000.gz" {
			t.Errorf("LatestRIB(%s) = %+v, %v; want the bview of %s", tc.at, it, err, tc.want)
		}
	}
	if _, err := LatestRIB(ctx, o, "rrc00", time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)); !errors.Is(err, ErrNoRIB) {
		t.Errorf("LatestRIB before the archive: %v, want ErrNoRIB", err)
	}
	if _, err := LatestRIB(ctx, o, "nowhere", time.Now()); err == nil {
		t.Error("LatestRIB of an unknown collector: no error")
	}
	from, to := time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 1, 30, 0, 0, time.UTC)
	items, err := PublishedUpdates(ctx, o, "rrc00", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 7 || !items[0].Time.Equal(from) || !items[6].Time.Equal(to) || items[3].Kind != KindUpdates {
		t.Errorf("PublishedUpdates(01:00, 01:30) = %d items %+v, want the 7 files 01:00..01:30", len(items), items)
	}
	// The files found are the ones Fetch downloads.
	paths, rep, err := Fetch(ctx, o, items[:2])
	if err != nil || len(paths) != 2 || rep.Fetched != 2 {
		t.Errorf("Fetch of the listed files: %v, %+v, %v", paths, rep, err)
	}
	if got := UpdatesEvery("rrc00"); got != 5*time.Minute {
		t.Errorf("UpdatesEvery(rrc00) = %v", got)
	}
}

// TestRISCollectors lists the running collectors from the archive's root
// index page: a bview within ActiveWithin before the time (also in the
// month before) counts; a retired collector, one whose newest bview is
// older, and directories that are not RIS collectors do not.
func TestRISCollectors(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"rrc00/2024.01/bview.20240101.0000.gz",
		"rrc00/2024.01/updates.20240101.0000.gz",
		"rrc01/2023.12/bview.20231231.1600.gz", // 11 h before, last month
		"rrc01/2024.01/bview.20240101.0800.gz", // after the time
		"rrc02/2008.09/bview.20080901.0000.gz", // retired
		"rrc03/2023.12/bview.20231229.0000.gz", // 3 days old
		"route-views2/bgpdata/2024.01/RIBS/rib.20240101.0000.bz2",
		"notes/README",
	} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newServer(t, dir)
	o := s.options(t.TempDir())
	at := time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC)
	names, skipped, err := RISCollectors(context.Background(), o, at)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"rrc00", "rrc01"}) {
		t.Errorf("RISCollectors = %v, want [rrc00 rrc01]", names)
	}
	if len(skipped) != 2 || !errors.Is(skipped["rrc02"], ErrNoRIB) || !errors.Is(skipped["rrc03"], ErrNoRIB) ||
		!strings.Contains(skipped["rrc03"].Error(), "2023-12-29T00:00:00Z") {
		t.Errorf("skipped = %v, want rrc02 (no RIB) and rrc03 (its newest RIB named)", skipped)
	}
	// No collector directory at all, and no index page: errors.
	if _, _, err := RISCollectors(context.Background(), Options{RISURL: s.srv.URL + "/ris/notes", UserAgent: "bgpwatch/test"}, at); err == nil || !strings.Contains(err.Error(), "no rrcNN/") {
		t.Errorf("root without collectors: %v", err)
	}
	if _, _, err := RISCollectors(context.Background(), Options{RISURL: s.srv.URL + "/nowhere", UserAgent: "bgpwatch/test"}, at); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("root not found: %v", err)
	}
}
