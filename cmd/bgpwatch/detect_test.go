package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

type detectOut struct {
	DryRun  bool                `json:"dry_run"`
	Changes []eventChange       `json:"changes"`
	Counts  map[string]int      `json:"counts"`
	Stored  *store.ReplaceStats `json:"stored"`
	Bins    int                 `json:"bins"`
}

func runDetectCLI(t *testing.T, db *store.DB, args ...string) detectOut {
	t.Helper()
	all := append([]string{"detect", "--db", db.Pool().Config().ConnString(), "--json",
		"--from", "2024-02-01T00:00:00Z", "--to", "2024-04-01T00:00:00Z"}, args...)
	code, out, errOut := runCLI(t, nil, all...)
	if code != exitOK {
		t.Fatalf("%v: exit %d\n%s", all, code, errOut)
	}
	var o detectOut
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("detect --json: %v\n%s", err, out)
	}
	return o
}

// eventRows renders the stored events by natural key with what detection
// decides (times, levels, access, contributors), without the evidence.
func eventRows(t *testing.T, db *store.DB) string {
	t.Helper()
	const ek = `e.scope, e.country, e.asn, e.started_at`
	return storetest.Dump(t, db,
		`SELECT `+ek+`, access, ended_at, baseline_slash24, min_slash24, round(drop_ratio::numeric, 9), round(alert_area::numeric, 9), source FROM events e ORDER BY 1, 2, 3, 4`,
		`SELECT `+ek+`, x.asn, x.baseline_slash24, x.min_slash24 FROM event_asns x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`)
}

// eventKeys lists "scope country asn start end" of each event row.
func eventSet(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows := strings.Split(strings.TrimSpace(storetest.Dump(t, db,
		`SELECT e.scope, e.country, e.asn, e.started_at, e.ended_at, baseline_slash24, min_slash24 FROM events e ORDER BY 1, 2, 3, 4`)), "\n")
	return slices.DeleteFunc(rows, func(s string) bool { return s == "" || s == "--" })
}

func wireKey(w *wireEvent) string {
	if w == nil {
		return ""
	}
	return fmt.Sprintf("%s %s %d %s", w.Scope, w.Country, w.ASN, w.StartedAt.Format("2006-01-02 15:04:05"))
}

