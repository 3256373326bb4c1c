package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// merge is the one loop that runs sources of observations through the
// pipeline, for Replay and Live alike. Every source is a Feed: an MRT file
// of a replay, a RIS collector (archive, then stream), the wall-clock feed
// of own BGP sessions. The merge applies the feeds' queued observations in
// time order across feeds (ties by feed order; within a feed, in the order
// delivered, even when that goes back in time) up to the watermark: the
// earliest time every feed has delivered up to. A feed with observations
// waiting counts with its first one; an empty feed counts with its promise
// (Feed.promise), and a feed with a fill function is filled before it
// counts (a replay's file is read on, as a k-way merge does, instead of
// being waited for). Bins close as the pipeline sees the data's times, so
// this order is what decides which bin an observation falls in.
type merge struct {
	cfg *LiveConfig // Lateness, SilentAfter
	now func() time.Time

	mu    sync.Mutex
	feeds []*Feed
	wm    time.Time // observations up to it have been applied
	next  int       // index of the next feed added

	// bound, when set, caps the watermark at a time sources not yet added
	// start at (a replay's next file, by its name); ok false for none.
	bound func() (t time.Time, ok bool)
	// exact: feeds are applied up to what the feeds and bound allow now,
	// not up to the watermark reached before (a replay, whose next file
	// may start before it when files are not in time order; a live feed's
	// promise may go back, and what the watermark passed is applied).
	exact bool
	// before, when set, is called before a run of one feed with the time
	// of its first observation; it may add feeds (a replay opens the files
	// that start at or before it), and then returns true: the run is
	// chosen again.
	before func(ctx context.Context, head time.Time) (bool, error)
}

// add registers a feed; its index orders it among feeds with observations
// of the same time.
func (m *merge) add(f *Feed) {
	m.mu.Lock()
	f.idx = m.next
	m.next++
	m.feeds = append(m.feeds, f)
	m.mu.Unlock()
}

// watermark returns the merge's watermark.
func (m *merge) watermark() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wm
}

// pending counts queued observations not applied yet.
func (m *merge) pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, f := range m.feeds {
		n += len(f.q) - f.head
	}
	return n
}

// empty reports whether no feed is left (every one done and applied).
func (m *merge) empty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.feeds) == 0
}

// limits computes, for feeds at wall time now, the watermark w (the time
// every feed has delivered up to) and lim, the time the feeds with nothing
// queued (and bound) allow a feed's queued observations to be applied up
// to, ordered against the other feeds' queued ones (hasLim false: no such
// limit). Silent live feeds do not count while another feed does: a
// collector whose stream stopped must not hold the others' bins (its
// tables stay as they were: no withdrawal is invented for it). When every
// feed is silent, the watermark runs on with the wall clock from the most
// advanced one. Feeds done and drained are dropped; feeds with a fill
// function are filled first.
func (m *merge) limits(ctx context.Context, feeds []*Feed, now time.Time) (w, lim time.Time, hasLim bool, err error) {
	var ws time.Time
	active, silent, drop := false, false, false
	for _, f := range feeds {
		if f.fill != nil && f.head >= len(f.q) && !f.ended {
			if err := f.fill(ctx, f); err != nil {
				return w, lim, false, err
			}
		}
		var t time.Time
		ok, quiet := true, false
		if f.head < len(f.q) {
			t = f.q[f.head].Time
		} else {
			t, ok, quiet = f.promise(now, m.cfg)
			if !ok && f.isDone() {
				drop = true
			}
			if ok && !quiet && (!hasLim || t.Before(lim)) {
				lim, hasLim = t, true
			}
		}
		switch {
		case !ok:
		case quiet:
			if !silent || t.After(ws) {
				ws = t
			}
			silent = true
		default:
			if !active || t.Before(w) {
				w = t
			}
			active = true
		}
	}
	if m.bound != nil {
		if t, ok := m.bound(); ok {
			if !hasLim || t.Before(lim) {
				lim, hasLim = t, true
			}
			if !active || t.Before(w) {
				w = t
			}
			active = true
		}
	}
	if drop {
		m.prune()
	}
	switch {
	case active:
	case silent:
		w = ws
	default:
		w = now
	}
	return w, lim, hasLim, nil
}

