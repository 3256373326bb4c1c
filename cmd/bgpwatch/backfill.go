package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/backfill"
	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
)

func init() {
	register(&command{name: "backfill", summary: "enqueue archive windows for worker processes (River), or show their status", run: runBackfill})
	register(&command{name: "worker", summary: "compute backfill windows queued by 'bgpwatch backfill'", run: runWorker})
}

const backfillDescription = `
Cuts [--from, --to) into windows of whole days (--window, default 24h) and
queues one job per window on River, the PostgreSQL job queue, in the
database. 'bgpwatch worker' processes — any number, on any machines that
reach the database and the PATHs (a shared file system or cache) — take the
jobs: each computes its window's bins as 'replay --from' would (every
collector starts from its RIB dump at the window's 00:00 UTC, which RIS and
RouteViews both write) and stores them. The worker that stores the last
window runs detection over the run's range (as 'bgpwatch detect' does).
Windows computed by separate workers give the series of one sequential
replay. A failed window is retried with back-off (--max-attempts); a worker
killed with kill -9 loses its window to another one after the worker's
--rescue-after.

PATHs, --delegations, --asn-info and --asn-names are as replay's; the
settings (--config and the flags) are the run's, carried by every job.
With --collectors (and --ris-url, --routeviews-url) each worker fetches its
window's RIB dumps and update files from the public archives into its own
--cache-dir instead (give --delegations: they are not fetched here; see
'bgpwatch fetch --delegations').

--status prints the runs: windows done, running, pending (and retrying),
failed, whether detection ran, and an ETA from the rate so far.`

func runBackfill(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "backfill", "--from TIME --to TIME [flags] PATH... | --status", backfillDescription)
	db := addDBFlags(fs, e)
	status := fs.Bool("status", false, "print the runs' progress instead")
	asJSON := fs.Bool("json", false, "with --status: one JSON array on stdout")
	from := fs.String("from", "", "start of the range (RFC 3339; its day's 00:00 UTC)")
	to := fs.String("to", "", "end of the range (RFC 3339)")
	window := fs.Duration("window", backfill.Day, "window `size`, whole days")
	maxAttempts := fs.Int("max-attempts", 5, "attempts per window before it is failed")
	notify := fs.Bool("notify", false, "queue webhook notices for the events detected at the end")
	rf := addRegistryFlags(fs)
	df := addDetectionFlags(fs, nil)
	arch := addArchiveSourceFlags(fs, e)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	conf, err := df.load(fs)
	if err != nil {
		return err
	}
	var windows [][2]time.Time
	if !*status {
		if fs.NArg() == 0 && !arch.selected() {
			return fmt.Errorf("%w: need at least one PATH or --collectors", errUsage)
		}
		fromT, toT, err := parseTimeRange(*from, *to)
		if err != nil {
			return err
		}
		if fromT.IsZero() || toT.IsZero() {
			return fmt.Errorf("%w: need --from and --to", errUsage)
		}
		if windows, err = backfill.Plan(fromT, toT, *window); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if *maxAttempts < 1 {
			return fmt.Errorf("%w: --max-attempts must be at least 1", errUsage)
		}
	}
	db.logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := backfill.Migrate(ctx, st.Pool()); err != nil {
		return err
	}
	if *status {
		return printBackfillStatus(ctx, e, st, *asJSON)
	}
	vc, dc := replaySettings(conf)
	run, err := backfill.Enqueue(ctx, st.Pool(), backfill.WindowArgs{
		Paths: absPaths(fs.Args()), Delegations: absPaths(rf.delegations), ASNInfo: absPath(rf.asnInfo), ASNNames: absPath(rf.asnNames),
		Visibility: vc, Detect: dc, Notify: *notify,
		Collectors: arch.collectorList(), RISURL: arch.risURL, RouteViewsURL: arch.rvURL,
	}, windows, *maxAttempts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "run %d: %d windows queued (%s to %s)\n", run, len(windows),
		windows[0][0].Format(time.RFC3339), windows[len(windows)-1][1].Format(time.RFC3339))
	return nil
}

