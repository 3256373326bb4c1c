package detect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// TransitionKind says what happened to an event in one bin.
type TransitionKind uint8

// Transition kinds.
const (
	// Started: the event was confirmed (its StartedAt is retroactive).
	Started TransitionKind = iota + 1
	// Updated: the minimum, the contributing ASNs or the evidence changed.
	Updated
	// Ended: sustained recovery; EndedAt is the first bin of the recovery.
	Ended
)

// String names the kind: "started", "updated" or "ended".
func (k TransitionKind) String() string {
	switch k {
	case Started:
		return "started"
	case Updated:
		return "updated"
	case Ended:
		return "ended"
	}
	return "unknown"
}

// Transition is one change of one event. Event is a copy the receiver may
// keep; its slices are not shared with the detector.
type Transition struct {
	Kind  TransitionKind
	Event bgpwatch.Event
}

// Detector turns a series of bins into events. It is not safe for
// concurrent use; feed it from one goroutine.
type Detector struct {
	cfg      Config
	info     func(bgpwatch.ASN) bgpwatch.ASNInfo
	window   int // bins in the baseline window
	minHist  int // bins of warm-up
	minBins  int // bins below the drop level to start
	recBins  int // bins of recovery to end
	trackMin int // smallest value at which an ASN gets a history

	asns     []*asnEntity // sorted by ASN
	asnIdx   map[bgpwatch.ASN]*asnEntity
	national map[string][]*asnEntity // sorted by ASN
	ccs      []*countryEntity        // sorted by code
	ccIdx    map[string]*countryEntity

	feed     []int // recent FullFeed values (ring)
	feedPos  int
	last     time.Time // Start of the last bin seen (accepted or not)
	started  bool      // a bin was seen
	accepted int
	period   time.Duration // RecomputeEvery bins: ticks fall on its multiples
	tickAt   time.Time     // period of the last tick
	scratch  []int32
	feedTmp  []int32

	res resumeState // set by Resume
}

// tracker is the per-entity state shared by countries and ASNs.
type tracker struct {
	hist history
	ev   *open   // nil while normal
	seed *cursor // the entity's History steps, during Resume only
}

type asnEntity struct {
	tracker
	asn     bgpwatch.ASN
	country string
	last    int32        // value in the latest accepted bin
	log     []withdrawal // recent invisible-flips, in time order
}

type countryEntity struct {
	tracker
	cc   string
	last int32 // value in the latest accepted bin
}

// withdrawal is one invisible-flip of a prefix; restored is set when the
// prefix became visible again.
type withdrawal struct {
	prefix   netip.Prefix
	at       time.Time
	restored time.Time
}

// open is an event being confirmed (pending) or ongoing.
type open struct {
	start     time.Time
	end       time.Time
	base      int32
	min       int32
	area      float64
	confirmed bool
	below     int // bins below the drop level while pending
	recRun    int // consecutive recovered bins
	recStart  time.Time
	tentArea  float64 // area of the recovered bins, counted on relapse
	contrib   []contribState
	snapped   bool // contrib holds the national ASNs' baselines
	// what was last emitted, to decide on Updated
	sigMin  int32
	sigASNs []bgpwatch.ASN
	sigW    int
	// set by Resume for stored events
	stored     bool    // the event is in the store: never reported as started again
	report     bool    // stored as ongoing: its changes during Resume are reported
	late       bool    // it started before the History's data: area is partial
	storedArea float64 // the stored alert area of a late event
}

type contribState struct {
	a    *asnEntity
	base int32
	min  int32
}

