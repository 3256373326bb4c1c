package fetch

import (
	"context"
	"errors"
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
