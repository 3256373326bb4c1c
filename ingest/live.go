package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
)

// Driven is the processing chain Live drives; *Pipeline implements it.
// Live is its only caller, from one goroutine.
type Driven interface {
	Observe(ctx context.Context, o *bgpwatch.Observation) error
	Advance(ctx context.Context, t time.Time) error
	Close(ctx context.Context) error
	Stats() Stats
}

// Recorder receives ingest counters for /metrics; *api.Metrics implements it.
type Recorder interface {
	AddObservations(source string, n int)
	AddBins(source string, n int)
	AddEvents(source string, n int)
	SetLastObservation(source string, t time.Time)
}

// LiveConfig configures a Live runner.
type LiveConfig struct {
	// Tick is how often bins are closed and written; 0 means 1 s.
	Tick time.Duration
	// Ticks, when set, replaces the ticker (tests drive the clock).
	Ticks <-chan time.Time
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Lateness is how far behind its newest observation a data-time feed
	// may still deliver (RIS Live's messages of one collector are not
	// strictly in time order): a bin closes once every data-time feed has
	// delivered an observation Lateness past the bin's end. 0 means 10 s;
	// negative means none.
	Lateness time.Duration
	// SilentAfter is the wall-clock deadline for a live data-time feed
	// that delivers nothing: after it, the feed stops holding bins back
	// (its data clock is taken to run on with the wall clock, less
	// SilentAfter). 0 means 2 minutes.
	SilentAfter time.Duration
	// MaxQueued bounds the observations one feed may have waiting; a
	// source's Send blocks beyond it. 0 means 1 M.
	MaxQueued int
	// WriteTimeout bounds the pipeline's database work between two ticks;
	// 0 means 30 s. A database that hangs rather than refuses then fails
	// the call, which is retried at a later tick with nothing lost.
	WriteTimeout time.Duration
	// Recorder receives ingest counters (source "live"); nil for none.
	Recorder Recorder
	// Publish, when set, is called on the runner's goroutine after every
	// tick with the observations applied since the previous call and the
	// pipeline's counters (status pages read the engine from here: it is
	// not safe for concurrent use).
	Publish func(applied int, st Stats, now time.Time)
	// Logger receives pipeline errors; nil discards them.
	Logger *slog.Logger
}

// Live runs live sources through a pipeline. Each source delivers on a
// Feed of its own; Live runs the feeds through the merge that Replay runs
// its files through (merge.go), which applies them in time order, and
// closes bins on its watermark: the earliest time every feed has delivered
// up to. Feeds come in two kinds:
//
//   - Data-time feeds (AddFeed) carry the data's own timestamps, e.g. a
//     RIS collector read from its archive and then from RIS Live. Such a
//     feed holds bins back until its data passes them, so that a bin holds
//     the same observations whether they came from the archive or the
//     stream; once live, a feed silent for SilentAfter stops holding them.
//   - The wall-clock feed (the channel given to Run) carries observations
//     stamped with their receive time, e.g. own BGP sessions; it never
//     holds a bin past the wall clock.
//
// Observations of one feed are applied in the order delivered.
type Live struct {
	cfg LiveConfig
	log *slog.Logger
	now func() time.Time
	p   Driven

	items chan feedItem

	m       merge
	late    atomic.Int64
	applied int
	lastObs time.Time
}

