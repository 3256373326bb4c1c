package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
)

// ReplayConfig configures Replay.
type ReplayConfig struct {
	// Files to replay, in Discover order (after SelectWindow).
	Files []ArchiveFile
	// From and To bound the replay (zero: unbounded). Observations after To
	// end the replay; bins before From are computed but not written (set
	// the Pipeline's WriteFrom to From).
	From, To time.Time
	// Strict stops at the first damaged record (Replay returns ErrDamaged).
	Strict bool
	// Logger receives per-file messages; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called about every ProgressEvery (default 1 s)
	// and once at the end, from Replay's goroutine.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Now is the clock for progress rates; nil means time.Now.
	Now func() time.Time
}

// ErrDamaged is returned by Replay in strict mode at the first damaged record.
var ErrDamaged = errors.New("damaged input")

// FileError is one problem with one input file.
type FileError struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Reason string `json:"reason"`
}

func (e FileError) String() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Reason)
}

// Progress is a snapshot of a running replay.
type Progress struct {
	FilesDone, FilesTotal int
	Observations          int64
	BytesDone, BytesTotal int64 // file bytes (compressed, as stored)
	Elapsed               time.Duration
	DataTime              time.Time // time of the latest applied observation
	Done                  bool
}

// Summary is what a replay did.
type Summary struct {
	Files         int              `json:"files"`
	FilesSkipped  int              `json:"files_skipped"` // not MRT or unreadable
	Observations  int64            `json:"observations"`
	ByKind        map[string]int64 `json:"observations_by_kind"`
	Records       map[string]int64 `json:"records"` // MRT records by type, from the decoders
	Bytes         int64            `json:"bytes"`
	Errors        []FileError      `json:"errors"`
	Skipped       []FileError      `json:"skipped"`
	FirstTime     time.Time        `json:"first_time,omitzero"`
	LastTime      time.Time        `json:"last_time,omitzero"`
	Pipeline      Stats            `json:"pipeline"`
	Elapsed       time.Duration    `json:"-"`
	ElapsedSecond float64          `json:"elapsed_seconds"`
}

// batchSize is how many observations a reader goroutine hands over at once.
const batchSize = 2048

// chunk is a run of observations from one file, optionally followed by an
// error (damage, after which more chunks may follow) or the end.
type chunk struct {
	obs    []bgpwatch.Observation
	err    error // *mrt.FormatError or a fatal read error
	eof    bool
	notMRT bool // the file failed before its first record: not MRT
}

// stream reads one file in its own goroutine, so that decoding runs in
// parallel with the visibility engine.
type stream struct {
	file  ArchiveFile
	src   *mrtsource.Source
	ch    chan chunk
	free  chan []bgpwatch.Observation
	stop  chan struct{}
	wg    sync.WaitGroup
	bytes atomic.Int64

	cur  chunk
	feed *Feed // the stream's source in the merge
}

