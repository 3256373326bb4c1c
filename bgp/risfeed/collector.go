// Package risfeed makes one RIPE RIS route collector a live source that is
// right from the first minute: it loads the collector's latest RIB dump
// (bview) from the RIS archive, then the updates files from the dump's time
// on, and hands over to the RIS Live stream without losing or doubling a
// message; after a disconnect it fills the gap from the updates files once
// they are published (meanwhile its feed stays live and, silent, stops
// holding the other collectors' bins: they close with its tables as at the
// cut, a collector outage; a gap the archive never fills leaves it stale
// until the next bview), and every new bview re-synchronises the
// collector's peers, as a RIB dump does in a replay. The observations it sends are the
// ones a replay of the same archive reads, with the data's own timestamps.
package risfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
)

// Sink is where a Collector sends its observations; *ingest.Feed
// implements it.
type Sink interface {
	// Send queues observations in the collector's time order; through
	// promises that nothing older follows (zero: the newest sent).
	Send(ctx context.Context, obs []bgpwatch.Observation, through time.Time) error
	// SetLive says the observations now come from the stream.
	SetLive(live bool)
}

// Config configures a Collector.
type Config struct {
	// Name is the collector, as the archive names it ("rrc00").
	Name string
	// Archive locates the RIS archive (RISURL) and the download cache
	// (CacheDir); files go through fetch and its cache.
	Archive fetch.Options
	// Poll is how often the archive's index is read again while waiting
	// for a file to be published (default 1 min).
	Poll time.Duration
	// FirstWait is how long to wait for the collector's first stream
	// message, whose time says how far the archive must be read, before
	// taking the wall clock instead (default 30 s).
	FirstWait time.Duration
	// MaxWait is how long the stream is held while the archive lags behind
	// it (RIS publishes updates files every 5 minutes, some minutes late);
	// past it the collector goes on with a gap (default 30 min): after a
	// bootstrap, live; after a cut, stale until the next RIB dump.
	MaxWait time.Duration
	// GapHold is how long a collector in gap state holds every
	// collector's bins back while the archive fills its gap (default 15
	// min: RIS publishes its 5-minute updates files some minutes late), so
	// that a gap filled in time leaves a replay's bins. Past it the feed
	// is live again: silent, it stops holding them (the runner's
	// silent_after) and they close with this collector's tables as they
	// were at the cut. A negative GapHold holds nothing.
	GapHold time.Duration
	// StaleAfter: a live collector without a stream message for this long
	// is stale (default 2 minutes).
	StaleAfter time.Duration
	// NoResync stops re-reading every new RIB dump.
	NoResync bool
	// MaxBuffered bounds the stream observations held while the archive
	// is read (default 1 M, about 120 MB); past it they are dropped and
	// read from the archive later, as after a disconnect.
	MaxBuffered int
	// ResyncKeep is how long the stream's observations are kept for a
	// resync, which sends again those after the updates files published
	// by then (default 20 min; RIS publishes some minutes late).
	ResyncKeep time.Duration
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// Present is how far to bootstrap a collector that sends nothing
	// within FirstWait (default Now; a Hub gives the stream's newest time).
	Present func() time.Time
	Logger  *slog.Logger
}

// State names.
const (
	StateWaiting     = "waiting"       // for the first stream message
	StateBootstrap   = "bootstrapping" // reading the RIB dump
	StateCatchingUp  = "catching-up"   // reading updates files up to the stream
	StateLive        = "live"
	StateGap         = "gap"   // the stream was cut; waiting for the archive to fill it
	StateStale       = "stale" // the stream is silent, or a gap was not filled (until the next RIB dump)
	StateNoBootstrap = "live-without-bootstrap"
)