// prune drops the feeds that are done and have nothing queued.
func (m *merge) prune() {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A new slice: release holds on to the old one.
	keep := make([]*Feed, 0, len(m.feeds))
	for _, f := range m.feeds {
		if f.head < len(f.q) || !f.isDone() {
			keep = append(keep, f)
		}
	}
	m.feeds = keep
}

// release applies, in time order across feeds, every queued observation
// up to the watermark, and returns the first error of observe or of a
// feed's fill.
func (m *merge) release(ctx context.Context, observe func(*bgpwatch.Observation) error) error {
	now := m.now()
	for {
		m.mu.Lock()
		feeds := m.feeds
		m.mu.Unlock()
		w, lim, hasLim, err := m.limits(ctx, feeds, now)
		if err != nil {
			return err
		}
		m.mu.Lock()
		if w.After(m.wm) {
			m.wm = w
		}
		w = m.wm
		m.mu.Unlock()
		if w.IsZero() {
			return nil
		}
		// A feed's observations go up to the latest of the watermark and
		// what the feeds without a queue allow, and while they come
		// before every other feed's next one.
		if hasLim && lim.Before(w) && !m.exact {
			lim = w
		}
		first, second := m.heads(feeds)
		if first == nil {
			return nil
		}
		if m.before != nil {
			added, err := m.before(ctx, first.q[first.head].Time)
			if err != nil {
				return err
			}
			if added {
				continue
			}
		}
		if hasLim && first.q[first.head].Time.After(lim) {
			return nil
		}
		// Drain it while it stays the earliest (its head may go back in
		// time: an observation older than the last one applied counts in
		// the open bin, as in a replay).
		n := 0
		for {
			if first.head >= len(first.q) {
				first.consumed(n)
				n = 0
				if first.fill == nil || first.ended {
					break
				}
				if err := first.fill(ctx, first); err != nil {
					return err
				}
				if first.head >= len(first.q) {
					break
				}
			}
			o := &first.q[first.head]
			if (hasLim && o.Time.After(lim)) || (second != nil && before(second, first)) {
				break
			}
			first.head++
			n++
			if err := observe(o); err != nil {
				first.consumed(n)
				return err
			}
		}
		first.consumed(n)
	}
}

// heads returns the feed with the earliest queued observation and the
// runner-up (nil when none).
func (m *merge) heads(feeds []*Feed) (first, second *Feed) {
	for _, f := range feeds {
		if f.head >= len(f.q) {
			continue
		}
		switch {
		case first == nil || before(f, first):
			first, second = f, first
		case second == nil || before(f, second):
			second = f
		}
	}
	return first, second
}

// before orders feeds by their head observation's time, then by index.
func before(a, b *Feed) bool {
	ta, tb := a.q[a.head].Time, b.q[b.head].Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.idx < b.idx
}

// consumed frees the applied part of the queue and wakes a waiting Send.
func (f *Feed) consumed(n int) {
	if f.fill != nil {
		return // the fill function owns the queue
	}
	if f.head == len(f.q) {
		f.q, f.head = f.q[:0], 0
	} else if f.head > 4096 && f.head > len(f.q)/2 {
		m := copy(f.q, f.q[f.head:])
		f.q, f.head = f.q[:m], 0
	}
	if f.wall || n == 0 {
		return
	}
	f.queued.Add(-int64(n))
	select {
	case f.space <- struct{}{}:
	default:
	}
}

// isDone reports whether the source said it sends nothing more.
func (f *Feed) isDone() bool {
	if f.fill != nil {
		return f.ended
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}