func openStream(f ArchiveFile, strict bool, log *slog.Logger) (*stream, error) {
	src, err := mrtsource.Open(f.Path, mrtsource.Options{Collector: f.Collector, Logger: log})
	if err != nil {
		return nil, err
	}
	s := &stream{
		file: f, src: src,
		ch:   make(chan chunk, 2),
		free: make(chan []bgpwatch.Observation, 4),
		stop: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.read(strict)
	return s, nil
}

// read runs in the stream's goroutine.
func (s *stream) read(strict bool) {
	defer s.wg.Done()
	buf := make([]bgpwatch.Observation, 0, batchSize)
	send := func(c chunk) bool {
		s.bytes.Store(s.src.BytesRead())
		select {
		case s.ch <- c:
			return true
		case <-s.stop:
			return false
		}
	}
	next := func() []bgpwatch.Observation {
		select {
		case b := <-s.free:
			return b[:0]
		default:
			return make([]bgpwatch.Observation, 0, batchSize)
		}
	}
	damage := 0
	first := true
	for {
		o, err := s.src.Next()
		if first && err != nil && !errors.Is(err, io.EOF) && len(s.src.Stats().Records) == 0 {
			send(chunk{err: err, eof: true, notMRT: true})
			return
		}
		first = false
		if err == nil {
			buf = append(buf, o)
			if len(buf) == batchSize {
				if !send(chunk{obs: buf}) {
					return
				}
				buf = next()
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			send(chunk{obs: buf, eof: true})
			return
		}
		var fe *mrt.FormatError
		if errors.As(err, &fe) && !strict && damage < 10000 {
			damage++
			if !send(chunk{obs: buf, err: err}) {
				return
			}
			buf = next()
			continue
		}
		// Strict mode, too much damage, or an error the source cannot
		// recover from: report it and end the file.
		send(chunk{obs: buf, err: err, eof: true})
		return
	}
}

// close stops the goroutine and closes the file.
func (s *stream) close() {
	close(s.stop)
	s.wg.Wait()
	s.src.Close()
}

// replayer holds the state of one Replay call.
type replayer struct {
	cfg     ReplayConfig
	log     *slog.Logger
	p       *Pipeline
	ctx     context.Context
	sum     Summary
	m       merge
	open    map[*stream]bool
	next    int // next file of cfg.Files to open
	done    int
	doneB   int64
	totalB  int64
	start   time.Time
	lastRep time.Time
	now     func() time.Time
	last    time.Time // latest applied observation time
	byKind  [8]int64  // observations by kind
	covered time.Time // end of the period the update files read so far cover
}

// Replay reads the files in time order across files and collectors (the
// merge Live runs its sources through, each file a source whose watermark
// is its own data time: a k-way merge on observation time; files are
// opened lazily in start-time order) and feeds every observation to p,
// then advances p to the end of the last bin and closes it. Damaged
// records are reported in the summary and skipped (strict mode stops with
// ErrDamaged); files that are not MRT are reported and skipped.
func Replay(ctx context.Context, cfg ReplayConfig, p *Pipeline) (*Summary, error) {
	r := &replayer{cfg: cfg, p: p, open: map[*stream]bool{}, now: cfg.Now}
	r.log = cfg.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.cfg.ProgressEvery <= 0 {
		r.cfg.ProgressEvery = time.Second
	}
	r.sum.ByKind = map[string]int64{}
	r.sum.Records = map[string]int64{}
	r.sum.Errors = []FileError{}
	r.sum.Skipped = []FileError{}
	for _, f := range cfg.Files {
		r.totalB += f.Size
	}
	r.start = r.now()
	r.lastRep = r.start
	err := r.run(ctx)
	for s := range r.open { // stopped at --to, or on an error
		s.close()
		r.mergeStats(s)
	}
	r.open = nil
	for k, n := range r.byKind {
		if n > 0 {
			r.sum.ByKind[bgpwatch.ObservationKind(k).String()] += n
		}
	}
	r.sum.Pipeline = p.Stats()
	r.sum.Elapsed = r.now().Sub(r.start)
	r.sum.ElapsedSecond = r.sum.Elapsed.Seconds()
	r.sum.Bytes = r.doneB
	r.progress(true)
	return &r.sum, err
}

// errStop ends a replay at --to.
var errStop = errors.New("past the end of the replay window")

func (r *replayer) run(ctx context.Context) error {
	r.ctx = ctx
	r.m.cfg, r.m.now, r.m.exact = &LiveConfig{}, r.now, true
	// The next file holds the merge back until it is opened: at the latest
	// once an observation of its start time is due.
	r.m.bound = func() (time.Time, bool) {
		if r.next < len(r.cfg.Files) && !r.cfg.Files[r.next].Time.IsZero() {
			return r.cfg.Files[r.next].Time, true
		}
		return time.Time{}, false
	}
	// One file at a time: the earliest observation may be the new file's.
	r.m.before = func(ctx context.Context, head time.Time) (bool, error) {
		if r.next >= len(r.cfg.Files) || r.cfg.Files[r.next].Time.After(head) {
			return false, nil
		}
		return true, r.openNext(ctx)
	}
	// Files without a name time are opened up front: only their content
	// says where they belong.
	for r.next < len(r.cfg.Files) && r.cfg.Files[r.next].Time.IsZero() {
		if err := r.openNext(ctx); err != nil {
			return err
		}
	}
	stopped := false
	for {
		err := r.m.release(ctx, r.observe)
		if errors.Is(err, errStop) {
			stopped = true
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Every open file is read: the next one, when nothing is open.
		if r.next >= len(r.cfg.Files) {
			break
		}
		if err := r.openNext(ctx); err != nil {
			return err
		}
	}
	end := r.last
	if !end.IsZero() {
		// The input ends with the last observation's bin, or with the end
		// of the period the last update file covers if that is later (a
		// quiet last interval has no records to say so).
		end = end.Truncate(bgpwatch.BinStep).Add(bgpwatch.BinStep)
		if !stopped && r.covered.After(end) {
			end = r.covered.Truncate(bgpwatch.BinStep)
		}
		if !r.cfg.To.IsZero() && end.After(r.cfg.To) {
			end = r.cfg.To // a bin reaching past --to is incomplete: not written
		}
		if err := r.p.Advance(ctx, end); err != nil {
			return err
		}
	}
	return r.p.Close(ctx)
}

// observe applies one observation of the merge.
func (r *replayer) observe(o *bgpwatch.Observation) error {
	if !r.cfg.To.IsZero() && o.Time.After(r.cfg.To) {
		return errStop
	}
	if err := r.p.Observe(r.ctx, o); err != nil {
		return err
	}
	r.count(o)
	if r.sum.Observations&1023 == 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if r.now().Sub(r.lastRep) >= r.cfg.ProgressEvery {
			r.progress(false)
		}
	}
	return nil
}

func (r *replayer) count(o *bgpwatch.Observation) {
	r.sum.Observations++
	if int(o.Kind) < len(r.byKind) {
		r.byKind[o.Kind]++ // into sum.ByKind at the end: a map per observation cost 10 % of a RIB load
	}
	if r.sum.FirstTime.IsZero() || o.Time.Before(r.sum.FirstTime) {
		r.sum.FirstTime = o.Time
	}
	if o.Time.After(r.last) {
		r.last = o.Time
		r.sum.LastTime = o.Time
	}
}

// openNext opens the next file and pushes it on the heap if it has data.
func (r *replayer) openNext(ctx context.Context) error {
	f := r.cfg.Files[r.next]
	r.next++
	s, err := openStream(f, r.cfg.Strict, r.log)
	if err != nil {
		r.log.Warn("skipping file", "file", f.Path, "err", err)
		r.sum.FilesSkipped++
		r.sum.Skipped = append(r.sum.Skipped, FileError{File: f.Path, Reason: err.Error()})
		r.done++
		r.doneB += f.Size
		return nil
	}
	r.sum.Files++
	r.open[s] = true
	if f.Kind == KindUpdates && !f.Time.IsZero() {
		// RIS writes 5-minute update files, RouteViews 15-minute ones.
		span := 5 * time.Minute
		if strings.HasPrefix(f.Collector, "route-views") || strings.Contains(filepath.ToSlash(f.Path), "/bgpdata/") {
			span = 15 * time.Minute
		}
		if c := f.Time.Add(span); c.After(r.covered) {
			r.covered = c
		}
	}
	// The file is a source of the merge, read on as the merge needs it.
	s.feed = &Feed{name: f.Path, fill: func(ctx context.Context, fd *Feed) error { return r.fill(ctx, s, fd) }}
	if err := r.fill(ctx, s, s.feed); err != nil {
		return err
	}
	if !s.feed.ended {
		r.m.add(s.feed)
	}
	return nil
}

// fill gives fd the next chunk of s once the previous one is applied;
// at the end of the file it ends fd and closes s.
func (r *replayer) fill(ctx context.Context, s *stream, fd *Feed) error {
	for {
		if s.cur.notMRT {
			r.log.Warn("skipping file: not MRT", "file", s.file.Path, "err", s.cur.err)
			r.sum.Skipped = append(r.sum.Skipped, FileError{File: s.file.Path, Reason: "not an MRT file: " + s.cur.err.Error()})
			r.sum.FilesSkipped++
			r.sum.Files--
			r.end(s, fd)
			return nil
		}
		if s.cur.err != nil {
			err := s.cur.err
			s.cur.err = nil
			fe := FileError{File: s.file.Path, Reason: err.Error()}
			var mfe *mrt.FormatError
			if errors.As(err, &mfe) {
				fe.Offset, fe.Reason = mfe.Offset, mfe.Reason
			}
			r.sum.Errors = append(r.sum.Errors, fe)
			r.log.Warn("damaged input", "file", fe.File, "offset", fe.Offset, "reason", fe.Reason)
			if r.cfg.Strict {
				return fmt.Errorf("%w: %s", ErrDamaged, fe)
			}
		}
		if s.cur.eof {
			r.end(s, fd)
			return nil
		}
		if cap(s.cur.obs) > 0 {
			select {
			case s.free <- s.cur.obs:
			default:
			}
		}
		select {
		case c := <-s.ch:
			s.cur = c
		case <-ctx.Done():
			return ctx.Err()
		}
		if len(s.cur.obs) > 0 {
			fd.q, fd.head = s.cur.obs, 0
			return nil
		}
	}
}

// end ends the feed of a file read to its end.
func (r *replayer) end(s *stream, fd *Feed) {
	fd.q, fd.head, fd.ended, fd.done = nil, 0, true, true
	r.finish(s)
}

// finish closes a file that has been read to its end.
func (r *replayer) finish(s *stream) {
	s.close()
	delete(r.open, s)
	r.done++
	r.doneB += s.file.Size
	r.mergeStats(s)
}

func (r *replayer) progress(done bool) {
	r.lastRep = r.now()
	if r.cfg.Progress == nil {
		return
	}
	b := r.doneB
	for s := range r.open {
		b += min(s.bytes.Load(), s.file.Size)
	}
	r.cfg.Progress(Progress{
		FilesDone: r.done, FilesTotal: len(r.cfg.Files),
		Observations: r.sum.Observations,
		BytesDone:    b, BytesTotal: r.totalB,
		Elapsed:  r.lastRep.Sub(r.start),
		DataTime: r.last,
		Done:     done,
	})
}

// mergeStats adds a finished file's decoder counts to the summary.
func (r *replayer) mergeStats(s *stream) {
	st := s.src.Stats()
	for k, n := range st.Records {
		r.sum.Records[k] += int64(n)
	}
}