// Status is a snapshot of a Collector for status pages.
type Status struct {
	Name  string
	State string
	Since time.Time
	// Files and FilesDone count the archive files of the current
	// bootstrap or gap fill; Bytes the bytes read from them.
	Files, FilesDone int
	Bytes            int64
	// DataTime is the time of the newest observation sent.
	DataTime time.Time
	// LastMessage is the wall time of the last stream message.
	LastMessage time.Time
	// Messages counts stream observations taken; Buffered those waiting
	// for the archive to catch up.
	Messages, Buffered int64
	// BadFiles counts archive files that could not be read.
	BadFiles int
	// RIB is the time of the latest RIB dump read.
	RIB time.Time
	// Gaps counts stream interruptions, and a hand-off the archive never
	// reached; GapFrom is the start of the last one (for the hand-off,
	// where the archive ends).
	Gaps    int
	GapFrom time.Time
	// Dropped counts the times the stream buffer was full and dropped
	// (each then filled from the archive).
	Dropped int
	// Unfilled: the archive did not fill the last gap within MaxWait; the
	// collector is stale (its tables miss the gap's changes) until a new
	// RIB dump re-synchronises it.
	Unfilled bool
}

// Collector is one RIS collector as a live source.
type Collector struct {
	cfg  Config
	sink Sink
	log  *slog.Logger

	mu      sync.Mutex
	buf     []bgpwatch.Observation // stream observations not sent yet
	wake    chan struct{}
	st      Status
	lastMsg time.Time // data time of the newest stream observation taken
	gapFrom time.Time // data time up to which the stream was complete before a cut
	cut     bool      // a cut happened; the next message starts the gap fill
	cutAt   int       // index in buf of the first message after the cut
	// unfilled: the archive did not fill the last gap within MaxWait; the
	// collector is stale until a RIB dump re-synchronises it.
	unfilled bool
}

// New returns a collector source sending to sink.
func New(cfg Config, sink Sink) *Collector {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Minute
	}
	if cfg.FirstWait <= 0 {
		cfg.FirstWait = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Minute
	}
	if cfg.GapHold == 0 {
		cfg.GapHold = 15 * time.Minute
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 2 * time.Minute
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 1 << 20
	}
	if cfg.ResyncKeep <= 0 {
		cfg.ResyncKeep = 20 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Present == nil {
		cfg.Present = cfg.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Archive.Logger = log
	c := &Collector{cfg: cfg, sink: sink, log: log.With("collector", cfg.Name), wake: make(chan struct{}, 1)}
	c.st = Status{Name: cfg.Name, State: StateWaiting, Since: cfg.Now()}
	return c
}

// Name is the collector's name.
func (c *Collector) Name() string { return c.cfg.Name }

// Status returns a snapshot.
func (c *Collector) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.st
	s.Buffered = int64(len(c.buf))
	return s
}

// setState changes the state, logging the change once.
func (c *Collector) setState(state string, args ...any) {
	c.mu.Lock()
	if c.st.State == state {
		c.mu.Unlock()
		return
	}
	c.st.State, c.st.Since = state, c.cfg.Now()
	c.mu.Unlock()
	c.log.Info("collector "+state, args...)
}

// Stream takes observations of this collector from the stream, in stream
// order. It never blocks: while the archive is read they are buffered.
func (c *Collector) Stream(obs []bgpwatch.Observation) {
	if len(obs) == 0 {
		return
	}
	c.mu.Lock()
	if len(c.buf)+len(obs) > c.cfg.MaxBuffered && len(c.buf) > 0 {
		// Held too long (a slow bootstrap, an archive late to fill a gap):
		// drop what is held and take it from the archive later, as after
		// a disconnect.
		if !c.cut || c.cutAt > 0 {
			c.gapFrom = c.buf[0].Time
		}
		c.log.Warn("stream buffer full: what it held will be read from the archive", "observations", len(c.buf), "from", c.gapFrom)
		c.cut, c.cutAt, c.buf = true, 0, nil
		c.st.Dropped++
	}
	c.buf = append(c.buf, obs...)
	c.st.Messages += int64(len(obs))
	c.st.LastMessage = c.cfg.Now()
	if t := obs[len(obs)-1].Time; t.After(c.lastMsg) {
		c.lastMsg = t
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Disconnected says the stream was cut: what the collector sent in the
// meantime must come from the archive.
func (c *Collector) Disconnected() {
	c.mu.Lock()
	if !c.cut && !c.lastMsg.IsZero() {
		c.cut = true
		c.gapFrom = c.lastMsg
		c.cutAt = len(c.buf)
	}
	c.mu.Unlock()
}

// firstBuffered returns the time of the first buffered stream observation.
func (c *Collector) firstBuffered() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) == 0 {
		return time.Time{}, false
	}
	return c.buf[0].Time, true
}