// TestDetectRecomputes: detect on a replay's series with the replay's
// settings changes nothing; with a new threshold its dry run lists exactly
// the events that differ between the replay and a fresh replay with that
// threshold, and storing them gives that fresh replay's events.
func TestDetectRecomputes(t *testing.T) {
	// Thresholds that change the scenario's events: a smaller drop and a
	// shorter one become events (new), a partial restoration no longer
	// ends one (moved end).
	newFlags := []string{"--asn-drop", "0.2", "--asn-recover", "0.1", "--min-duration", "5m"}
	db, fresh := storetest.New(t), storetest.New(t)
	replayScenario(t, db, "thresholds")
	replayScenario(t, fresh, "thresholds", newFlags...)
	before, want := eventRows(t, db), eventRows(t, fresh)
	if before == want {
		t.Fatal("the new thresholds change nothing: the test shows nothing")
	}

	// Same settings as the replay: nothing changes.
	same := runDetectCLI(t, db, "--dry-run")
	if len(same.Changes) != 0 || same.Counts["unchanged"] == 0 || same.Bins == 0 {
		t.Fatalf("detect with the replay's settings: %+v", same)
	}

	// The dry run lists exactly the differences between the two replays.
	dry := runDetectCLI(t, db, append([]string{"--dry-run"}, newFlags...)...)
	if after := eventRows(t, db); after != before {
		t.Fatalf("--dry-run changed the database: %s", storetest.FirstDiff(before, after))
	}
	oldSet, newSet := eventSet(t, db), eventSet(t, fresh)
	var goneWant, newWant []string // rows only in the old / only in the new replay
	for _, r := range oldSet {
		if !slices.Contains(newSet, r) {
			goneWant = append(goneWant, r)
		}
	}
	for _, r := range newSet {
		if !slices.Contains(oldSet, r) {
			newWant = append(newWant, r)
		}
	}
	var goneGot, newGot []string
	row := func(w *wireEvent) string {
		end := "<nil>"
		if !w.EndedAt.IsZero() {
			end = w.EndedAt.Format("2006-01-02 15:04:05 -0700 MST")
		}
		return fmt.Sprintf("%s %s %d %s %s %d %d", w.Scope, w.Country, w.ASN, w.StartedAt.Format("2006-01-02 15:04:05 -0700 MST"), end, w.Baseline, w.Min)
	}
	for _, c := range dry.Changes {
		if c.Stored != nil {
			goneGot = append(goneGot, row(c.Stored))
		}
		if c.Recomputed != nil {
			newGot = append(newGot, row(c.Recomputed))
		}
	}
	slices.Sort(goneGot)
	slices.Sort(newGot)
	if len(dry.Changes) == 0 || !slices.Equal(goneGot, goneWant) || !slices.Equal(newGot, newWant) {
		t.Fatalf("dry run lists\n old %q\n new %q\nwant\n old %q\n new %q", goneGot, newGot, goneWant, newWant)
	}
	t.Logf("dry run: %v", dry.Counts)

	// Storing: the fresh replay's events, ids of matched events kept.
	done := runDetectCLI(t, db, newFlags...)
	if got := eventRows(t, db); got != want {
		t.Fatalf("after detect, events differ from a fresh replay: %s", storetest.FirstDiff(want, got))
	}
	if done.Stored == nil || done.Stored.Kept+done.Stored.Inserted == 0 {
		t.Fatalf("stored: %+v", done.Stored)
	}
	kept := 0
	for _, c := range dry.Changes {
		if c.Stored != nil && c.Recomputed != nil {
			var id int64
			if err := db.Pool().QueryRow(t.Context(), `SELECT id FROM events WHERE scope = $1 AND country = $2 AND asn = $3 AND started_at = $4`,
				c.Recomputed.Scope, c.Recomputed.Country, int64(c.Recomputed.ASN), c.Recomputed.StartedAt).Scan(&id); err != nil || id != c.Stored.ID {
				t.Errorf("%s: id %d, want the stored %d (%v)", wireKey(c.Recomputed), id, c.Stored.ID, err)
			}
			kept++
		}
	}
	var notices int
	db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM event_notices`).Scan(&notices)
	if notices != 0 {
		t.Errorf("%d notices queued without --notify", notices)
	}
	// Again: nothing left to change.
	if again := runDetectCLI(t, db, append([]string{"--dry-run"}, newFlags...)...); len(again.Changes) != 0 {
		t.Fatalf("second detect: %+v", again.Changes)
	}
	// Back to the defaults; then the new thresholds again, with notices:
	// event.started for the inserted events only.
	runDetectCLI(t, db)
	if got := eventRows(t, db); got != before {
		t.Fatalf("back to the defaults: %s", storetest.FirstDiff(before, got))
	}
	withNotices := runDetectCLI(t, db, append([]string{"--notify"}, newFlags...)...)
	db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM event_notices WHERE type = 'event.started'`).Scan(&notices)
	if withNotices.Stored == nil || withNotices.Stored.Inserted == 0 || notices != withNotices.Stored.Inserted {
		t.Errorf("%d started notices for %+v", notices, withNotices.Stored)
	}
	var hashes int
	db.Pool().QueryRow(t.Context(), `SELECT count(DISTINCT settings_hash) FROM events WHERE settings_hash IS NOT NULL`).Scan(&hashes)
	if hashes != 1 {
		t.Errorf("events carry %d settings hashes, want the detect run's one", hashes)
	}
	if kept == 0 || dry.Counts["new"] == 0 || dry.Counts["moved"] == 0 {
		t.Errorf("the scenario should move one event and add others: %v", dry.Counts)
	}
}

// TestDetectSameSettingsNoChange: on a scenario with a peer reset and a
// damaged file, the events recomputed from the stored series with the
// replay's settings are the replay's.
func TestDetectSameSettingsNoChange(t *testing.T) {
	db := storetest.New(t)
	replayScenario(t, db, "small")
	all := []string{"detect", "--db", db.Pool().Config().ConnString(), "--json", "--dry-run",
		"--from", "2023-12-01T00:00:00Z", "--to", "2024-02-01T00:00:00Z"}
	code, out, errOut := runCLI(t, nil, all...)
	var o detectOut
	if code != exitOK || json.Unmarshal([]byte(out), &o) != nil {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	if len(o.Changes) != 0 || o.Counts["unchanged"] != 1 || o.Bins < 400 {
		t.Fatalf("detect with the replay's settings: %+v", o)
	}
}
