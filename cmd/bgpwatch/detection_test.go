package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/internal/setting"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// flagBad is an out-of-range command-line value of a key.
type flagBad struct{ key, flag, value string }

func flagOutOfRange[C any](section string, keys []setting.Key[C]) []flagBad {
	var out []flagBad
	for _, k := range keys {
		var zero C
		f := func(v float64) string {
			switch k.Field(&zero).(type) {
			case *time.Duration:
				return time.Duration(v * float64(time.Second)).String()
			case *int:
				return strconv.Itoa(int(v))
			}
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		lo := k.Min - 1
		if k.MinOpen {
			lo = k.Min
		}
		out = append(out, flagBad{section + "." + k.Name, k.Flag, f(lo)})
		if !k.NoMax {
			hi := k.Max + 0.5
			if k.MaxOpen {
				hi = k.Max
			}
			out = append(out, flagBad{section + "." + k.Name, k.Flag, f(hi)})
		}
	}
	return out
}

// TestDetectionFlagsRefused: every visibility and detection key, set out of
// its range on the command line of every command that detects, is refused
// (exit 2) with the key's name, before anything runs.
func TestDetectionFlagsRefused(t *testing.T) {
	bad := append(flagOutOfRange(visibility.Section, visibility.Keys()), flagOutOfRange(detect.Section, detect.Keys())...)
	if len(bad) < 21 {
		t.Fatalf("only %d bad values", len(bad))
	}
	commands := map[string][]string{
		"replay": {"replay", "--db", "postgres://127.0.0.1:1/none"},
		"serve":  {"serve", "--db", "postgres://127.0.0.1:1/none", "--listen", "127.0.0.1:0"},
	}
	commands["detect"] = []string{"detect", "--db", "postgres://127.0.0.1:1/none", "--from", "2024-01-01T00:00:00Z", "--to", "2024-01-02T00:00:00Z"}
	for name, base := range commands {
		for _, b := range bad {
			if name == "detect" && strings.HasPrefix(b.key, visibility.Section+".") {
				continue // the stored series' visibility cannot change in detect
			}
			t.Run(name+"/"+b.flag+"="+b.value, func(t *testing.T) {
				args := append(append([]string{}, base...), "--"+b.flag+"="+b.value)
				if name == "replay" {
					args = append(args, t.TempDir())
				}
				code, _, errOut := runCLI(t, nil, args...)
				if code != exitUsage || !strings.Contains(errOut, b.key+" (--"+b.flag+")") {
					t.Fatalf("%v: exit %d, stderr %q; want exit %d naming %s", args, code, errOut, exitUsage, b.key)
				}
			})
		}
	}
	// The case that used to run silently with the default.
	code, _, errOut := runCLI(t, nil, "replay", "--visible-share", "1.5", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "visibility.visible_share (--visible-share) 1.5") {
		t.Fatalf("replay --visible-share 1.5: exit %d %q", code, errOut)
	}
}

// settingsFile writes a configuration file that changes every key from its
// default, and returns it with the flags that say the same.
func settingsFile(t *testing.T) (path string, flags []string, want *config.File) {
	t.Helper()
	want = config.Default()
	d, v := &want.Detection, &want.Visibility
	v.FullFeedShare, v.FullFeedMin, v.FullFeedMinV6, v.VisibleShare = 0.85, 0, 5, 0.45
	d.Window, d.MinHistory, d.MinDuration, d.RecoverFor = 20*time.Hour, 90*time.Minute, 10*time.Minute, 20*time.Minute
	d.Country = detect.Thresholds{Drop: 0.25, Recover: 0.12, MinSlash24: 12}
	d.ASN = detect.Thresholds{Drop: 0.45, Recover: 0.2, MinSlash24: 10}
	d.ContribDrop, d.ContribMinSlash24, d.MinorShare = 0.2, 3, 0.15
	d.Lookback, d.MaxWithdrawn, d.FeedCollapse, d.FeedWindow = time.Hour, 7, 0.4, 20
	doc := `visibility: {full_feed_share: 0.85, full_feed_min: 0, full_feed_min_v6: 5, visible_share: 0.45}
detection:
  baseline: 20h
  min_history: 90m
  min_duration: 10m
  recover_for: 20m
  country: {drop: 0.25, recover: 0.12, min_slash24: 12}
  asn: {drop: 0.45, recover: 0.2, min_slash24: 10}
  contrib_drop: 0.2
  contrib_min_slash24: 3
  minor_share: 0.15
  lookback: 1h
  max_withdrawn: 7
  feed_collapse: 0.4
  feed_window: 20
`
	path = filepath.Join(t.TempDir(), "bgpwatch.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, k := range visibility.Keys() {
		flags = append(flags, fmt.Sprintf("--%s=%v", k.Flag, k.Value(v)))
	}
	for _, k := range detect.Keys() {
		flags = append(flags, fmt.Sprintf("--%s=%v", k.Flag, k.Value(d)))
	}
	return path, flags, want
}

// TestDetectionSettingsEverywhere: the file, the flags, and the file with
// flags overriding some keys give the same settings in replay (and
// detect, worker: the same loader) and serve.
func TestDetectionSettingsEverywhere(t *testing.T) {
	path, flags, want := settingsFile(t)
	replayLoad := func(args ...string) *config.File {
		fs := flag.NewFlagSet("replay", flag.ContinueOnError)
		df := addDetectionFlags(fs, nil)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		f, err := df.load(fs)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return f
	}
	serveLoad := func(args ...string) *config.File {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		lf := addLiveFlags(fs)
		df := addDetectionFlags(fs, &lf.path)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg := serveConfig{}
		if err := lf.load(fs, &cfg, os.Getenv); err != nil {
			t.Fatal(err)
		}
		if err := df.apply(fs, lf.file); err != nil {
			t.Fatal(err)
		}
		return lf.file
	}
	same := func(name string, f *config.File) {
		t.Helper()
		if f.Detection != want.Detection || f.Visibility != want.Visibility {
			t.Errorf("%s:\n got %+v %+v\nwant %+v %+v", name, f.Detection, f.Visibility, want.Detection, want.Visibility)
		}
		h1, _ := config.Fingerprint(f.DetectConfig(), f.VisibilityConfig())
		h2, _ := config.Fingerprint(want.DetectConfig(), want.VisibilityConfig())
		if h1 != h2 {
			t.Errorf("%s: settings hash %s, want %s", name, h1, h2)
		}
	}
	same("replay --config", replayLoad("--config", path))
	same("replay flags", replayLoad(flags...))
	same("serve --config", serveLoad("--config", path))
	same("serve flags", serveLoad(flags...))
	// Flags override the file key by key: the rest stays the file's.
	f := replayLoad("--config", path, "--asn-drop", "0.6", "--lookback", "0s")
	if f.Detection.ASN.Drop != 0.6 || f.Detection.Lookback != 0 || f.Detection.ASN.Recover != 0.2 || f.Detection.MaxWithdrawn != 7 {
		t.Errorf("override: %+v", f.Detection)
	}
	g := serveLoad("--config", path, "--asn-drop", "0.6", "--lookback", "0s")
	if g.Detection != f.Detection || g.Visibility != f.Visibility {
		t.Errorf("serve override %+v, replay %+v", g.Detection, f.Detection)
	}
}

// TestReplayConfigEqualsFlags replays one archive with --config and with
// the equivalent flags: the same series, events (values and evidence) and
// stored settings.
func TestReplayConfigEqualsFlags(t *testing.T) {
	path, flags, want := settingsFile(t)
	byFile, byFlags, byDefault := storetest.New(t), storetest.New(t), storetest.New(t)
	replayScenario(t, byFile, "small", "--config", path)
	replayScenario(t, byFlags, "small", flags...)
	replayScenario(t, byDefault, "small")
	a, b := dumpDB(t, byFile), dumpDB(t, byFlags)
	if a != b {
		t.Fatalf("--config and flags differ: %s", storetest.FirstDiff(a, b))
	}
	var n int
	if err := byFile.Pool().QueryRow(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("no events replayed (%v)", err)
	}
	if c := dumpDB(t, byDefault); c == a {
		t.Error("the settings changed nothing: the test cannot tell them apart")
	}
	hash, values := config.Fingerprint(want.DetectConfig(), want.VisibilityConfig())
	q := `SELECT DISTINCT e.settings_hash || ' ' || s.settings::text FROM events e JOIN detection_settings s ON s.hash = e.settings_hash`
	for _, db := range []*struct{ name, dump string }{{"file", storetest.Dump(t, byFile, q)}, {"flags", storetest.Dump(t, byFlags, q)}} {
		if !strings.Contains(db.dump, hash) || strings.Count(db.dump, hash) != 1 {
			t.Errorf("%s: events' settings %q, want only %s", db.name, db.dump, hash)
		}
	}
	var stored []byte
	if err := byFile.Pool().QueryRow(t.Context(), `SELECT settings::text FROM detection_settings WHERE hash = $1`, hash).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"detection.max_withdrawn": 7`) || len(values) == 0 {
		t.Errorf("stored settings %s", stored)
	}
}