// New returns a detector. info is asked once per ASN for its country (when
// the ASN is first tracked) and again for names and access types when an
// event is emitted; it must not block.
func New(cfg Config, info func(bgpwatch.ASN) bgpwatch.ASNInfo) *Detector {
	cfg = cfg.sanitize()
	if info == nil {
		info = func(a bgpwatch.ASN) bgpwatch.ASNInfo { return bgpwatch.ASNInfo{ASN: a, Access: bgpwatch.AccessUnknown} }
	}
	d := &Detector{
		cfg:      cfg,
		info:     info,
		window:   cfg.bins(cfg.Window),
		minHist:  cfg.bins(cfg.MinHistory),
		minBins:  cfg.bins(cfg.MinDuration),
		recBins:  cfg.bins(cfg.RecoverFor),
		trackMin: min(cfg.ContribMinSlash24, cfg.ASN.MinSlash24),
		asnIdx:   make(map[bgpwatch.ASN]*asnEntity),
		national: make(map[string][]*asnEntity),
		ccIdx:    make(map[string]*countryEntity),
		period:   time.Duration(cfg.RecomputeEvery) * cfg.Step,
	}
	return d
}

// Config returns the detector's configuration, with the defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Observe feeds one bin and returns the event transitions it causes, ASN
// events first (by ASN), then country events (by code). Bins must come in
// time order; a bin not after the previous one is ignored. Bins without
// full-feed peers, or whose FullFeed collapsed (collector outage), are
// skipped: they neither start nor end events nor enter the baseline.
func (d *Detector) Observe(b *bgpwatch.Bin) []Transition {
	if b == nil {
		return nil
	}
	if d.started && !b.Start.After(d.last) {
		d.replayChanges(b)
		return nil
	}
	d.started = true
	d.last = b.Start
	d.recordChanges(b)
	if !d.acceptFeed(b.FullFeed) {
		return nil
	}
	if !d.guardResume(b) {
		return nil
	}
	if !d.started { // the resumed state was dropped: start afresh with this bin
		return d.Observe(b)
	}
	d.accepted++
	tick := d.tick(b.Start)
	if tick {
		d.discover(b)
	}
	for _, a := range d.asns {
		a.last = int32(b.ASNs[a.asn].Slash24)
	}
	for _, c := range d.ccs {
		c.last = int32(b.Countries[c.cc].Slash24)
	}
	return d.stepAll(nil, d.asns, b.Start, tick)
}

// tick reports whether an accepted bin at t refreshes the cached medians
// and looks for new entities: the first accepted bin, then the first
// accepted bin of every period of RecomputeEvery bins on the clock, so that
// a resumed detector ticks at the same bins as one that ran on.
func (d *Detector) tick(t time.Time) bool {
	p := t.Truncate(d.period)
	if d.accepted == 1 || !p.Equal(d.tickAt) {
		d.tickAt = p
		return true
	}
	return false
}

// stepAll advances the given ASNs (sorted) and every country by one
// accepted bin at t, with the values already in the entities' last fields,
// and appends the transitions.
func (d *Detector) stepAll(out []Transition, asns []*asnEntity, t time.Time, tick bool) []Transition {
	for _, a := range asns {
		act := d.step(&a.tracker, a.last, t, d.cfg.ASN, tick)
		out = d.emit(out, act, &a.tracker, func() bgpwatch.Event { return d.asnEvent(a) })
	}
	for _, c := range d.ccs {
		act := d.step(&c.tracker, c.last, t, d.cfg.Country, tick)
		if c.ev != nil && act != actEnd && act != actRecovering {
			d.trackContrib(c)
		}
		out = d.emit(out, act, &c.tracker, func() bgpwatch.Event { return d.countryEvent(c) })
	}
	return out
}

// Ongoing returns copies of the confirmed events that have not ended: ASN
// events (by ASN), then country events (by code).
func (d *Detector) Ongoing() []bgpwatch.Event {
	var out []bgpwatch.Event
	for _, a := range d.asns {
		if a.ev != nil && a.ev.confirmed {
			out = append(out, d.asnEvent(a))
		}
	}
	for _, c := range d.ccs {
		if c.ev != nil && c.ev.confirmed {
			out = append(out, d.countryEvent(c))
		}
	}
	return out
}

type action uint8

