package detect

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Step is one change of an entity's value in a History: from Bins[At] on
// the entity has Slash24 visible /24s, until its next step.
type Step struct {
	At      int32
	Slash24 int32
}

// History is what a Detector resumes from: the bins a previous run
// accepted before the first bin to come (the baseline window and its
// warm-up), the entities' values in them, and the events that run stored.
type History struct {
	// Bins are the starts of the bins, ascending.
	Bins []time.Time
	// FullFeed holds the bins' FullFeed, parallel to Bins; 0 (or a
	// shorter slice) where it is unknown. The known values enter the
	// full-feed window in order, as observed bins' would.
	FullFeed []int
	// ASNs and Countries hold each entity's visible /24s as steps over
	// Bins, ascending by At; an entity is 0 before its first step.
	ASNs      map[bgpwatch.ASN][]Step
	Countries map[string][]Step
	// Events are the stored events overlapping Bins (StartedAt before the
	// bin to come, EndedAt zero or not before Bins[0]). Those that may
	// still be open carry their contributing ASNs and evidence (Withdrawn),
	// which the detector keeps for their next save.
	Events []bgpwatch.Event
}

// resumeState is what Resume leaves for the bins that follow it.
type resumeState struct {
	running   bool      // inside Resume
	all       bool      // inside Recompute: every transition is reported, feeds are checked
	active    bool      // the detector runs on a resumed history
	dropped   bool      // a resumed history was dropped by the guard
	upTo      time.Time // last bin of the history
	changesAt time.Time // last bin up to upTo whose changes were recorded
	guard     int       // bins the resume guard may still skip
	world     int64     // median over the history of all countries' /24s

	// during Resume
	slow      []*asnEntity    // ASNs stepped bin by bin (sorted)
	untracked []bgpwatch.ASN  // ASNs of the History not tracked yet
	slowDirty bool            // slow must be rebuilt
	quietCC   map[string]bool // countries that can start nothing
	noisy     []bgpwatch.ASN  // ASNs with stored events
}

// cursor walks an entity's History steps bin by bin.
type cursor struct {
	steps []Step
	k     int
	v     int32
	from  int32 // the bin at which the entity was tracked
	fast  bool  // an ASN that can start nothing during Resume (see quiet)
}

func (c *cursor) at(i int32) int32 {
	for c.k < len(c.steps) && c.steps[c.k].At <= i {
		c.v = c.steps[c.k].Slash24
		c.k++
	}
	return c.v
}

// valueAt is the value of steps at bin i.
func valueAt(steps []Step, i int32) int32 {
	k := sort.Search(len(steps), func(k int) bool { return steps[k].At > i })
	if k == 0 {
		return 0
	}
	return steps[k-1].Slash24
}