// addArchiveSourceFlags registers the archive flags that backfill passes
// on to the workers: --collectors, --ris-url and --routeviews-url, as
// replay declares them. The others of replay's set (cache, downloads,
// delegation files) are the workers' own, so backfill does not take them.
func addArchiveSourceFlags(fs *flag.FlagSet, e *env) *archiveFlags {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	a := addArchiveFlags(all, e, true)
	for _, name := range []string{"collectors", "ris-url", "routeviews-url"} {
		f := all.Lookup(name)
		fs.Var(f.Value, f.Name, f.Usage)
	}
	return a
}

// printBackfillStatus is backfill --status: the runs' progress.
func printBackfillStatus(ctx context.Context, e *env, st *store.DB, asJSON bool) error {
	ss, err := backfill.Statuses(ctx, st.Pool())
	if err != nil {
		return err
	}
	if asJSON {
		if ss == nil {
			ss = []backfill.Status{}
		}
		return json.NewEncoder(e.stdout).Encode(ss)
	}
	for _, s := range ss {
		det := "no"
		if s.Detected {
			det = "yes"
		}
		fmt.Fprintf(e.stdout, "run %d %s..%s: %d windows: %d done, %d running, %d pending (%d retrying), %d failed; detected %s; ETA %s\n",
			s.Run, s.From.Format(time.DateOnly), s.To.Format(time.DateOnly), s.Windows, s.Done, s.Running, s.Pending, s.Retrying, s.Failed, det, s.ETA.Round(time.Second))
	}
	return nil
}

