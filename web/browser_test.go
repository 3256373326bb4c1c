package web_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// chromium finds Debian's Chromium, installing it with apt when running as
// root. Without it the test skips, unless CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			cmd := exec.Command("apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			if p, lerr := exec.LookPath("chromium"); lerr == nil {
				return p
			}
			t.Logf("apt-get install chromium: %v\n%s", err, out)
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed and could not be installed (scripts/install-deps installs it)")
	}
	t.Skip("chromium is not installed (scripts/install-deps installs it); skipping the browser test")
	return ""
}

// kazakhstan generates the kazakhstan-2022 demo archive, cut to the days
// around the shutdown to keep the test fast, and replays it into db.
func kazakhstan(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	sc, err := synth.Builtin("kazakhstan-2022")
	if err != nil {
		t.Fatal(err)
	}
	// Some hours of warm-up (the detector needs two) before the shutdown.
	sc.Start = time.Date(2022, 1, 5, 4, 0, 0, 0, time.UTC)
	sc.End = time.Date(2022, 1, 6, 13, 0, 0, 0, time.UTC)
	hs := sc.Happenings[:0]
	for _, h := range sc.Happenings {
		if !h.At.Before(sc.Start) && h.At.Before(sc.End) {
			hs = append(hs, h)
		}
	}
	sc.Happenings = hs
	dir := t.TempDir()
	t0 := time.Now()
	truth, err := synth.Generate(ctx, sc, dir, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d files in %s", len(truth.Files), time.Since(t0).Round(time.Millisecond))
	infos := make(map[bgpwatch.ASN]bgpwatch.ASNInfo)
	var list []bgpwatch.ASNInfo
	for _, n := range truth.Networks {
		in := bgpwatch.ASNInfo{ASN: n.ASN, Name: n.Name, Country: n.Country, Access: n.Access}
		infos[n.ASN] = in
		list = append(list, in)
	}
	if err := db.UpsertASNs(ctx, list); err != nil {
		t.Fatal(err)
	}
	files, err := ingest.Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.Config{
		Visibility: visibility.DefaultConfig(),
		Detect:     detect.DefaultConfig(),
		CountryOf:  func(a bgpwatch.ASN) string { return infos[a].Country },
		Info:       func(a bgpwatch.ASN) bgpwatch.ASNInfo { return infos[a] },
		Source:     store.SourceReplay,
	}, db)
	t0 = time.Now()
	sum, err := ingest.Replay(ctx, ingest.ReplayConfig{Files: files}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replayed %d observations in %s: %+v", sum.Observations, time.Since(t0).Round(time.Millisecond), sum.Pipeline)
}

// TestBrowser loads the country page of the Kazakhstan demo in headless
// Chromium, checks the rendered DOM for the chart and its event markers,
// and checks that the screenshot's chart area is drawn.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	db := storetest.New(t)
	kazakhstan(t, db)
	srv := newServer(t, db)

	// The demo must have produced what the page shows.
	evs, _, err := db.ListEvents(context.Background(), bgpwatch.EventFilter{Country: "KZ", Scope: bgpwatch.ScopeCountry})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no country events for KZ after the replay (%v)", err)
	}

	run := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir(), "--window-size=1280,900", "--virtual-time-budget=5000"}
		cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Logf("chromium stderr:\n%s", errb.String())
			return nil, err
		}
		return out.Bytes(), nil
	}
	page := srv.URL + "/#/country/KZ"
	shot := filepath.Join(t.TempDir(), "kz.png")
	if dir := os.Getenv("BGPWATCH_SCREENSHOT_DIR"); dir != "" {
		shot = filepath.Join(dir, "kz.png") // to look at it
	}
	var dom []byte
	var domErr, shotErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); dom, domErr = run("--dump-dom", page) }()
	go func() { defer wg.Done(); _, shotErr = run("--screenshot="+shot, page) }()
	wg.Wait()
	if domErr != nil || shotErr != nil {
		t.Fatalf("chromium: dump-dom %v, screenshot %v", domErr, shotErr)
	}

	html := string(dom)
	checks := []struct {
		name string
		re   string
		min  int
	}{
		{"inline chart svg", `<svg[^>]*class="bgpwatch-chart"`, 1},
		{"series path", `<path class="series"[^>]* d="M[^"]{200,}"`, 1},
		{"event rects", `<rect class="event"`, len(evs)},
		{"event labels", `<text class="event-label"`, 1},
		{"nationwide events rows", `<a href="#/event/\d+">`, len(evs)},
		{"networks table rows", `<tr data-asn="\d+">`, 3},
		{"Kaztelecom in the table", `KAZTELECOM-AS`, 1},
		// From /v1/countries/KZ/asns: visible /24s, baseline and change.
		{"networks with baselines", `<td class="num">[\d,]+</td><td class="num">[\d,]+</td><td class="num"><span`, 3},
		{"networks CSV link", `href="/v1/countries/KZ/asns\?at=[^"]+&amp;format=csv"`, 1},
	}
	for _, c := range checks {
		if n := len(regexp.MustCompile(c.re).FindAllStringIndex(html, -1)); n < c.min {
			t.Errorf("%s: %d matches of %s, want at least %d", c.name, n, c.re, c.min)
		}
	}
	if strings.Contains(html, `class="error"`) {
		t.Errorf("the page shows an error: %s", html[strings.Index(html, `class="error"`):][:300])
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", html)
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Fatalf("screenshot is %v, want 1280x900", b)
	}
	// The plot area of the chart on a 1280-wide page: count pixels that are
	// not (near) white. An empty chart has only thin grid lines there; the
	// drawn series fills its area and the events shade theirs.
	ink, total := 0, 0
	for y := 330; y < 670; y += 2 {
		for x := 230; x < 1100; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			total++
			if r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
				ink++
			}
		}
	}
	share := float64(ink) / float64(total)
	t.Logf("chart area: %.1f%% of %d sampled pixels drawn", 100*share, total)
	if share < 0.25 {
		t.Errorf("chart area mostly empty: %.1f%% drawn", 100*share)
	}
}
