// Package backfill spreads the replay of years of archives over any number
// of worker processes, on River (the PostgreSQL job queue) in bgpwatch's
// own database: a run is cut into windows of whole days, one River job per
// window; a worker computes a window's bins as a replay with --from would
// (each collector starts from its RIB dump at the window's 00:00) and
// stores them; the worker that stores the last window of a run runs
// detection over the run's range (a failed detection fails that window's
// job, whose retry detects again). A worker killed with kill -9 leaves its
// job running in River until River's rescuer hands it to another worker
// (Config.RescueAfter); a failed window is retried with back-off.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// Day is the window unit: windows start at 00:00 UTC, where every
// collector has a RIB dump (RIS every 8 h, RouteViews every 2 h) and the
// stored ASN series have their daily key frame, so a window's rows are
// exactly those of one sequential replay.
const Day = 24 * time.Hour

// WindowArgs is one window's job.
type WindowArgs struct {
	Run  int64     `json:"run"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// RunFrom and RunTo are the run's range, for the detection at the end.
	RunFrom time.Time `json:"run_from"`
	RunTo   time.Time `json:"run_to"`
	// Paths are the archive files or directories (as replay's PATHs),
	// reachable from every worker (a shared file system or cache).
	Paths []string `json:"paths,omitempty"`
	// Collectors, when set, are fetched from the public archives (RISURL,
	// RouteViewsURL; empty: the defaults) into the worker's own cache:
	// the window's RIB dumps and update files.
	Collectors    []string `json:"collectors,omitempty"`
	RISURL        string   `json:"ris_url,omitempty"`
	RouteViewsURL string   `json:"routeviews_url,omitempty"`
	Delegations   []string `json:"delegations,omitempty"`
	ASNInfo       string   `json:"asn_info,omitempty"`
	ASNNames      string   `json:"asn_names,omitempty"`
	// Visibility and Detect are the run's settings.
	Visibility visibility.Config `json:"visibility"`
	Detect     detect.Config     `json:"detect"`
	// Notify queues webhook notices for the events detected at the end.
	Notify bool `json:"notify,omitempty"`
}

// Kind is the River job kind of a window.
func (WindowArgs) Kind() string { return "bgpwatch_backfill_window" }

// Migrate applies River's own migrations (its tables, in the same
// database) with River's migrator.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("backfill: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("backfill: river migrations: %w", err)
	}
	return nil
}

// Plan cuts [from, to) into windows of size (a multiple of Day), from
// from's day on.
func Plan(from, to time.Time, size time.Duration) ([][2]time.Time, error) {
	if size <= 0 || size%Day != 0 {
		return nil, fmt.Errorf("%w window %s: want whole days", bgpwatch.ErrInvalid, size)
	}
	from, to = from.UTC().Truncate(Day), to.UTC()
	if !to.After(from) {
		return nil, fmt.Errorf("%w range: --to must be after --from", bgpwatch.ErrInvalid)
	}
	var out [][2]time.Time
	for t := from; t.Before(to); t = t.Add(size) {
		out = append(out, [2]time.Time{t, minTime(t.Add(size), to)})
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Enqueue records a run and inserts one job per window (template's Run,
// From, To, RunFrom and RunTo are set here), in one transaction. It
// returns the run's id.
func Enqueue(ctx context.Context, pool *pgxpool.Pool, template WindowArgs, windows [][2]time.Time, maxAttempts int) (int64, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	if err != nil {
		return 0, fmt.Errorf("backfill: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after commit
	var run int64
	runFrom, runTo := windows[0][0], windows[len(windows)-1][1]
	if err := tx.QueryRow(ctx, `INSERT INTO backfill_runs (from_time, to_time) VALUES ($1, $2) RETURNING id`, runFrom, runTo).Scan(&run); err != nil {
		return 0, fmt.Errorf("backfill: run: %w", err)
	}
	params := make([]river.InsertManyParams, 0, len(windows))
	for _, w := range windows {
		a := template
		a.Run, a.From, a.To, a.RunFrom, a.RunTo = run, w[0], w[1], runFrom, runTo
		if _, err := tx.Exec(ctx, `INSERT INTO backfill_windows (run_id, window_start, window_end) VALUES ($1, $2, $3)`, run, w[0], w[1]); err != nil {
			return 0, fmt.Errorf("backfill: window: %w", err)
		}
		params = append(params, river.InsertManyParams{Args: a, InsertOpts: &river.InsertOpts{MaxAttempts: maxAttempts}})
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return 0, fmt.Errorf("backfill: enqueue: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("backfill: commit: %w", err)
	}
	return run, nil
}

// WindowFunc computes and stores one window's bins.
type WindowFunc func(ctx context.Context, a WindowArgs) error

// DetectFunc runs detection over a stored range.
type DetectFunc func(ctx context.Context, a WindowArgs) error

// Config configures a worker process.
type Config struct {
	Pool *pgxpool.Pool
	// Concurrency is the number of windows worked on at once (default 1).
	Concurrency int
	// JobTimeout cancels a window that runs longer (default 6 h). River's
	// rescuer leaves a running window alone until it has passed.
	JobTimeout time.Duration
	// RescueAfter: a window running this long (its worker killed, say) is
	// handed to another worker by River's rescuer (default JobTimeout + 1 h;
	// River's rescuer looks every 30 s).
	RescueAfter time.Duration
	// RetryBase is the first retry's back-off, doubled per attempt (default
	// 10 s).
	RetryBase time.Duration
	Window    WindowFunc
	Detect    DetectFunc
	// Accept, when set, vets a window before it is worked on: an error
	// gives the window back (snoozed for a minute, no attempt used), so
	// that another worker takes it. The worker uses it to refuse runs whose
	// settings differ from its own --config.
	Accept func(a WindowArgs) error
	Logger *slog.Logger
}

// worker is the River worker of windows.
type worker struct {
	river.WorkerDefaults[WindowArgs]
	cfg Config
}

func (w *worker) Work(ctx context.Context, job *river.Job[WindowArgs]) error {
	a := job.Args
	log := w.cfg.Logger.With("run", a.Run, "window", a.From.Format(time.DateOnly), "attempt", job.Attempt)
	if w.cfg.Accept != nil {
		if err := w.cfg.Accept(a); err != nil {
			log.Warn("window given back", "err", err)
			return river.JobSnooze(time.Minute)
		}
	}
	if _, err := w.cfg.Pool.Exec(ctx, `UPDATE backfill_windows SET started_at = coalesce(started_at, now()) WHERE run_id = $1 AND window_start = $2`, a.Run, a.From); err != nil {
		return err
	}
	log.Info("window started")
	began := time.Now()
	if err := w.cfg.Window(ctx, a); err != nil {
		log.Warn("window failed", "err", err)
		return err
	}
	last, err := markDone(ctx, w.cfg.Pool, a.Run, a.From)
	if err != nil {
		return err
	}
	log.Info("window stored", "took", time.Since(began).Round(time.Millisecond))
	if !last {
		return nil
	}
	log.Info("all windows stored: detecting over the run's range", "from", a.RunFrom, "to", a.RunTo)
	if err := w.cfg.Detect(ctx, a); err != nil {
		return fmt.Errorf("backfill: detection over run %d: %w", a.Run, err)
	}
	if _, err := w.cfg.Pool.Exec(ctx, `UPDATE backfill_runs SET detected_at = now() WHERE id = $1`, a.Run); err != nil {
		return fmt.Errorf("backfill: run %d detected: %w", a.Run, err)
	}
	log.Info("run detected")
	return nil
}

// NextRetry: doubling back-off from RetryBase.
func (w *worker) NextRetry(job *river.Job[WindowArgs]) time.Time {
	d := w.cfg.RetryBase << min(job.Attempt-1, 10)
	return time.Now().Add(d)
}

// markDone records a stored window and reports whether the run has no
// window left and no detection yet. Under the run's row lock, only the
// window stored last sees none left; a retry of it (its worker died during
// the detection) sees the same and detects again (detection is
// idempotent), and so does, at worst, a duplicate run of a window River
// rescued while it still ran.
func markDone(ctx context.Context, pool *pgxpool.Pool, run int64, from time.Time) (bool, error) {
	var last bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE backfill_windows SET done_at = now() WHERE run_id = $1 AND window_start = $2`, run, from); err != nil {
			return err
		}
		var detected *time.Time
		if err := tx.QueryRow(ctx, `SELECT detected_at FROM backfill_runs WHERE id = $1 FOR UPDATE`, run).Scan(&detected); err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM backfill_windows WHERE run_id = $1 AND done_at IS NULL`, run).Scan(&pending); err != nil {
			return err
		}
		last = pending == 0 && detected == nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("backfill: mark window done: %w", err)
	}
	return last, nil
}

// Run works on windows until ctx ends, then stops (windows being worked
// on are cancelled and retried elsewhere).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 6 * time.Hour
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = cfg.JobTimeout + time.Hour
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{cfg: cfg})
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Concurrency}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		Logger:               cfg.Logger.With("component", "river"),
		FetchPollInterval:    time.Second,
	})
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("backfill: start: %w", err)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := client.StopAndCancel(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("backfill: stop: %w", err)
	}
	return nil
}

// Status is the state of a run's windows.
type Status struct {
	Run       int64         `json:"run"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Windows   int           `json:"windows"`
	Done      int           `json:"done"`
	Running   int           `json:"running"`
	Pending   int           `json:"pending"`  // available or scheduled (retries)
	Retrying  int           `json:"retrying"` // of Pending: failed at least once
	Failed    int           `json:"failed"`   // discarded after the last attempt
	Detected  bool          `json:"detected"`
	ETA       time.Duration `json:"-"`
	ETASecond float64       `json:"eta_seconds"`
	StartedAt time.Time     `json:"started_at,omitzero"`
}