// Run bootstraps the collector from the archive, hands over to the
// stream and then forwards the stream, filling gaps and re-synchronising
// on new RIB dumps, until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	// Subscribe first (the stream is buffered from the start), then find
	// out how far the archive must be read: up to the first message.
	first, ok := c.waitFirst(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !ok {
		first = c.cfg.Present()
		c.log.Info("no stream message yet: bootstrapping up to the stream's present", "wait", c.cfg.FirstWait, "present", first)
	}
	rib, err := fetch.LatestRIB(ctx, c.cfg.Archive, c.cfg.Name, first)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("no RIB dump to bootstrap from: going live with empty tables", "err", err)
		c.setState(StateNoBootstrap)
	} else {
		c.mu.Lock()
		c.st.RIB = rib.Time
		c.mu.Unlock()
		c.setState(StateBootstrap, "rib", rib.URL)
		if err := c.readFiles(ctx, []fetch.Item{rib}, time.Time{}, time.Time{}); err != nil {
			return err
		}
		covered, ok, err := c.catchUp(ctx, rib.Time, rib.Time, first, StateCatchingUp)
		if err != nil {
			return err
		}
		if !ok {
			// The stream's first messages came after what the archive
			// holds: the changes in between are missing until the next RIB
			// dump, as after a gap the archive does not fill.
			c.mu.Lock()
			c.st.Gaps++
			c.st.GapFrom = covered
			c.mu.Unlock()
			c.setUnfilled(true)
		}
	}
	return c.live(ctx, rib.Time)
}

// waitFirst waits for the first stream observation.
func (c *Collector) waitFirst(ctx context.Context) (time.Time, bool) {
	timer := time.NewTimer(c.cfg.FirstWait)
	defer timer.Stop()
	for {
		if t, ok := c.firstBuffered(); ok {
			return t, true
		}
		select {
		case <-c.wake:
		case <-timer.C:
			return time.Time{}, false
		case <-ctx.Done():
			return time.Time{}, false
		}
	}
}