// Resume brings a new detector to the state it would have after observing
// the bins of h, so that a restarted process (or a replay of a later
// period) neither waits for a warm-up nor loses the events it stored. It
// must be called before the first Observe; it does nothing on a detector
// that has seen bins, or for an empty History.
//
// The history's bins run through the same state machine as observed bins
// (with the same ticks, which fall on the clock), but the stored events
// win: from an event's StartedAt on, its entity is in that event with the
// stored baseline, whatever the shorter history would have said, so the
// event goes on under its natural key and its bins stay out of the
// baseline. An event that started before the history's first bin is
// resumed at that bin; its alert area then counts from there (at least the
// stored area).
//
// Resume returns catch-up transitions: the changes of events stored as
// ongoing that the history already shows (an end, a new minimum) and, as
// Started, the events the history shows as open that are not stored. The
// history's own transitions of stored events are not repeated.
//
// Bins are judged by their FullFeed (where known) as Observe judged them:
// it enters the full-feed window as acceptFeed put it there, and a bin
// whose FullFeed collapsed (a collector outage) is skipped, out of the
// baselines, so that the resumed state is the one of a detector that ran
// on, and a collector outage in the first bins after the restart is
// skipped as it would have been without one. Bins without a FullFeed are
// trusted as accepted, and the window starts empty. The withdrawal log is empty but for the stored evidence of open
// events; bins that come again up to the history's last bin (a replay that
// starts from an earlier RIB) only add their withdrawals to it.
//
// Guard: a restarted live source may deliver incomplete tables at first.
// After Resume, a bin in which all countries together have more than
// ResumeTolerance fewer /24s than the median of the history's last
// FeedWindow bins is skipped, for at most MinDuration; if the view is
// still short then, the resumed state is dropped and the detector starts
// afresh (as without Resume).
func (d *Detector) Resume(h *History) []Transition {
	if h == nil || len(h.Bins) == 0 || d.started {
		return nil
	}
	d.res.running = true
	evs := make([]*bgpwatch.Event, 0, len(h.Events))
	for i := range h.Events {
		evs = append(evs, &h.Events[i])
	}
	slices.SortStableFunc(evs, func(x, y *bgpwatch.Event) int {
		if c := x.StartedAt.Compare(y.StartedAt); c != 0 {
			return c
		}
		if x.Scope != y.Scope { // ASN events first, as in Observe
			return cmp.Compare(scopeRank(x.Scope), scopeRank(y.Scope))
		}
		if c := cmp.Compare(x.Country, y.Country); c != 0 {
			return c
		}
		return cmp.Compare(x.ASN, y.ASN)
	})
	d.res.quietCC = map[string]bool{}
	for cc, steps := range h.Countries {
		d.res.quietCC[cc] = quiet(steps, len(h.Bins), d.cfg.Country.Drop)
	}
	for _, ev := range evs {
		if ev.Scope == bgpwatch.ScopeCountry {
			d.res.quietCC[ev.Country] = false
		} else {
			d.res.noisy = append(d.res.noisy, ev.ASN)
		}
	}
	var out []Transition
	var prev time.Time
	var ticks, acc []int32
	next := 0
	for i, t := range h.Bins {
		if i > 0 && !t.After(prev) {
			continue
		}
		prev = t
		ix := int32(i)
		ff := 0
		if i < len(h.FullFeed) {
			ff = h.FullFeed[i]
		}
		d.started = true
		d.last = t
		// A bin whose FullFeed collapsed was skipped by the detector that
		// stored it (a collector outage): skipped again, it stays out of
		// the baselines. Without a FullFeed it is trusted, except in
		// Recompute, which judges every bin as Observe does.
		if d.res.all || ff > 0 {
			if !d.acceptFeed(ff) {
				continue // as Observe skips it: no step, no baseline
			}
		}
		acc = append(acc, ix)
		d.accepted++
		tick := d.tick(t)
		if tick {
			ticks = append(ticks, ix)
			d.discoverHistory(h, ix)
		}
		for next < len(evs) && !evs[next].StartedAt.After(t) {
			d.force(h, evs[next], ix, evs[next].StartedAt.Before(h.Bins[0]))
			next++
		}
		if d.res.slowDirty {
			d.res.slowDirty = false
			d.res.slow = d.res.slow[:0]
			for _, a := range d.asns {
				if !a.seed.fast {
					d.res.slow = append(d.res.slow, a)
				}
			}
		}
		for _, a := range d.res.slow {
			a.last = a.seed.at(ix)
		}
		for _, c := range d.ccs {
			c.last = c.seed.at(ix)
		}
		out = d.stepAll(out, d.res.slow, t, tick)
	}
	for _, a := range d.asns {
		if a.seed.fast {
			d.replayQuiet(a, ticks, acc)
		}
	}
	d.res.running = false
	d.res.slow, d.res.quietCC, d.res.noisy, d.res.untracked = nil, nil, nil, nil
	// Open events the history shows that no run stored: report them now.
	for _, a := range d.asns {
		out = d.finishResume(out, &a.tracker, func() bgpwatch.Event { return d.asnEvent(a) })
	}
	for _, c := range d.ccs {
		out = d.finishResume(out, &c.tracker, func() bgpwatch.Event { return d.countryEvent(c) })
	}
	d.res.active = true
	d.res.upTo = d.last
	d.res.world = worldMedian(h, d.cfg.FeedWindow)
	if d.res.world > 0 {
		d.res.guard = d.minBins
	}
	return out
}