const (
	actNone action = iota
	actPendingStart
	actPending
	actAbort
	actStart
	actContinue
	actRecovering
	actEnd
)

// below reports v ≤ base×(1−drop): at or under a start level.
func below(v, base int32, drop float64) bool {
	return float64(v) <= float64(base)*(1-drop)+levelEps
}

// recovered reports v ≥ base×(1−rec): at or above the recovery level
// (not merely "not below" it: a value exactly at the level recovers).
func recovered(v, base int32, rec float64) bool {
	return float64(v) >= float64(base)*(1-rec)-levelEps
}

// levelEps absorbs the rounding of base×(1−x) (1−0.15 is not 0.85 in
// binary), so that a value exactly at a level counts as at it; values
// are whole /24 counts, so it moves nothing else.
const levelEps = 1e-6

func (d *Detector) binArea(v, base int32) float64 {
	if base <= 0 || v >= base {
		return 0
	}
	return float64(base-v) / float64(base) * d.cfg.Step.Hours()
}

// step advances one entity's state machine by one accepted bin.
func (d *Detector) step(s *tracker, v int32, t time.Time, th Thresholds, tick bool) action {
	h := &s.hist
	act := actPending
	if s.ev == nil {
		if tick || h.len() == d.minHist {
			h.get(&d.scratch)
		}
		// The cached median is refreshed on ticks only, but a drop from
		// the current one is never missed: hi bounds it from above, and
		// only a value at or under hi's drop level costs a recomputation.
		if h.len() < d.minHist || !below(v, h.hi, th.Drop) {
			h.push(v)
			return actNone
		}
		base := h.get(&d.scratch)
		if int(base) < th.MinSlash24 || !below(v, base, th.Drop) {
			h.push(v)
			return actNone
		}
		s.ev = &open{start: t, base: base, min: v, sigMin: -1}
		act = actPendingStart
	}
	o := s.ev
	if !o.confirmed {
		if !below(v, o.base, th.Drop) {
			s.ev = nil
			h.push(v)
			return actAbort
		}
		o.below++
		o.min = min(o.min, v)
		o.area += d.binArea(v, o.base)
		if o.below >= d.minBins {
			o.confirmed = true
			return actStart
		}
		return act
	}
	if recovered(v, o.base, th.Recover) {
		if o.recRun == 0 {
			o.recStart = t
			o.tentArea = 0
		}
		o.recRun++
		o.tentArea += d.binArea(v, o.base)
		if o.recRun >= d.recBins {
			o.end = o.recStart
			return actEnd
		}
		return actRecovering
	}
	if o.recRun > 0 {
		o.area += o.tentArea
		o.recRun = 0
	}
	o.min = min(o.min, v)
	o.area += d.binArea(v, o.base)
	return actContinue
}

// emit appends the transition for act, if any, and closes ended events.
// While resuming, only the changes of events stored as ongoing are kept
// (they are catch-ups of what the previous run did not save).
func (d *Detector) emit(out []Transition, act action, s *tracker, build func() bgpwatch.Event) []Transition {
	keep := !d.res.running || d.res.all || (s.ev != nil && s.ev.report)
	switch act {
	case actStart:
		if s.ev.stored {
			return out
		}
		ev := build()
		d.sign(s.ev, &ev)
		if keep {
			out = append(out, Transition{Kind: Started, Event: ev})
		}
	case actContinue:
		ev := build()
		if d.changed(s.ev, &ev) {
			d.sign(s.ev, &ev)
			if keep {
				out = append(out, Transition{Kind: Updated, Event: ev})
			}
		}
	case actEnd:
		if keep {
			out = append(out, Transition{Kind: Ended, Event: build()})
		}
		s.ev = nil
	}
	return out
}

func (d *Detector) sign(o *open, ev *bgpwatch.Event) {
	o.sigMin = int32(ev.MinSlash24)
	o.sigW = len(ev.Withdrawn)
	o.sigASNs = o.sigASNs[:0]
	for _, a := range ev.ASNs {
		o.sigASNs = append(o.sigASNs, a.ASN)
	}
}

