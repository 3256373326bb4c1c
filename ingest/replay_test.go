package ingest_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store/storetest"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// sharedData returns the shared test data directory (package shareddata).
func sharedData(t *testing.T) string { return filepath.Dir(shareddata.Path(t, "README.md")) }

// TestReplayRealDamage replays real public archives with known damage: the
// replay goes on, reports file and offset, and keeps the good records.
func TestReplayRealDamage(t *testing.T) {
	data := sharedData(t)
	paths := []string{
		filepath.Join(data, "mrt", "edge", "rrc00.updates.20000325.0345.gz"),
		filepath.Join(data, "mrt", "routeviews", "route-views2.rib.20140523.0600_firstMB.bz2"),
		filepath.Join(data, "README.md"), // not MRT: reported and skipped
	}
	files, err := ingest.Discover(paths)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		strict bool
	}{{"lenient", false}, {"strict", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.New(t)
			p := ingest.New(ingest.Config{}, db)
			sum, err := ingest.Replay(context.Background(), ingest.ReplayConfig{Files: files, Strict: tt.strict}, p)
			if tt.strict {
				if err == nil || len(sum.Errors) != 1 {
					t.Fatalf("strict: err %v, errors %v; want a stop at the first damage", err, sum.Errors)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Skipped) != 1 || !strings.HasSuffix(sum.Skipped[0].File, "README.md") {
				t.Errorf("skipped = %v, want README.md", sum.Skipped)
			}
			var rrc00, rv bool
			for _, e := range sum.Errors {
				rrc00 = rrc00 || (strings.Contains(e.File, "rrc00.updates") && e.Offset > 0)
				rv = rv || (strings.Contains(e.File, "route-views2.rib") && e.Offset > 0)
			}
			if !rrc00 || !rv {
				t.Errorf("errors %v: want damage reported in both files with offsets", sum.Errors)
			}
			// 270005 RIB entries are readable before the cut (README).
			if got := sum.Records["TABLE_DUMP_V2/RIB_IPV4_UNICAST"]; got == 0 || sum.ByKind["table-route"] < 270000 {
				t.Errorf("records %v, observations %v: good records before the damage were lost", sum.Records, sum.ByKind)
			}
			if sum.ByKind["table-end"] != 0 {
				t.Error("a truncated RIB produced a TableEnd")
			}
		})
	}
}