// Statuses returns the state of the runs (the latest first), from the
// windows table and River's jobs.
func Statuses(ctx context.Context, pool *pgxpool.Pool) ([]Status, error) {
	rows, err := pool.Query(ctx, `
		SELECT r.id, r.from_time, r.to_time, r.detected_at IS NOT NULL,
		       count(w.*), count(w.done_at), min(w.started_at),
		       coalesce(sum(CASE WHEN w.done_at IS NOT NULL THEN extract(epoch FROM w.done_at - w.started_at) END), 0)
		FROM backfill_runs r LEFT JOIN backfill_windows w ON w.run_id = r.id
		GROUP BY r.id ORDER BY r.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("backfill status: %w", err)
	}
	type runRow struct {
		s    Status
		busy float64 // seconds of window work done
	}
	var runs []runRow
	var started *time.Time
	for rows.Next() {
		var r runRow
		if err := rows.Scan(&r.s.Run, &r.s.From, &r.s.To, &r.s.Detected, &r.s.Windows, &r.s.Done, &started, &r.busy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("backfill status: %w", err)
		}
		if started != nil {
			r.s.StartedAt = started.UTC()
		}
		r.s.From, r.s.To = r.s.From.UTC(), r.s.To.UTC()
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backfill status: %w", err)
	}
	out := make([]Status, 0, len(runs))
	for _, r := range runs {
		s := r.s
		jrows, err := pool.Query(ctx, `SELECT state, attempt, count(*) FROM river_job
			WHERE kind = $1 AND (args->>'run')::bigint = $2 GROUP BY state, attempt`, WindowArgs{}.Kind(), s.Run)
		if err != nil {
			return nil, fmt.Errorf("backfill status: jobs: %w", err)
		}
		var state string
		var attempt, n int
		_, err = pgx.ForEachRow(jrows, []any{&state, &attempt, &n}, func() error {
			switch state {
			case "running":
				s.Running += n
			case "available", "scheduled", "retryable", "pending":
				s.Pending += n
				if attempt > 0 {
					s.Retrying += n
				}
			case "discarded", "cancelled":
				s.Failed += n
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("backfill status: jobs: %w", err)
		}
		// ETA: the windows left at the rate the run has gone so far.
		if s.Done > 0 && !s.StartedAt.IsZero() {
			rate := time.Since(s.StartedAt) / time.Duration(s.Done)
			s.ETA = rate * time.Duration(s.Windows-s.Done-s.Failed)
			s.ETASecond = s.ETA.Seconds()
		}
		out = append(out, s)
	}
	return out, nil
}