func (d *Detector) changed(o *open, ev *bgpwatch.Event) bool {
	if int32(ev.MinSlash24) != o.sigMin || len(ev.Withdrawn) != o.sigW || len(ev.ASNs) != len(o.sigASNs) {
		return true
	}
	for i, a := range ev.ASNs {
		if a.ASN != o.sigASNs[i] {
			return true
		}
	}
	return false
}

// acceptFeed decides whether a bin's data is trustworthy: FullFeed > 0 and
// not below FeedCollapse × the median of the previous FeedWindow bins. The
// skipped bins' FullFeed still enters the window, so a lasting change of
// the peer set is accepted after about FeedWindow/2 bins.
func (d *Detector) acceptFeed(ff int) bool {
	if ff <= 0 {
		return false
	}
	ok := true
	if len(d.feed) > 0 {
		d.feedTmp = d.feedTmp[:0]
		for _, f := range d.feed {
			d.feedTmp = append(d.feedTmp, int32(f))
		}
		med := medianOf(d.feedTmp, &d.feedTmp)
		if float64(ff) < d.cfg.FeedCollapse*float64(med) {
			ok = false
		}
	}
	d.pushFeed(ff)
	return ok
}

// pushFeed adds a bin's FullFeed to the window, replacing the oldest.
func (d *Detector) pushFeed(ff int) {
	if len(d.feed) < d.cfg.FeedWindow {
		d.feed = append(d.feed, ff)
	} else {
		d.feed[d.feedPos] = ff
		d.feedPos = (d.feedPos + 1) % d.cfg.FeedWindow
	}
}

// discover starts tracking ASNs at or above trackMin /24s and every country
// with visible space. It runs on ticks (the first accepted bin and then
// once per RecomputeEvery bins), so its map scan is amortised; a new entity
// needs MinHistory of warm-up anyway.
func (d *Detector) discover(b *bgpwatch.Bin) {
	var newASN, newCC bool
	touched := map[string]bool{}
	for asn, c := range b.ASNs {
		if c.Slash24 < d.trackMin {
			continue
		}
		if _, ok := d.asnIdx[asn]; ok {
			continue
		}
		if a := d.addASN(asn); a.country != "" {
			touched[a.country] = true
		}
		newASN = true
	}
	for cc, c := range b.Countries {
		if c.Slash24 <= 0 {
			continue
		}
		if _, ok := d.ccIdx[cc]; ok {
			continue
		}
		d.addCountry(cc)
		newCC = true
	}
	d.sortEntities(newASN, newCC, touched)
}

// addASN starts tracking asn; the caller sorts (sortEntities).
func (d *Detector) addASN(asn bgpwatch.ASN) *asnEntity {
	a := &asnEntity{asn: asn, country: d.info(asn).Country}
	a.hist = newHistory(d.window)
	d.asnIdx[asn] = a
	d.asns = append(d.asns, a)
	if a.country != "" {
		d.national[a.country] = append(d.national[a.country], a)
	}
	return a
}

// addCountry starts tracking cc; the caller sorts (sortEntities).
func (d *Detector) addCountry(cc string) *countryEntity {
	e := &countryEntity{cc: cc}
	e.hist = newHistory(d.window)
	d.ccIdx[cc] = e
	d.ccs = append(d.ccs, e)
	return e
}

// sortEntities restores the sorted order after additions.
func (d *Detector) sortEntities(asns, ccs bool, touched map[string]bool) {
	byASN := func(x, y *asnEntity) int { return cmp.Compare(x.asn, y.asn) }
	if asns {
		slices.SortFunc(d.asns, byASN)
	}
	for cc := range touched {
		slices.SortFunc(d.national[cc], byASN)
	}
	if ccs {
		slices.SortFunc(d.ccs, func(x, y *countryEntity) int { return cmp.Compare(x.cc, y.cc) })
	}
}