func scopeRank(s bgpwatch.Scope) int {
	if s == bgpwatch.ScopeASN {
		return 0
	}
	return 1
}

// finishResume clears the entity's cursor and reports a confirmed open
// event that is not stored.
func (d *Detector) finishResume(out []Transition, s *tracker, build func() bgpwatch.Event) []Transition {
	s.seed = nil
	o := s.ev
	if d.res.all {
		return out // Recompute reported everything as it happened
	}
	if o == nil {
		return out
	}
	if o.late {
		o.area = max(o.area, o.storedArea)
	}
	if !o.confirmed || o.stored {
		return out
	}
	ev := build()
	d.sign(o, &ev)
	o.stored = true
	return append(out, Transition{Kind: Started, Event: ev})
}

// discoverHistory is discover for bin i of a History.
func (d *Detector) discoverHistory(h *History, i int32) {
	var newASN, newCC bool
	touched := map[string]bool{}
	if d.res.untracked == nil {
		d.res.untracked = make([]bgpwatch.ASN, 0, len(h.ASNs))
		for asn := range h.ASNs {
			d.res.untracked = append(d.res.untracked, asn)
		}
	}
	// Each tick looks at the ASNs not tracked yet only (most are tracked
	// at the first tick; a month has 720 ticks).
	keep := d.res.untracked[:0]
	for _, asn := range d.res.untracked {
		if _, ok := d.asnIdx[asn]; ok {
			continue
		}
		steps := h.ASNs[asn]
		if int(valueAt(steps, i)) < d.trackMin {
			keep = append(keep, asn)
			continue
		}
		a := d.addASN(asn)
		a.hist.ring = make([]int32, 0, d.window)
		a.seed = &cursor{steps: steps, from: i}
		a.seed.fast = (a.country == "" || d.res.quietCC[a.country] || !d.hasCountrySeries(h, a.country)) &&
			!slices.Contains(d.res.noisy, asn) && quiet(steps, len(h.Bins), d.cfg.ASN.Drop)
		if a.country != "" {
			touched[a.country] = true
		}
		newASN = true
		d.res.slowDirty = true
	}
	d.res.untracked = keep
	for cc, steps := range h.Countries {
		if _, ok := d.ccIdx[cc]; ok || valueAt(steps, i) <= 0 {
			continue
		}
		d.addCountry(cc).seed = &cursor{steps: steps}
		newCC = true
	}
	d.sortEntities(newASN, newCC, touched)
}

// hasCountrySeries reports whether the history has the country's series
// (one without can start no country event).
func (d *Detector) hasCountrySeries(h *History, cc string) bool {
	_, ok := h.Countries[cc]
	return ok
}

// quiet reports whether an entity's values over n bins can never fall to
// the drop level of any baseline they make: the lowest is above
// (1-drop) × the highest. Such an entity starts nothing during Resume, so
// only its history matters and it is replayed on its own (replayQuiet),
// which is much cheaper than stepping it with all others bin by bin.
func quiet(steps []Step, n int, drop float64) bool {
	if n == 0 {
		return true
	}
	var lo, hi int32 = math.MaxInt32, 0
	if len(steps) == 0 || steps[0].At > 0 {
		lo = 0
	}
	for _, s := range steps {
		if int(s.At) >= n {
			break
		}
		lo, hi = min(lo, s.Slash24), max(hi, s.Slash24)
	}
	return float64(lo) > float64(hi)*(1-drop)
}

