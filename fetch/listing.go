package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// hrefRE finds the links of an HTML directory index (Apache, nginx and Go's
// http.FileServer all write <a href="name">).
var hrefRE = regexp.MustCompile(`(?i)href="([^"?#]+)"`)

// driftWindow is how far a RIB's name may be from its schedule and still
// count as that dump (real archives hold names such as 0759 or 0802).
const driftWindow = 15 * time.Minute

// ribAlternatives lists the RIBs that can stand in for a missing one: from
// the month directory's index page, those named within driftWindow of the
// expected time (nearest first), then earlier ones back to one period
// before (latest first). A RIB of the previous month is not looked for.
func (f *fetcher) ribAlternatives(ctx context.Context, it Item) ([]Item, error) {
	dirURL := it.URL[:strings.LastIndex(it.URL, "/")+1]
	names, err := f.listDir(ctx, dirURL)
	if err != nil {
		f.o.Logger.Warn("cannot list archive directory", "file", dirURL, "err", err)
		return nil, err
	}
	period := ribPeriod(f.o, it)
	project := archive.ProjectOf(it.Collector)
	var near, before []Item
	for _, n := range names {
		// A RIB of the collector's project named exactly as it names them.
		m := archive.ParseName(n)
		t := m.Time
		if m.Kind != archive.KindRIB || m.Collector != "" || t.IsZero() || t.Equal(it.Time) ||
			path.Base(project.Path(archive.KindRIB, t)) != n {
			continue
		}
		alt := Item{Collector: it.Collector, Kind: KindRIB, Time: t, URL: dirURL + n, Rel: path.Join(path.Dir(it.Rel), n)}
		d := t.Sub(it.Time)
		switch {
		case d.Abs() <= driftWindow:
			near = append(near, alt)
		case d < 0 && -d <= period+driftWindow:
			before = append(before, alt)
		}
	}
	sort.Slice(near, func(i, j int) bool { return near[i].Time.Sub(it.Time).Abs() < near[j].Time.Sub(it.Time).Abs() })
	sort.Slice(before, func(i, j int) bool { return before[i].Time.After(before[j].Time) })
	return append(near, before...), nil
}

// listDir reads an HTML directory index and returns the linked names.
func (f *fetcher) listDir(ctx context.Context, dirURL string) ([]string, error) {
	page, err := f.indexPage(ctx, dirURL)
	if err != nil {
		return nil, err
	}
	return parseIndex(page), nil
}

// listSubdirs reads an HTML directory index and returns the names of the
// directories it links to.
func (f *fetcher) listSubdirs(ctx context.Context, dirURL string) ([]string, error) {
	page, err := f.indexPage(ctx, dirURL)
	if err != nil {
		return nil, err
	}
	return parseSubdirs(page), nil
}

// indexPage fetches a directory index page (at most 32 MiB of it).
func (f *fetcher) indexPage(ctx context.Context, dirURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dirURL, nil)
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dirURL, err)
	}
	req.Header.Set("User-Agent", f.o.UserAgent)
	f.requests.Add(1)
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dirURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("list %s: HTTP %s", dirURL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dirURL, err)
	}
	return string(b), nil
}

// parseIndex extracts the base names linked from a directory index page.
func parseIndex(page string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(page, -1) {
		h := m[1]
		if strings.HasSuffix(h, "/") {
			continue
		}
		out = append(out, path.Base(h))
	}
	return out
}

// parseSubdirs extracts the base names of the directories linked from a
// directory index page ("rrc00/", "/rrc00/" or an absolute URL ending in
// /rrc00/ give rrc00), each once, without the parent.
func parseSubdirs(page string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(page, -1) {
		h := m[1]
		if i := strings.Index(h, "://"); i >= 0 {
			// An absolute URL: its path (after the host), if any.
			j := strings.IndexByte(h[i+3:], '/')
			if j < 0 {
				continue
			}
			h = h[i+3+j:]
		}
		h, ok := strings.CutSuffix(h, "/")
		if !ok {
			continue // a file
		}
		if n := path.Base(h); n != "." && n != ".." && n != "/" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
