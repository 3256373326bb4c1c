package ingest_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/rir"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
)

// dumpEvents renders the events, their networks, evidence and notices by
// natural key (ids and bookkeeping timestamps left out).
func dumpEvents(t *testing.T, db *store.DB) string {
	t.Helper()
	const ek = `e.scope, e.country, e.asn, e.started_at`
	queries := []string{
		`SELECT ` + ek + `, access, ended_at, baseline_slash24, min_slash24, drop_ratio, alert_area, withdrawn_prefixes, source FROM events e ORDER BY 1, 2, 3, 4`,
		`SELECT ` + ek + `, x.asn, x.baseline_slash24, x.min_slash24 FROM event_asns x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
		`SELECT ` + ek + `, x.prefix, x.origin_asn, x.withdrawn_at FROM event_prefixes x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
		`SELECT ` + ek + `, x.type FROM event_notices x JOIN events e ON e.id = x.event_id ORDER BY 1, 2, 3, 4, 5`,
	}
	return storetest.Dump(t, db, queries...)
}

// TestReplayLaterWindowResumes replays the kazakhstan-2022 scenario whole,
// and in two parts split in the middle of the nationwide shutdown (5 Jan
// 13:00Z, half an hour after its start; the brief restoration at 16:00
// and the renewed cut at 17:30 follow within the cold detector's first
// hours). The second part resumes from what the first stored, so the
// events must be those of the whole replay; without resuming they are not.
func TestReplayLaterWindowResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and replays a four-day scenario three times")
	}
	ctx := context.Background()
	sc, err := synth.Builtin("kazakhstan-2022")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truth, err := synth.Generate(ctx, sc, dir, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := rir.New()
	for _, f := range truth.RIRFiles {
		if strings.Contains(f, "extended") {
			if err := reg.LoadDelegations(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := reg.LoadASNInfo(filepath.Join(dir, truth.ASNInfo)); err != nil {
		t.Fatal(err)
	}
	files, err := ingest.Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	replay := func(db *store.DB, from, to time.Time, resume bool) ingest.Stats {
		t.Helper()
		cfg := ingest.Config{
			Detect:    detect.DefaultConfig(), // as replay's flags give it
			CountryOf: reg.CountryOf, Info: reg.Info, WriteFrom: from,
			Source: store.SourceReplay, Notify: true,
		}
		if resume {
			cfg.History = db
		}
		p := ingest.New(cfg, db)
		sum, err := ingest.Replay(ctx, ingest.ReplayConfig{Files: ingest.SelectWindow(files, from, to), From: from, To: to}, p)
		if err != nil {
			t.Fatal(err)
		}
		return sum.Pipeline
	}
	mid := time.Date(2022, 1, 5, 13, 0, 0, 0, time.UTC)

	whole := storetest.New(t)
	replay(whole, time.Time{}, time.Time{}, true)
	want := dumpEvents(t, whole)
	if !strings.Contains(want, "2022-01-05 12:30:00") {
		t.Fatalf("the whole replay has no event at the nationwide shutdown:\n%s", want)
	}

	split := storetest.New(t)
	replay(split, time.Time{}, mid, true)
	st := replay(split, mid, time.Time{}, true)
	if st.ResumedBins == 0 || st.ResumeDropped {
		t.Errorf("second part: %+v, want a resumed detector", st)
	}
	if got := dumpEvents(t, split); got != want {
		t.Errorf("replay in two parts differs from the whole replay: %s", storetest.FirstDiff(want, got))
	}

	cold := storetest.New(t)
	replay(cold, time.Time{}, mid, false)
	replay(cold, mid, time.Time{}, false)
	if got := dumpEvents(t, cold); got == want {
		t.Error("a cold second part gives the same events: the test proves nothing")
	}
}