// replayQuiet gives a quiet ASN (see quiet) the history that stepping it
// through the accepted bins acc from its tracking bin on would: all its
// values, with the cached median computed where step would have last
// computed it (the last tick, or the bin at which the warm-up is
// complete).
func (d *Detector) replayQuiet(a *asnEntity, ticks []int32, acc []int32) {
	c := a.seed
	p0 := sort.Search(len(acc), func(k int) bool { return acc[k] >= c.from })
	n := len(acc)
	last := int32(-1)
	if k := len(ticks) - 1; k >= 0 && ticks[k] >= c.from {
		last = ticks[k]
	}
	if d.minHist < d.window {
		if j := p0 + d.minHist; j < n {
			last = max(last, acc[j])
		}
	} else if j := p0 + d.window; j < n {
		last = acc[n-1]
	}
	// Only the last window of values before the last median computation
	// and the values after it shape the final state: skip the others
	// (a month of a quiet ASN is 8640 values for a 288-value window).
	k0 := p0
	if last >= 0 {
		kl := sort.Search(n, func(k int) bool { return acc[k] >= last })
		k0 = max(k0, kl-d.window)
	} else {
		k0 = max(k0, n-d.window)
	}
	for _, j := range acc[k0:] {
		if j == last {
			a.hist.get(&d.scratch)
		}
		a.hist.push(c.at(j))
	}
	a.last = c.v
}

// asnFor returns the tracked ASN, tracking it if needed (during Resume).
func (d *Detector) asnFor(h *History, asn bgpwatch.ASN) *asnEntity {
	if a := d.asnIdx[asn]; a != nil {
		return a
	}
	a := d.addASN(asn)
	a.seed = &cursor{steps: h.ASNs[asn]}
	d.res.slowDirty = true
	touched := map[string]bool{}
	if a.country != "" {
		touched[a.country] = true
	}
	d.sortEntities(true, false, touched)
	return a
}

// force puts the entity of a stored event into that event from bin i on.
// late: the event started before the history's first bin.
func (d *Detector) force(h *History, ev *bgpwatch.Event, i int32, late bool) {
	var s *tracker
	switch ev.Scope {
	case bgpwatch.ScopeASN:
		s = &d.asnFor(h, ev.ASN).tracker
	case bgpwatch.ScopeCountry:
		c := d.ccIdx[ev.Country]
		if c == nil {
			c = d.addCountry(ev.Country)
			c.seed = &cursor{steps: h.Countries[ev.Country]}
			d.sortEntities(false, true, nil)
		}
		s = &c.tracker
	default:
		return
	}
	base := int32(min(ev.BaselineSlash24, math.MaxInt32))
	o := s.ev
	if o == nil || !o.start.Equal(ev.StartedAt) || o.base != base {
		// The shorter history disagrees (or could not know): the stored
		// event wins. It is confirmed already; its minimum starts at the
		// stored one so that it never reads higher than what was saved.
		o = &open{start: ev.StartedAt, base: base, min: int32(ev.MinSlash24), confirmed: true}
		s.ev = o
	}
	o.stored = true
	o.report = ev.EndedAt.IsZero()
	o.sigMin = int32(ev.MinSlash24)
	o.sigW = len(ev.Withdrawn)
	o.sigASNs = o.sigASNs[:0]
	for _, a := range ev.ASNs {
		o.sigASNs = append(o.sigASNs, a.ASN)
	}
	if late {
		o.late = true
		o.storedArea = ev.AlertArea
	}
	// The evidence goes back to the logs of the ASNs it came from.
	for _, w := range ev.Withdrawn {
		d.asnFor(h, w.Origin).addLogged(w.Prefix.Masked(), w.WithdrawnAt)
	}
	if ev.Scope == bgpwatch.ScopeCountry && late {
		// Its first bin is long gone: the contributors are the stored
		// ones with their stored baselines, plus the other national ASNs
		// with a baseline now (snapshotted at their next bin).
		o.snapped = true
		o.contrib = o.contrib[:0]
		seen := map[bgpwatch.ASN]bool{}
		for _, x := range ev.ASNs {
			a := d.asnFor(h, x.ASN)
			seen[x.ASN] = true
			o.contrib = append(o.contrib, contribState{a: a, base: int32(x.BaselineSlash24), min: int32(x.MinSlash24)})
		}
		for _, a := range d.national[ev.Country] {
			if seen[a.asn] || a.hist.len() < d.minHist {
				continue
			}
			b := a.hist.get(&d.scratch)
			if int(b) < d.cfg.ContribMinSlash24 {
				continue
			}
			o.contrib = append(o.contrib, contribState{a: a, base: b, min: b})
		}
	}
}