const workerDescription = `
Takes the windows 'bgpwatch backfill' queued (River jobs in the database)
and computes them, --concurrency at a time, until SIGINT or SIGTERM. A
window is computed with its run's settings (given to 'backfill'); with
--config or settings flags the worker takes only windows of runs with the
same settings and gives the others back to the queue. Run as
many as the archives' host and the database allow, on any machines. A
window running longer than --job-timeout is cancelled and retried; one whose
worker died (kill -9, a lost machine) is handed to another worker after
--rescue-after (River's rescuer looks every 30 s).`

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "worker", "[flags]", workerDescription)
	db := addDBFlags(fs, e)
	conc := fs.Int("concurrency", 1, "windows computed at once")
	jobTimeout := fs.Duration("job-timeout", 6*time.Hour, "cancel a window after this long and retry it (River's rescuer also needs it to pass before it hands a dead worker's window on)")
	rescue := fs.Duration("rescue-after", 0, "hand a window whose worker died to another after this long running (default job timeout + 1h)")
	retry := fs.Duration("retry-base", 10*time.Second, "back-off before a failed window's first retry, doubled each time")
	verbose := fs.Bool("v", true, "log every window")
	cacheDir := fs.String("cache-dir", fetch.DefaultCacheDir(e.getenv), "download cache `directory` for runs queued with --collectors")
	df := addDetectionFlags(fs, nil)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	conf, err := df.load(fs)
	if err != nil {
		return err
	}
	// With --config or a settings flag, the worker only takes windows of
	// runs with the same settings (the run's settings are the ones used).
	var own string
	if df.given(fs) {
		vc, dc := replaySettings(conf)
		own, _ = config.Fingerprint(dc, vc)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *conc < 1 {
		return fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
	}
	if *jobTimeout <= 0 {
		return fmt.Errorf("%w: --job-timeout must be positive", errUsage)
	}
	if *rescue != 0 && *rescue <= *jobTimeout {
		return fmt.Errorf("%w: --rescue-after must be longer than --job-timeout", errUsage)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	db.logger = log
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := backfill.Migrate(ctx, st.Pool()); err != nil {
		return err
	}
	log.Info("worker started", "concurrency", *conc)
	return backfill.Run(ctx, backfill.Config{
		Pool: st.Pool(), Concurrency: *conc, JobTimeout: *jobTimeout, RescueAfter: *rescue, RetryBase: *retry, Logger: log,
		Window: func(ctx context.Context, a backfill.WindowArgs) error {
			return replayWindow(ctx, st, a, *cacheDir, log)
		},
		Detect: func(ctx context.Context, a backfill.WindowArgs) error { return detectRun(ctx, st, a) },
		Accept: func(a backfill.WindowArgs) error {
			if own == "" {
				return nil
			}
			if h, _ := config.Fingerprint(a.Detect, a.Visibility); h != own {
				return fmt.Errorf("run %d has other settings (%s) than this worker's --config and flags (%s)", a.Run, h, own)
			}
			return nil
		},
	})
}

// eventless stores a window's bins and drops its events: a window's
// detector starts cold at its first day, so detection runs over the whole
// run once its windows are stored.
type eventless struct{ st *store.DB }

func (s eventless) WriteBins(ctx context.Context, b *store.SeriesBatch) error {
	return s.st.WriteBins(ctx, b)
}

func (eventless) SaveEvent(context.Context, *bgpwatch.Event, string, bool) (int64, error) {
	return 0, nil
}

// replayWindow computes and stores one window's bins.
func replayWindow(ctx context.Context, st *store.DB, a backfill.WindowArgs, cacheDir string, log *slog.Logger) error {
	reg, err := loadRegistry(a.Delegations, a.ASNInfo, a.ASNNames)
	if err != nil {
		return err
	}
	paths := a.Paths
	if len(a.Collectors) > 0 {
		fetched, err := fetchWindow(ctx, a, cacheDir, log)
		if err != nil {
			return err
		}
		paths = append(slices.Clone(paths), fetched...)
	}
	files, err := ingest.Discover(paths)
	if err != nil {
		return err
	}
	files = ingest.SelectWindow(files, a.From, a.To)
	if len(files) == 0 {
		return fmt.Errorf("window %s: no input files", a.From.Format(time.DateOnly))
	}
	if infos := reg.all(); len(infos) > 0 {
		if err := st.UpsertASNs(ctx, infos); err != nil {
			return err
		}
	}
	p := ingest.New(ingest.Config{
		Visibility: a.Visibility, Detect: a.Detect, CountryOf: reg.countryOf, Info: reg.info,
		WriteFrom: a.From, Source: store.SourceReplay, Exclusive: true, Logger: log,
	}, eventless{st})
	_, err = ingest.Replay(ctx, ingest.ReplayConfig{Files: files, From: a.From, To: a.To, Logger: log}, p)
	return err
}

// fetchWindow fetches the window's files of a.Collectors into cacheDir
// (files already there are not fetched again) and returns them.
func fetchWindow(ctx context.Context, a backfill.WindowArgs, cacheDir string, log *slog.Logger) ([]string, error) {
	o := fetch.Options{
		RISURL: cmp.Or(a.RISURL, fetch.DefaultRISURL), RouteViewsURL: cmp.Or(a.RouteViewsURL, fetch.DefaultRouteViewsURL),
		Registries: fetch.DefaultRegistries(), CacheDir: cacheDir, Parallel: 4, UserAgent: "bgpwatch/" + version, Logger: log,
	}
	items, err := fetch.Select(o, a.Collectors, a.From, a.To)
	if err != nil {
		return nil, err
	}
	_, rep, err := fetch.Fetch(ctx, o, items)
	if err != nil {
		return nil, fmt.Errorf("window %s: fetch: %w", a.From.Format(time.DateOnly), err)
	}
	var out []string
	for _, f := range rep.Files {
		if f.Local != "" && f.Kind != fetch.KindDelegation {
			out = append(out, f.Local)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("window %s: no archive files could be fetched for %v", a.From.Format(time.DateOnly), a.Collectors)
	}
	return out, nil
}

// detectRun recomputes and stores the events of a run's range.
func detectRun(ctx context.Context, st *store.DB, a backfill.WindowArgs) error {
	r, err := redetect(ctx, st, redetectQuery{Source: store.SourceReplay, From: a.RunFrom, To: a.RunTo, Follow: 7 * 24 * time.Hour, Detect: a.Detect})
	if err != nil {
		return err
	}
	hash, err := putSettings(ctx, st, a.Detect, a.Visibility)
	if err != nil {
		return err
	}
	for i := range r.Events {
		r.Events[i].SettingsHash = hash
	}
	_, err = st.ReplaceEvents(ctx, store.EventReplacement{Source: store.SourceReplay, From: a.RunFrom, To: a.RunTo, Events: r.Events, Notify: a.Notify})
	return err
}

// absPath makes a path absolute, as workers may run elsewhere ("" stays).
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func absPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = absPath(p)
	}
	return out
}
