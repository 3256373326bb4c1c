package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch/fetch"
)

func init() {
	register(&command{name: "fetch", summary: "download public MRT archives, RIR files and network metadata", run: runFetch})
}

const fetchHelp = `
Downloads what a replay of a time window needs from the public archives into
a local cache that mirrors their layout, so that 'bgpwatch replay CACHE_DIR'
(or 'bgpwatch replay --collectors ... --from ... --to ...') reads it.

For each collector: the latest RIB dump at or before --from and every
updates file from that dump's time until --to.
  RIPE RIS (rrcNN)       RIS_URL/rrcNN/YYYY.MM/bview.YYYYMMDD.HHMM.gz  (00/08/16h)
                         RIS_URL/rrcNN/YYYY.MM/updates.YYYYMMDD.HHMM.gz (5 min)
  RouteViews route-views2 at the archive root, the others under their name:
                         RV_URL/[NAME/]bgpdata/YYYY.MM/RIBS/rib.YYYYMMDD.HHMM.bz2 (2 h)
                         RV_URL/[NAME/]bgpdata/YYYY.MM/UPDATES/updates.YYYYMMDD.HHMM.bz2 (15 min)
  The cache holds them as CACHE/rrcNN/YYYY.MM/... and CACHE/NAME/bgpdata/...

A RIB missing under its scheduled name is looked up in the month directory's
index page (collectors sometimes write 0759 or 0802): the nearest within 15
minutes, else the previous dump. Any other file missing upstream is reported
and skipped (collectors have gaps); a file older than two days that is
missing is remembered (hidden .NAME.missing file) and not asked for again
unless --retry-missing.

With --delegations, the five RIRs' extended delegation files for --date
(default: the day of --from, else yesterday) go to CACHE/rir/REGISTRY/,
decompressed; a registry without a file that day gets its latest file of
the seven days before.

Downloads go to a hidden .NAME.part file, resume with an HTTP Range request
(restarting when the server ignores it), and get their final name only after
verification: the file decompresses cleanly and every MRT record is framed
correctly (delegation files: every line is a delegation row). A file that
fails twice is reported as failed. Files already in the cache are used
without any request, so a second run downloads nothing. Busy servers (429,
5xx) are retried with exponential back-off honouring Retry-After.

Progress goes to stderr (a live line on a terminal); the summary too, or to
stdout as JSON with --json. Exit status 1 when a file failed; missing files
are not an error.

With --metadata, the public network metadata (APNIC's AS population
estimates, PeeringDB's net objects, CAIDA's AS classification and
AS-to-organisation files; URLs by --apnic-url, --peeringdb-url,
--caida-types-url, --caida-orgs-url, "none" to skip one) goes to
CACHE/metadata/ and is imported into the database (--db, --data-dir);
--metadata-dir DIR imports saved copies of the same files instead, offline.
A dataset that fails to download or parse, or that has less than half the
rows of the previous import, keeps the previous data (the reason is
printed).

Examples:
  bgpwatch fetch --metadata
  bgpwatch fetch --metadata-dir ./saved-metadata
  bgpwatch fetch --collectors rrc00,route-views2 --from 2022-01-04T00:00:00Z --to 2022-01-07T00:00:00Z --delegations
  bgpwatch fetch --delegations --date 2022-01-04
  bgpwatch fetch --dry-run --collectors rrc00 --from 2022-01-05T00:00:00Z --to 2022-01-05T01:00:00Z`

// archiveFlags are the flags that select and fetch files from the public
// archives; fetch and replay share them.
type archiveFlags struct {
	collectors   string
	dir          string
	risURL       string
	rvURL        string
	rirURL       string
	rir          stringList
	parallel     int
	retryMissing bool
	delegDate    string
}