// addLogged adds a stored withdrawal to the ASN's log, keeping it in time
// order and free of duplicates.
func (a *asnEntity) addLogged(p netip.Prefix, at time.Time) {
	i := sort.Search(len(a.log), func(i int) bool { return a.log[i].at.After(at) })
	for j := i - 1; j >= 0 && a.log[j].at.Equal(at); j-- {
		if a.log[j].prefix == p {
			return
		}
	}
	a.log = slices.Insert(a.log, i, withdrawal{prefix: p, at: at})
}

// replayChanges records the withdrawals of a bin that comes again after
// Resume (up to the history's last bin): the history has its values but
// not its changes.
func (d *Detector) replayChanges(b *bgpwatch.Bin) {
	if !d.res.active || b.Start.After(d.res.upTo) || !b.Start.After(d.res.changesAt) {
		return
	}
	d.res.changesAt = b.Start
	d.logChanges(b, true)
}

// guardResume decides whether a bin after Resume is comparable with the
// history (see Resume). It returns false to skip the bin; when it drops
// the resumed state it leaves d as a new detector (started false).
func (d *Detector) guardResume(b *bgpwatch.Bin) bool {
	if d.res.guard == 0 {
		return true
	}
	var w int64
	for cc, c := range b.Countries {
		if cc != "" {
			w += int64(c.Slash24)
		}
	}
	if float64(w) >= (1-d.cfg.ResumeTolerance)*float64(d.res.world) {
		d.res.guard = 0
		return true
	}
	d.res.guard--
	if d.res.guard > 0 {
		return false
	}
	*d = *New(d.cfg, d.info)
	d.res.dropped = true
	return true
}

// worldMedian is the median, over the history's last FeedWindow bins, of
// all countries' /24s together: the view just before the restart.
func worldMedian(h *History, last int) int64 {
	n := len(h.Bins)
	if n == 0 || len(h.Countries) == 0 {
		return 0
	}
	delta := make([]int64, n+1)
	for cc, steps := range h.Countries {
		if cc == "" {
			continue
		}
		var v int32
		for _, s := range steps {
			if s.At < 0 || int(s.At) >= n {
				continue
			}
			delta[s.At] += int64(s.Slash24 - v)
			v = s.Slash24
		}
	}
	tot := make([]int64, n)
	var run int64
	for i := range n {
		run += delta[i]
		tot[i] = run
	}
	tot = tot[max(0, n-last):]
	slices.Sort(tot)
	return tot[(len(tot)-1)/2]
}

// Recompute runs a new detector over the stored bins of h as Observe
// would have run over the same bins, and returns every transition in
// order (Started, Updated, Ended), as Observe would have returned them:
// `bgpwatch detect` recomputes events from the stored series with it.
// h.Events is ignored (nothing is forced: the events are the settings'
// own); bins whose FullFeed collapsed are skipped as Observe skips them.
// The history has values, not prefix changes, so the events carry no
// withdrawn-prefix evidence. It does nothing on a detector that has seen
// bins. Quiet ASNs (see Resume) are replayed on their own, so a month of
// 80k ASNs costs about one pass over their steps.
func (d *Detector) Recompute(h *History) []Transition {
	if h == nil || len(h.Bins) == 0 || d.started {
		return nil
	}
	hh := *h
	hh.Events = nil
	d.res.all = true
	out := d.Resume(&hh)
	d.res.all = false
	return out
}

// Resumed reports whether the detector runs on a resumed History, and
// whether it is still checking that the first bins after it are
// comparable (the guard; see Resume).
func (d *Detector) Resumed() (resumed, checking bool) {
	return d.res.active, d.res.guard > 0
}

// ResumeDropped reports whether a resumed History was dropped because the
// bins after it were not comparable (see Resume).
func (d *Detector) ResumeDropped() bool { return d.res.dropped }