// catchUp reads the updates files from from on until the archive covers
// the stream's time upTo (the first buffered message's), waiting for files
// to be published; past MaxWait it gives up with a gap. Observations in
// the archive are sent up to and including upTo's second: the stream's
// messages of that second are a suffix of the archive's, and applying a
// suffix of route changes again changes nothing.
//
// Files are read from the one named fileFrom, their observations from
// obsFrom on. covered is how far the archive was read (the end of the
// last file's period).
func (c *Collector) catchUp(ctx context.Context, fileFrom, obsFrom, upTo time.Time, state string) (covered time.Time, ok bool, err error) {
	c.setState(state, "from", obsFrom, "to", upTo)
	every := fetch.UpdatesEvery(c.cfg.Name)
	cutoff := upTo.Truncate(time.Second).Add(time.Second)
	next := fileFrom // first file time still to read
	began := c.cfg.Now()
	// In a gap the feed first holds the bins as an archive does (up to
	// what it has sent), for GapHold; then it is live again.
	holding := state == StateGap && c.cfg.GapHold > 0
	if holding {
		c.sink.SetLive(false)
		defer func() {
			if holding {
				c.sink.SetLive(true)
			}
		}()
	}
	listing := logthrottle.New(c.log, slog.LevelWarn, "listing the archive's updates files", 10*time.Minute)
	for {
		items, err := fetch.PublishedUpdates(ctx, c.cfg.Archive, c.cfg.Name, next, upTo)
		if err != nil && ctx.Err() != nil {
			return next, false, ctx.Err()
		}
		if err != nil {
			listing.Fail(c.cfg.Now(), err)
		} else {
			listing.OK(c.cfg.Now())
		}
		var todo []fetch.Item
		for _, it := range items {
			if !it.Time.Before(next) {
				todo = append(todo, it)
			}
		}
		if len(todo) > 0 {
			if err := c.readFiles(ctx, todo, obsFrom, cutoff); err != nil {
				return next, false, err
			}
			next = todo[len(todo)-1].Time.Add(every)
		}
		if next.After(upTo) {
			return next, true, nil // the file holding upTo has been read
		}
		waited := c.cfg.Now().Sub(began)
		if waited > c.cfg.MaxWait {
			c.log.Warn("the archive does not cover the stream yet: going on with a gap", "covered", next, "stream", upTo)
			return next, false, nil
		}
		sleep := c.cfg.Poll
		if holding {
			if waited >= c.cfg.GapHold {
				holding = false
				c.sink.SetLive(true)
				c.log.Warn("gap not filled within gap_hold: the bins close without this collector's missing data", "gap_hold", c.cfg.GapHold, "covered", next)
			} else {
				sleep = min(sleep, c.cfg.GapHold-waited)
			}
		}
		select {
		case <-time.After(sleep):
		case <-ctx.Done():
			return next, false, ctx.Err()
		}
	}
}

// readFiles downloads the files (through the cache) and sends their
// observations in file order: those at or after from (when set) and
// before before (when set).
func (c *Collector) readFiles(ctx context.Context, items []fetch.Item, from, before time.Time) error {
	c.mu.Lock()
	c.st.Files, c.st.FilesDone, c.st.Bytes = len(items), 0, 0
	c.mu.Unlock()
	_, rep, err := fetch.Fetch(ctx, c.cfg.Archive, items)
	if err != nil {
		return err
	}
	for _, r := range rep.Files {
		if r.Local == "" {
			c.log.Warn("archive file not available, skipped", "file", r.URL, "status", r.Status, "err", r.Error)
			c.mu.Lock()
			c.st.BadFiles++
			c.st.FilesDone++
			c.mu.Unlock()
			continue
		}
		if err := c.readFile(ctx, r.Local, from, before); err != nil {
			return err
		}
		c.mu.Lock()
		c.st.FilesDone++
		c.mu.Unlock()
	}
	return nil
}

// readFile sends one MRT file's observations.
func (c *Collector) readFile(ctx context.Context, path string, from, before time.Time) error {
	src, err := mrtsource.Open(path, mrtsource.Options{Collector: c.cfg.Name, Logger: c.log})
	if err != nil {
		c.log.Warn("archive file unreadable, skipped", "file", path, "err", err)
		c.mu.Lock()
		c.st.BadFiles++
		c.mu.Unlock()
		return nil
	}
	defer src.Close()
	batch := make([]bgpwatch.Observation, 0, 2048)
	var newest time.Time
	var base int64
	c.mu.Lock()
	base = c.st.Bytes
	c.mu.Unlock()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		c.mu.Lock()
		c.st.Bytes = base + src.BytesRead()
		if newest.After(c.st.DataTime) {
			c.st.DataTime = newest
		}
		c.mu.Unlock()
		err := c.sink.Send(ctx, batch, time.Time{})
		batch = make([]bgpwatch.Observation, 0, 2048)
		return err
	}
	damage := 0
	for {
		o, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			var fe *mrt.FormatError
			if errors.As(err, &fe) && damage < 10000 {
				damage++
				c.log.Warn("damaged input", "file", path, "offset", fe.Offset, "reason", fe.Reason)
				continue
			}
			c.log.Warn("archive file cut short", "file", path, "err", err)
			break
		}
		if (!from.IsZero() && o.Time.Before(from) && o.Kind != bgpwatch.TableStart && o.Kind != bgpwatch.TableEnd) ||
			(!before.IsZero() && !o.Time.Before(before)) {
			continue
		}
		if o.Time.After(newest) {
			newest = o.Time
		}
		batch = append(batch, o)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	c.mu.Lock()
	c.st.Bytes = base + src.BytesRead()
	c.mu.Unlock()
	return nil
}