// addArchiveFlags registers the archive flags. replay gets the cache
// directory as --cache-dir and the delegation date as --delegations-date;
// fetch has --dir (and --cache-dir) and --date.
func addArchiveFlags(fs *flag.FlagSet, e *env, replay bool) *archiveFlags {
	a := &archiveFlags{}
	cache := fetch.DefaultCacheDir(e.getenv)
	fs.StringVar(&a.collectors, "collectors", "", "comma-separated `collectors` to fetch from the public archives (rrc00, route-views2, route-views.linx, ...)")
	fs.StringVar(&a.dir, "cache-dir", cache, "download cache `directory` (BGPWATCH_CACHE_DIR, else $XDG_CACHE_HOME/bgpwatch, else ~/.cache/bgpwatch)")
	if !replay {
		fs.StringVar(&a.dir, "dir", cache, "same as --cache-dir")
	}
	fs.StringVar(&a.risURL, "ris-url", envOr(e, "BGPWATCH_RIS_URL", fetch.DefaultRISURL), "RIPE RIS archive `URL` (BGPWATCH_RIS_URL)")
	fs.StringVar(&a.rvURL, "routeviews-url", envOr(e, "BGPWATCH_ROUTEVIEWS_URL", fetch.DefaultRouteViewsURL), "RouteViews archive `URL` (BGPWATCH_ROUTEVIEWS_URL)")
	fs.StringVar(&a.rirURL, "rir-url", e.getenv("BGPWATCH_RIR_URL"), "mirror `URL` serving all five RIRs' files under their usual paths (BGPWATCH_RIR_URL)")
	fs.Var(&a.rir, "rir", "one registry's delegation file location as `name=URL-template` with {yyyy} and {date} (YYYYMMDD); repeatable")
	fs.IntVar(&a.parallel, "parallel", 4, "simultaneous `downloads`")
	fs.BoolVar(&a.retryMissing, "retry-missing", false, "ask again for files remembered as missing upstream")
	if replay {
		fs.StringVar(&a.delegDate, "delegations-date", "", "with --collectors: `day` (YYYY-MM-DD) of the RIR delegation files to fetch (default: the day of --from; \"none\" to skip; skipped when --delegations is given)")
	} else {
		fs.StringVar(&a.delegDate, "date", "", "`day` (YYYY-MM-DD) of the delegation files (default: the day of --from, else yesterday)")
	}
	return a
}

func envOr(e *env, k, def string) string {
	if v := e.getenv(k); v != "" {
		return v
	}
	return def
}

// selected reports whether --collectors was given.
func (a *archiveFlags) selected() bool { return strings.TrimSpace(a.collectors) != "" }

func (a *archiveFlags) options(log *slog.Logger) (fetch.Options, error) {
	regs := fetch.DefaultRegistries()
	var err error
	if a.rirURL != "" {
		if regs, err = fetch.MirrorRegistries(a.rirURL, regs); err != nil {
			return fetch.Options{}, fmt.Errorf("%w: --rir-url: %v", errUsage, err)
		}
	}
	for _, spec := range a.rir {
		if regs, err = fetch.SetRegistry(regs, spec); err != nil {
			return fetch.Options{}, fmt.Errorf("%w: --rir: %v", errUsage, err)
		}
	}
	if a.parallel < 1 || a.parallel > 32 {
		return fetch.Options{}, fmt.Errorf("%w: --parallel must be 1..32", errUsage)
	}
	return fetch.Options{
		RISURL: a.risURL, RouteViewsURL: a.rvURL, Registries: regs, CacheDir: a.dir,
		Parallel: a.parallel, UserAgent: "bgpwatch/" + version, RetryMissing: a.retryMissing,
		Logger: log,
	}, nil
}

