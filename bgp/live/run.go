package live

import (
	"context"
	"log/slog"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// Pipeline is the processing chain live ingest drives; *ingest.Pipeline
// implements it. Run is its only caller, from one goroutine.
type Pipeline interface {
	Observe(ctx context.Context, o *bgpwatch.Observation) error
	Advance(ctx context.Context, t time.Time) error
	Close(ctx context.Context) error
}

// Recorder receives ingest counters for /metrics; *api.Metrics implements it.
type Recorder interface {
	AddObservations(source string, n int)
	AddBins(source string, n int)
	AddEvents(source string, n int)
	SetLastObservation(source string, t time.Time)
}

// RunConfig configures Run.
type RunConfig struct {
	// Tick is how often the pipeline's clock advances (bins close, events
	// are saved); 0 means 1 s.
	Tick time.Duration
	// Ticks, when set, replaces the ticker (tests drive the clock).
	Ticks <-chan time.Time
	// Now is the wall clock passed to Advance; nil means time.Now.
	Now func() time.Time
	// Peers reads the visibility engine's sessions; it is called on the
	// pipeline goroutine at every tick (the engine is not safe for
	// concurrent use) and the result is published to Status.
	Peers func() []visibility.PeerStat
	// Stats reads the pipeline's counters, also at every tick.
	Stats func() ingest.Stats
	// Status receives the snapshots; nil for none.
	Status *Status
	// Recorder receives ingest counters; nil for none.
	Recorder Recorder
	// Logger receives pipeline errors; nil discards them.
	Logger *slog.Logger
	// WriteTimeout bounds the pipeline's database work between two ticks;
	// 0 means 30 s. A database that hangs rather than refuses then fails
	// the call, which is retried at a later tick with nothing lost, instead
	// of holding live ingest (and the sessions behind it) forever.
	WriteTimeout time.Duration
}

// Run feeds observations from in into p and advances p on the wall clock
// until ctx ends; then it writes what is pending and returns. Errors of
// the pipeline (a database hiccup) are retried at the next tick: live
// ingest does not stop for them. They are logged when they start, then
// once a minute (on the Now clock) while they last, and once when a tick
// writes again. in is bounded: sources wait when Run falls behind, and
// Status reports the queue length.
func Run(ctx context.Context, p Pipeline, in <-chan bgpwatch.Observation, cfg RunConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	ticks := cfg.Ticks
	if ticks == nil {
		d := cfg.Tick
		if d <= 0 {
			d = time.Second
		}
		t := time.NewTicker(d)
		defer t.Stop()
		ticks = t.C
	}
	writeTimeout := cfg.WriteTimeout
	if writeTimeout <= 0 {
		writeTimeout = 30 * time.Second
	}
	// opCtx bounds the pipeline calls; it is renewed at every tick, which
	// is far cheaper than a timer per observation.
	var (
		opCtx    context.Context
		opCancel = context.CancelFunc(func() {})
	)
	renew := func() {
		opCancel()
		opCtx, opCancel = context.WithTimeout(ctx, writeTimeout)
	}
	renew()
	defer func() { opCancel() }()
	var (
		pending int
		lastObs time.Time
		prev    ingest.Stats
		// Only a successful Advance ends an outage: it has written what
		// failed before, while a nil from Observe may not have tried.
		outage = logthrottle.New(log, slog.LevelWarn, "live pipeline", remindEvery)
	)
	publish := func() {
		if cfg.Recorder != nil {
			if pending > 0 {
				cfg.Recorder.AddObservations(source, pending)
				cfg.Recorder.SetLastObservation(source, lastObs)
			}
		}
		if cfg.Status != nil {
			cfg.Status.addObservations(pending)
		}
		pending = 0
		var st ingest.Stats
		if cfg.Stats != nil {
			st = cfg.Stats()
			if cfg.Recorder != nil {
				cfg.Recorder.AddBins(source, st.BinsWritten-prev.BinsWritten)
				cfg.Recorder.AddEvents(source, st.EventsSaved-prev.EventsSaved)
			}
			prev = st
		}
		if cfg.Status != nil {
			var ps []visibility.PeerStat
			if cfg.Peers != nil {
				ps = cfg.Peers()
			}
			cfg.Status.setPipeline(ps, st, now())
		}
	}
	observe := func(o *bgpwatch.Observation) {
		// Bins close on the wall clock: a source's own timestamp (RIS
		// Live's collector time) is kept only when it is plausible, so a
		// skewed or replayed timestamp cannot make the engine close years
		// of empty bins or reopen closed ones.
		if t := now(); o.Time.IsZero() || o.Time.After(t) || t.Sub(o.Time) > maxSkew {
			o.Time = t
		}
		if err := p.Observe(opCtx, o); err != nil && ctx.Err() == nil {
			outage.Fail(now(), err)
		}
		pending++
		lastObs = o.Time
	}
	for {
		select {
		case <-ctx.Done():
			publish()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return p.Close(cctx)
		case o := <-in:
			observe(&o)
			// Drain what is queued before looking at the clock again.
		drain:
			for n := 0; n < 4096; n++ {
				select {
				case o := <-in:
					observe(&o)
				default:
					break drain
				}
			}
		case <-ticks:
			t := now()
			renew()
			switch err := p.Advance(opCtx, t); {
			case err == nil:
				outage.OK(t)
			case ctx.Err() == nil:
				outage.Fail(t, err)
			}
			publish()
		}
	}
}

// maxSkew is how far behind the wall clock an observation's own time may be.
const maxSkew = time.Minute

// remindEvery is how often a lasting pipeline failure is logged again.
const remindEvery = time.Minute

// source is the label of live ingest in metrics.
const source = "live"