// live forwards the stream, filling gaps after disconnects from the
// archive and re-reading every new RIB dump.
func (c *Collector) live(ctx context.Context, rib time.Time) error {
	c.sink.SetLive(true)
	switch st := c.Status(); {
	case st.State == StateNoBootstrap:
	case c.isUnfilled():
		c.setState(StateStale, "reason", "the archive did not reach the stream's first message within archive_max_wait: stale until the next RIB dump",
			"gap_from", st.GapFrom)
	default:
		c.setState(StateLive)
	}
	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	stale := time.NewTicker(min(max(c.cfg.StaleAfter/4, 100*time.Millisecond), 15*time.Second))
	defer stale.Stop()
	var sent []bgpwatch.Observation // stream observations since the last RIB dump, for a resync
	polling := logthrottle.New(c.log, slog.LevelWarn, "looking for a new RIB dump in the archive", time.Hour)
	for {
		// The stream's messages, split at a cut: those before it are
		// sent; those after it wait until the archive has filled the gap.
		c.mu.Lock()
		b := c.buf
		c.buf = nil
		var post []bgpwatch.Observation
		gapFrom := c.gapFrom
		if c.cut {
			if at := min(c.cutAt, len(b)); at < len(b) {
				post, b = b[at:], b[:at]
				c.buf = post
				c.cut = false
				c.st.Gaps++
				c.st.GapFrom = gapFrom
			} else {
				c.cutAt = 0
			}
		}
		c.mu.Unlock()
		if len(b) > 0 {
			if err := c.send(ctx, b); err != nil {
				return err
			}
			if !c.cfg.NoResync && !rib.IsZero() {
				sent = keepRecent(append(sent, b...), c.cfg.ResyncKeep)
			}
		}
		if len(post) > 0 {
			// Fill the gap from the archive, holding the stream meanwhile:
			// from the second of the last message before the cut (the
			// stream had a prefix of that second's messages, and applying
			// the whole second after a prefix of it changes nothing) to
			// the first message after it. The feed stays live: while the
			// archive lags it sends nothing, so after the runner's
			// silent_after it stops holding the other collectors' bins,
			// and those bins close with this collector's tables as they
			// were at the cut (a collector outage: no withdrawal is
			// invented, no event comes from it). What the archive fills in
			// later is applied in the bin open then, before the stream
			// held meanwhile, so the tables end as a replay leaves them.
			_, filled, err := c.catchUp(ctx, gapFrom.Truncate(fetch.UpdatesEvery(c.cfg.Name)), gapFrom.Truncate(time.Second), post[0].Time, StateGap)
			if err != nil {
				return err
			}
			if filled {
				if c.isUnfilled() {
					c.setState(StateStale) // an earlier gap still waits for a RIB dump
				} else {
					c.setState(StateLive)
				}
				continue
			}
			// The archive never filled it: the stream goes on over tables
			// that miss the gap's changes (stale routes stay, none is
			// withdrawn) until the next RIB dump re-synchronises them.
			c.setUnfilled(true)
			c.setState(StateStale, "reason", "gap not filled by the archive: stale until the next RIB dump", "gap_from", gapFrom, "gap_to", post[0].Time)
			continue
		}
		if len(b) > 0 {
			if st := c.Status(); st.State == StateStale && !c.isUnfilled() {
				c.setState(StateLive)
			}
			continue
		}
		select {
		case <-c.wake:
		case <-stale.C:
			st := c.Status()
			if st.State == StateLive && !st.LastMessage.IsZero() && c.cfg.Now().Sub(st.LastMessage) > c.cfg.StaleAfter {
				c.setState(StateStale, "silent_for", c.cfg.Now().Sub(st.LastMessage).Round(time.Second))
			}
		case <-poll.C:
			if c.cfg.NoResync || rib.IsZero() {
				continue
			}
			nr, err := fetch.LatestRIB(ctx, c.cfg.Archive, c.cfg.Name, c.cfg.Now())
			if err != nil && ctx.Err() == nil {
				// No resync while the archive cannot be read: said when it
				// starts, hourly, and when it ends.
				polling.Fail(c.cfg.Now(), err)
			} else if err == nil {
				polling.OK(c.cfg.Now())
			}
			if err != nil || !nr.Time.After(rib) {
				continue
			}
			done, err := c.resync(ctx, nr, sent)
			if err != nil {
				return err
			}
			if done {
				rib = nr.Time
				if c.isUnfilled() {
					c.setUnfilled(false)
					c.setState(StateLive, "reason", "re-synchronised from a new RIB dump after a gap the archive did not fill", "rib", nr.Time)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setUnfilled records whether the last gap is still unfilled.
func (c *Collector) setUnfilled(v bool) {
	c.mu.Lock()
	c.unfilled = v
	c.st.Unfilled = v
	c.mu.Unlock()
}

func (c *Collector) isUnfilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unfilled
}

// keepRecent drops the observations older than keep before the newest.
func keepRecent(sent []bgpwatch.Observation, keep time.Duration) []bgpwatch.Observation {
	if len(sent) == 0 {
		return sent
	}
	old := sent[len(sent)-1].Time.Add(-keep)
	i := sort.Search(len(sent), func(i int) bool { return !sent[i].Time.Before(old) })
	if i > len(sent)/2 {
		return append(sent[:0:0], sent[i:]...)
	}
	return sent
}

// send forwards stream observations.
func (c *Collector) send(ctx context.Context, b []bgpwatch.Observation) error {
	c.mu.Lock()
	if t := b[len(b)-1].Time; t.After(c.st.DataTime) {
		c.st.DataTime = t
	}
	c.mu.Unlock()
	return c.sink.Send(ctx, b, time.Time{})
}

// resync reads a new RIB dump, the updates files published since, and
// then sends again the stream's observations after what those files
// cover: the dump replaces every table of the collector's peers (routes it
// lacks are dropped, as in a replay), and the changes since bring them
// back up to date. It does nothing (false) while the files do not reach
// the oldest stream observation kept: a later poll tries again.
func (c *Collector) resync(ctx context.Context, rib fetch.Item, sent []bgpwatch.Observation) (bool, error) {
	items, err := fetch.PublishedUpdates(ctx, c.cfg.Archive, c.cfg.Name, rib.Time, c.cfg.Now())
	if err != nil {
		return false, nil
	}
	covered := rib.Time
	if len(items) > 0 {
		covered = items[len(items)-1].Time.Add(fetch.UpdatesEvery(c.cfg.Name))
	}
	if len(sent) > 0 && sent[0].Time.After(covered) {
		c.log.Debug("new RIB dump: waiting for the updates files to reach the stream kept", "rib", rib.URL, "covered", covered, "kept_from", sent[0].Time)
		return false, nil
	}
	c.log.Info("new RIB dump: re-synchronising the collector's peers", "rib", rib.URL, "updates_files", len(items))
	c.mu.Lock()
	c.st.RIB = rib.Time
	c.mu.Unlock()
	if err := c.readFiles(ctx, append([]fetch.Item{rib}, items...), rib.Time, time.Time{}); err != nil {
		return false, err
	}
	var again []bgpwatch.Observation
	for _, o := range sent {
		if !o.Time.Before(covered) {
			again = append(again, o)
		}
	}
	if len(again) > 0 {
		if err := c.sink.Send(ctx, again, time.Time{}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// String describes the collector's state for logs.
func (s Status) String() string {
	return fmt.Sprintf("%s %s since %s", s.Name, s.State, s.Since.Format(time.RFC3339))
}