// collectorList splits --collectors.
func (a *archiveFlags) collectorList() []string {
	var out []string
	for _, c := range strings.Split(a.collectors, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// delegationDay is the day of the delegation files: --date, else the day
// of from, else yesterday.
func (a *archiveFlags) delegationDay(from time.Time, now time.Time) (time.Time, error) {
	if a.delegDate != "" {
		d, err := time.Parse("2006-01-02", a.delegDate)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: delegations date %q: want YYYY-MM-DD", errUsage, a.delegDate)
		}
		return d, nil
	}
	if !from.IsZero() {
		return from.UTC().Truncate(24 * time.Hour), nil
	}
	return now.UTC().AddDate(0, 0, -1).Truncate(24 * time.Hour), nil
}

// fetchForReplay downloads (or finds in the cache) what a replay of
// [from, to) needs and returns the MRT files and, unless withDelegations is
// false or --delegations-date is "none", the delegation files of the day.
// Progress and the summary go to stderr.
func (a *archiveFlags) fetchForReplay(ctx context.Context, e *env, from, to time.Time, withDelegations bool) (mrtFiles, delegations []string, err error) {
	if from.IsZero() || to.IsZero() {
		return nil, nil, fmt.Errorf("%w: --collectors needs --from and --to", errUsage)
	}
	o, err := a.options(nil)
	if err != nil {
		return nil, nil, err
	}
	items, err := fetch.Select(o, a.collectorList(), from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if withDelegations && a.delegDate != "none" {
		day, err := a.delegationDay(from, time.Now())
		if err != nil {
			return nil, nil, err
		}
		items = append(items, fetch.SelectDelegations(o, day)...)
	}
	rep, err := runFetchItems(ctx, e, o, items)
	if rep != nil {
		printFetchSummary(e.stderr, rep)
		for _, f := range rep.Files {
			switch {
			case f.Local == "":
			case f.Kind == fetch.KindDelegation:
				delegations = append(delegations, f.Local)
			default:
				mrtFiles = append(mrtFiles, f.Local)
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if len(mrtFiles) == 0 {
		return nil, nil, fmt.Errorf("no archive files could be fetched for %s", a.collectors)
	}
	return mrtFiles, delegations, nil
}

// runFetchItems fetches items with a progress display on stderr.
func runFetchItems(ctx context.Context, e *env, o fetch.Options, items []fetch.Item) (*fetch.Report, error) {
	tty := isTerminal(e.stderr)
	pl := &progressLine{w: e.stderr, tty: tty}
	o.Logger = slog.New(slog.NewTextHandler(&clearingWriter{w: e.stderr, p: pl}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o.ProgressEvery = 5 * time.Second
	if tty {
		o.ProgressEvery = 500 * time.Millisecond
	}
	o.Progress = func(p fetch.Progress) {
		if p.Done {
			pl.clear()
			return
		}
		line := fetchProgressLine(p)
		if tty {
			fmt.Fprintf(e.stderr, "\r%s\x1b[K", line)
			pl.shown = true
			return
		}
		fmt.Fprintln(e.stderr, line)
	}
	_, rep, err := fetch.Fetch(ctx, o, items)
	return rep, err
}

func fetchProgressLine(p fetch.Progress) string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Bytes) / s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fetch: %d/%d files (fetched %d, cached %d, missing %d, failed %d), %s at %s/s",
		p.FilesDone, p.FilesTotal, p.Fetched, p.Cached, p.Missing, p.Failed, bytesHuman(p.Bytes), bytesHuman(int64(rate)))
	sort.Slice(p.Active, func(i, j int) bool { return p.Active[i].Name < p.Active[j].Name })
	for _, a := range p.Active {
		if a.Total > 0 {
			fmt.Fprintf(&b, "; %s %.0f%%", a.Name, 100*float64(a.Done)/float64(a.Total))
		} else {
			fmt.Fprintf(&b, "; %s %s", a.Name, bytesHuman(a.Done))
		}
	}
	return b.String()
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func printFetchSummary(w io.Writer, r *fetch.Report) {
	fmt.Fprintf(w, "fetch: %d files: %d fetched, %d cached, %d missing, %d failed; %s downloaded in %s\n",
		len(r.Files), r.Fetched, r.Cached, r.Missing, r.Failed, bytesHuman(r.Bytes), r.Elapsed.Round(time.Millisecond))
	shown := 0
	for _, f := range r.Files {
		if f.Resolved != nil {
			fmt.Fprintf(w, "  %s: used %s instead\n", path.Base(f.Rel), path.Base(f.Resolved.Rel))
		}
		if f.Status != fetch.StatusMissing && f.Status != fetch.StatusFailed {
			continue
		}
		if shown++; shown > 50 {
			continue
		}
		fmt.Fprintf(w, "  %s %s: %s\n", f.Status, f.URL, f.Error)
	}
	if shown > 50 {
		fmt.Fprintf(w, "  ... %d more missing or failed (see --json)\n", shown-50)
	}
}

func runFetch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fetch", "--collectors LIST --from T --to T [--delegations] [flags] | --delegations [--date D]", fetchHelp)
	a := addArchiveFlags(fs, e, false)
	from := fs.String("from", "", "start of the window (RFC 3339)")
	to := fs.String("to", "", "end of the window (RFC 3339)")
	deleg := fs.Bool("delegations", false, "also fetch the five RIRs' delegation files (for --date)")
	dry := fs.Bool("dry-run", false, "list what would be fetched (and what is cached) without any request")
	asJSON := fs.Bool("json", false, "print the summary (or with --dry-run the list) as JSON on stdout")
	meta := addMetaFlags(fs, e, true)
	db := addDBFlags(fs, e)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if !a.selected() && !*deleg && !meta.any() {
		return fmt.Errorf("%w: need --collectors with --from and --to, --delegations, --metadata or --metadata-dir", errUsage)
	}
	meta.cacheDir = a.dir
	if meta.any() {
		if *dry {
			meta.printDryRun(e.stdout)
		} else if err := fetchMetadata(ctx, e, meta, db); err != nil {
			return err
		}
		if !a.selected() && !*deleg {
			return nil
		}
	}
	fromT, toT, err := parseTimeRange(*from, *to)
	if err != nil {
		return err
	}
	o, err := a.options(nil)
	if err != nil {
		return err
	}
	var items []fetch.Item
	if a.selected() {
		if fromT.IsZero() || toT.IsZero() {
			return fmt.Errorf("%w: --collectors needs --from and --to", errUsage)
		}
		if items, err = fetch.Select(o, a.collectorList(), fromT, toT); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if *deleg {
		day, err := a.delegationDay(fromT, time.Now())
		if err != nil {
			return err
		}
		items = append(items, fetch.SelectDelegations(o, day)...)
	}
	if *dry {
		return printDryRun(e, o, items, *asJSON)
	}
	rep, err := runFetchItems(ctx, e, o, items)
	if rep != nil {
		if *asJSON {
			if jerr := json.NewEncoder(e.stdout).Encode(rep); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			printFetchSummary(e.stderr, rep)
			fmt.Fprintf(e.stderr, "cache: %s\n", o.CacheDir)
		}
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d files failed", rep.Failed)
	}
	return nil
}

func printDryRun(e *env, o fetch.Options, items []fetch.Item, asJSON bool) error {
	type row struct {
		fetch.Item
		Local  string `json:"local"`
		Cached bool   `json:"cached"`
	}
	rows := make([]row, 0, len(items))
	cached := 0
	for _, it := range items {
		p, ok := o.CachedPath(it)
		if ok {
			cached++
		}
		rows = append(rows, row{Item: it, Local: p, Cached: ok})
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"files": rows, "cached": cached, "to_fetch": len(rows) - cached})
	}
	for _, r := range rows {
		state := "fetch "
		if r.Cached {
			state = "cached"
		}
		fmt.Fprintf(e.stdout, "%s %s -> %s\n", state, r.URL, r.Local)
	}
	fmt.Fprintf(e.stderr, "fetch: %d files, %d cached, %d to fetch (missing RIBs are looked up in the month's index when fetched)\n", len(rows), cached, len(rows)-cached)
	return nil
}