// NewLive returns a runner feeding p.
func NewLive(p Driven, cfg LiveConfig) *Live {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lateness == 0 {
		cfg.Lateness = 10 * time.Second
	}
	if cfg.Lateness < 0 {
		cfg.Lateness = 0
	}
	if cfg.SilentAfter <= 0 {
		cfg.SilentAfter = 2 * time.Minute
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 1 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Live{cfg: cfg, log: log, now: cfg.Now, p: p, items: make(chan feedItem, 64)}
	r.m.cfg, r.m.now = &r.cfg, r.now
	return r
}

// Feed is one source's stream into a Live runner. Its methods are safe for
// concurrent use by the source.
type Feed struct {
	r    *Live
	name string
	idx  int
	wall bool

	queued atomic.Int64
	space  chan struct{} // a token when the runner took some of the queue

	mu      sync.Mutex
	through time.Time // the source's promise: nothing later sent is older
	newest  time.Time // newest observation time sent
	arrival time.Time // wall time of the last Send (or of AddFeed)
	live    bool
	done    bool

	// runner side
	q    []bgpwatch.Observation
	head int
	// fill, when set, refills an empty queue on the runner's goroutine (a
	// replay's file, read on as the merge needs it); it sets ended at the
	// end of the source.
	fill  func(ctx context.Context, f *Feed) error
	ended bool
}

// AddFeed registers a data-time feed. Until its source sends something it
// holds every bin back (a collector being bootstrapped must not see the
// other feeds run ahead of its archive); see Feed.SetLive and Feed.Done.
func (r *Live) AddFeed(name string) *Feed {
	f := &Feed{r: r, name: name, space: make(chan struct{}, 1), arrival: r.now()}
	r.m.add(f)
	return f
}

// Name is the feed's name.
func (f *Feed) Name() string { return f.name }

// Send queues observations of the feed, in its delivery order; Live takes
// ownership of obs. through promises that the feed will send nothing older
// later (zero: the newest of obs, less the lateness allowance while the
// feed is live). Send blocks while the feed has MaxQueued observations
// waiting; it fails only when ctx ends.
func (f *Feed) Send(ctx context.Context, obs []bgpwatch.Observation, through time.Time) error {
	for f.queued.Load() >= int64(f.r.cfg.MaxQueued) {
		select {
		case <-f.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.queued.Add(int64(len(obs)))
	select {
	case f.r.items <- feedItem{f: f, obs: obs, through: through}:
		return nil
	case <-ctx.Done():
		f.queued.Add(-int64(len(obs)))
		return ctx.Err()
	}
}

// SetLive says whether the feed now carries real-time data (a stream
// rather than an archive): a live feed's promise is its newest time less
// the lateness allowance, and it stops holding bins back once it has been
// silent for SilentAfter of wall-clock time.
func (f *Feed) SetLive(live bool) {
	f.mu.Lock()
	if live && !f.live {
		f.arrival = f.r.now()
	}
	f.live = live
	f.mu.Unlock()
}

// Done says the feed will send nothing more: it no longer holds bins back.
func (f *Feed) Done() {
	f.mu.Lock()
	f.done = true
	f.mu.Unlock()
}

// promise returns how far the feed's data is complete at wall time now,
// for a feed whose queue is empty; ok is false when the feed holds nothing
// back, silent when it is a live feed that has delivered nothing for
// SilentAfter (then t is its data clock run on with the wall clock, less
// SilentAfter). An archive (a feed not live) promises only what its source
// said: files are not strictly in time order, so the next observation is
// waited for, as a replay reads it before going on.
func (f *Feed) promise(now time.Time, cfg *LiveConfig) (t time.Time, ok, silent bool) {
	if f.wall {
		return now, true, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return time.Time{}, false, false
	}
	t = f.through
	if !f.live {
		return t, true, false
	}
	if !f.newest.IsZero() {
		if n := f.newest.Add(-cfg.Lateness); n.After(t) {
			t = n
		}
	}
	if idle := now.Sub(f.arrival); idle > cfg.SilentAfter {
		base := f.newest
		if base.IsZero() {
			base = f.arrival
		}
		if e := base.Add(idle - cfg.SilentAfter); e.After(t) {
			t = e
		}
		return t, true, true
	}
	return t, true, false
}

// feedItem is one Send.
type feedItem struct {
	f       *Feed
	obs     []bgpwatch.Observation
	through time.Time
}

// Watermark returns the time up to which observations have been applied.
func (r *Live) Watermark() time.Time { return r.m.watermark() }

// Late counts observations that came after the watermark had passed their
// time; they were applied to the open bin.
func (r *Live) Late() int64 { return r.late.Load() }

// Run applies the feeds' observations, and those received on wall (own
// BGP sessions; may be nil), until ctx ends; then it writes what is
// pending and returns. Errors of the pipeline (a database hiccup) are
// retried at the next tick: live ingest does not stop for them. They are
// logged when they start, then once a minute (on the Now clock) while they
// last, and once when a tick writes again.
func (r *Live) Run(ctx context.Context, wall <-chan bgpwatch.Observation) error {
	var wf *Feed
	if wall != nil {
		wf = &Feed{r: r, name: "wall-clock", wall: true, space: make(chan struct{}, 1)}
		r.m.add(wf)
	}
	ticks := r.cfg.Ticks
	if ticks == nil {
		d := r.cfg.Tick
		if d <= 0 {
			d = time.Second
		}
		t := time.NewTicker(d)
		defer t.Stop()
		ticks = t.C
	}
	// opCtx bounds the pipeline calls; it is renewed at every tick, which
	// is far cheaper than a timer per observation.
	var (
		opCtx    context.Context
		opCancel = context.CancelFunc(func() {})
	)
	renew := func() {
		opCancel()
		opCtx, opCancel = context.WithTimeout(ctx, r.cfg.WriteTimeout)
	}
	renew()
	defer func() { opCancel() }()
	var prev Stats
	// Only a successful Advance ends an outage: it has written what failed
	// before, while a nil from Observe may not have tried.
	outage := logthrottle.New(r.log, slog.LevelWarn, "live pipeline", remindEvery)
	observe := func(o *bgpwatch.Observation) error {
		if err := r.p.Observe(opCtx, o); err != nil && ctx.Err() == nil {
			outage.Fail(r.now(), err)
		}
		r.applied++
		r.lastObs = o.Time
		return nil // live ingest does not stop for a database outage
	}
	release := func() { r.m.release(ctx, observe) }
	publish := func() {
		st := r.p.Stats()
		if rec := r.cfg.Recorder; rec != nil {
			if r.applied > 0 {
				rec.AddObservations(liveSource, r.applied)
				rec.SetLastObservation(liveSource, r.lastObs)
			}
			rec.AddBins(liveSource, st.BinsWritten-prev.BinsWritten)
			rec.AddEvents(liveSource, st.EventsSaved-prev.EventsSaved)
		}
		prev = st
		if r.cfg.Publish != nil {
			r.cfg.Publish(r.applied, st, r.now())
		}
		r.applied = 0
	}
	takeWall := func(o bgpwatch.Observation) {
		// A receive-time stamp is kept unless it lies in the future, so a
		// skewed clock cannot make the engine close bins early; a stamp
		// older than the open bin counts at its start.
		if t := r.now(); o.Time.IsZero() || o.Time.After(t) {
			o.Time = t
		}
		wf.q = append(wf.q, o)
	}
	for {
		select {
		case <-ctx.Done():
			release()
			publish()
			if n := r.m.pending(); n > 0 {
				r.log.Info("live ingest stopped: observations past the watermark not applied", "n", n, "watermark", r.Watermark())
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return r.p.Close(cctx)
		case it := <-r.items:
			r.take(it)
		drain:
			for n := 0; n < 64; n++ {
				select {
				case it := <-r.items:
					r.take(it)
				default:
					break drain
				}
			}
			release()
		case o := <-wall:
			takeWall(o)
		drainWall:
			for n := 0; n < 4096; n++ {
				select {
				case o := <-wall:
					takeWall(o)
				default:
					break drainWall
				}
			}
			release()
		case <-ticks:
			t := r.now()
			renew()
			release()
			if wm := r.Watermark(); !wm.IsZero() {
				switch err := r.p.Advance(opCtx, wm); {
				case err == nil:
					outage.OK(t)
				case ctx.Err() == nil:
					outage.Fail(t, err)
				}
			}
			publish()
		}
	}
}

// Pump sends what arrives on in to the feed, in batches, until in is
// closed (then the feed is Done) or ctx ends. It suits a source that
// writes plain observations on a channel (a BMP station, a message bus).
func (f *Feed) Pump(ctx context.Context, in <-chan bgpwatch.Observation) error {
	for {
		var batch []bgpwatch.Observation
		select {
		case o, ok := <-in:
			if !ok {
				f.Done()
				return nil
			}
			batch = append(make([]bgpwatch.Observation, 0, 256), o)
		case <-ctx.Done():
			return ctx.Err()
		}
	more:
		for len(batch) < 4096 {
			select {
			case o, ok := <-in:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		if err := f.Send(ctx, batch, time.Time{}); err != nil {
			return err
		}
	}
}

// take appends a Send to its feed's queue.
func (r *Live) take(it feedItem) {
	f := it.f
	wm := r.Watermark()
	newest := time.Time{}
	future := r.now().Add(maxAhead)
	for i := range it.obs {
		if it.obs[i].Time.After(future) {
			// No data comes from the future: a skewed timestamp must not
			// close bins ahead of every other feed.
			it.obs[i].Time = r.now()
		}
		t := it.obs[i].Time
		if t.After(newest) {
			newest = t
		}
		if !wm.IsZero() && t.Before(wm) {
			r.late.Add(1)
		}
	}
	f.q = append(f.q, it.obs...)
	f.mu.Lock()
	if newest.After(f.newest) {
		f.newest = newest
	}
	if it.through.After(f.through) {
		f.through = it.through
	}
	f.arrival = r.now()
	f.mu.Unlock()
}

// maxAhead is how far past the wall clock a data-time stamp may be.
const maxAhead = 5 * time.Second

// remindEvery is how often a lasting pipeline failure is logged again.
const remindEvery = time.Minute

// liveSource is the label of live ingest in metrics.
const liveSource = "live"
