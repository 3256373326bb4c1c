// Package visibility turns a time-ordered stream of route observations into
// per-ASN and per-country visibility bins.
//
// It keeps every (collector, peer) session's Adj-RIB-In, decides which
// sessions carry a full feed, counts for every prefix how many full-feed peer
// ASNs see it, and at every bin boundary reports, per origin ASN and per
// country, the visible IPv4 prefixes, the visible IPv4 address space in /24
// equivalents and the visible IPv6 prefixes.
//
// Definitions (all thresholds from Config):
//
//   - Full-feed session, per address family: its table holds at least
//     FullFeedShare of the largest session table of that family (or at least
//     FullFeedMin / FullFeedMinV6 prefixes when those are set). The full-feed
//     set is re-evaluated at every bin close, so it is fixed within a bin;
//     a peer that goes down stops counting for the prefixes it held at once
//     and stops counting in the denominator at the next bin close.
//   - Full-feed peer ASN: a peer ASN with at least one full-feed session; it
//     sees a prefix if any of its full-feed sessions holds the prefix (any
//     ADD-PATH path id). Peers are thus de-duplicated across collectors.
//   - Visible prefix: seen by strictly more than VisibleShare of the
//     full-feed peer ASNs of its family.
//   - Origin attribution: the origin ASN announced by the most full-feed peer
//     ASNs (each peer ASN votes once for every distinct origin it sees among
//     its full-feed sessions' paths); ties go to the lowest ASN; origin 0
//     (unknown or AS_SET) only wins when no peer reports a real origin, and a
//     prefix attributed to 0 counts for nobody.
//   - /24 equivalents: the address space of the union of an entity's visible
//     IPv4 prefixes (overlaps counted once, also across the ASNs of a
//     country), divided by 256 and rounded down once per union: a lone /25
//     counts 0, two adjacent /25s count 1, a /16 plus any of its more
//     specifics counts 256.
//
// Bins: AdvanceTo closes the bins in order, also those without
// observations. A Bin's maps hold every entity with non-zero counts, plus for
// one bin those that dropped to zero. Changes lists net flips against the
// previous bin (a prefix that disappears and comes back within a bin is not
// listed); a flip's Time is that of the observation causing it (flips caused
// by the full-feed re-evaluation at the bin close carry the time of the bin's
// latest observation); its Origin is the origin the prefix is or was counted
// for. The first table of a family (the full-feed set growing from empty) is
// the initial state, not news, and is not listed.
//
// Cost: prefixes are interned to dense ids; per prefix the engine keeps a
// bitset of the sessions holding it (in planes of 64 sessions, so a new
// session never copies the others' bits), one origin, and the number of
// full-feed peer ASNs seeing it, updated on every observation, so Apply does
// not allocate in steady state. Paths that are not (path id 0, the prefix's
// usual origin) go to a small exception table, sorted by session, with the
// prefix's origin vote kept up to date path by path: no observation costs
// work proportional to the number of sessions. During a collector's dump a
// bitset of that collector's sessions only marks the refreshed routes. Ids
// of prefixes nobody holds any more are recycled at bin close.
//
// An Engine is not safe for concurrent use: the caller serialises Apply,
// AdvanceTo and the read methods (Peers, VisiblePrefixes).
package visibility

import (
	"net/netip"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Config holds the visibility thresholds: the "visibility:" section of the
// configuration file (YAML keys in the field tags; Keys and Validate). New replaces a FullFeedShare
// outside (0, 1], a VisibleShare outside [0, 1) and a Step ≤ 0 by the
// defaults.
type Config struct {
	// FullFeedShare: a session is full-feed when its table holds at least
	// this share of the largest session table of the same address family.
	FullFeedShare float64 `yaml:"full_feed_share"`
	// FullFeedMin, when > 0, replaces the share rule for IPv4 by an absolute
	// table size (IODA uses 400000).
	FullFeedMin int `yaml:"full_feed_min"`
	// FullFeedMinV6, when > 0, replaces the share rule for IPv6 by an
	// absolute table size.
	FullFeedMinV6 int `yaml:"full_feed_min_v6"`
	// VisibleShare: a prefix is visible when strictly more than this share of
	// the full-feed peer ASNs of its family see it.
	VisibleShare float64 `yaml:"visible_share"`
	// Step is the bin width; 0 means bgpwatch.BinStep.
	Step time.Duration `yaml:"-"`
}

// DefaultConfig returns the documented defaults: FullFeedShare 0.9 (full
// feeds of one era differ by a few percent, partial feeds such as customer
// cones hold well under three quarters of the table, and a share keeps
// working from 2002's 110k-route tables to today's 1M without retuning, which
// IODA's absolute 400k does not), VisibleShare 0.5, Step 5 minutes.
func DefaultConfig() Config {
	return Config{FullFeedShare: 0.9, VisibleShare: 0.5, Step: bgpwatch.BinStep}
}

const (
	famV4 = 0
	famV6 = 1
)

// Per-prefix flags.
const (
	flagV6 uint8 = 1 << iota
	flagVisible
	flagExc  // the prefix has entries in Engine.exc
	flagIdle // in Engine.idle: no session held it at some point in this bin
)

// pstate is the hot per-prefix state, indexed by dense prefix id.
type pstate struct {
	origin  bgpwatch.ASN // origin of every simple path (path id 0) that is not in exc
	attr    bgpwatch.ASN // attributed origin; when visible, the prefix is counted for attr
	holders uint16       // sessions holding at least one path
	cnt     uint16       // full-feed peer ASNs of the family seeing the prefix
	flags   uint8
	chg     int32 // 1 + index into Engine.changes for this bin, 0 for none
}

// pathEntry is one path of a session that is not a simple path id 0 with the
// prefix's dominant origin: ADD-PATH ids and MOAS announcements (see
// excList).
type pathEntry struct {
	sess   int32
	pathID uint32
	origin bgpwatch.ASN
	epoch  uint32 // collector dump epoch when last refreshed during a dump
}

type session struct {
	peer     bgpwatch.Peer
	coll     int
	local    int32 // index in its collector's sess
	size     [2]int
	ff       [2]bool
	ffOthers [2][]int32 // other full-feed sessions of the same peer ASN
	last     time.Time
}

type collector struct {
	name   string
	sess   []int32 // its sessions, by local index
	inDump bool
	epoch  uint32
	seen   []uint64 // during a dump: the refresh bitset (see seenWidth)
	width  int      // bits per prefix id in seen
}

type changeRec struct {
	id      uint32
	t       time.Time
	origin  bgpwatch.ASN
	visible bool
	initial bool
}

// Engine holds all visibility state. Create it with New.
type Engine struct {
	cfg       Config
	countryOf func(bgpwatch.ASN) string

	// prefixes
	v4ids  map[uint64]uint32
	v6ids  map[v6key]uint32
	keys   []v6key // the prefixes (IPv4: lo holds the address); pointer-free, so the GC skips it
	st     []pstate
	bits   [][]uint64 // planes: bits[w][id] holds sessions 64w to 64w+63 holding prefix id
	stride int        // len(bits), the words of a session bitset
	exc    map[uint32]*excList
	idle   []uint32 // ids whose last holder left during this bin
	free   []uint32 // recycled ids

	lastPfx netip.Prefix
	lastID  uint32
	lastOK  bool

	// sessions
	sessIdx  map[bgpwatch.Peer]int32
	sess     []session
	pcache   [1 << peerCacheBits]peerSlot
	lastSess int32
	colls    []collector
	collIdx  map[string]int

	ffMask   [2][]uint64       // full-feed sessions
	ffSingle [2][]uint64       // full-feed sessions that are their peer ASN's only one
	ffMulti  [2][][]int32      // groups of full-feed sessions sharing a peer ASN
	ffN      [2]int            // full-feed peer ASNs
	thr      [2]int            // minimum cnt for visibility
	quiet    [2]bool           // do not record changes (first table of a family)
	vbuf     [4][]bgpwatch.ASN // scratch of the origin vote
	obuf     []originCount     // scratch of rebase
	scratch  []uint64          // scratch
	ents     map[bgpwatch.ASN]*entity
	ctrs     map[string]*entity
	dirty    []*entity
	outASN   map[bgpwatch.ASN]bgpwatch.Counts
	outCtry  map[string]bgpwatch.Counts
	zeroASN  []bgpwatch.ASN
	zeroCtry []string

	// bins
	open     bool
	binStart time.Time
	binEnd   time.Time // binStart + Step
	now      time.Time
	changes  []changeRec
	outChg   []bgpwatch.VisibilityChange
}

type v6key struct {
	hi, lo uint64
	bits   uint8
}

// New returns an empty Engine. countryOf maps an origin ASN to its ISO
// country code ("" when unknown; such ASNs count for no country); nil means
// no countries.
func New(cfg Config, countryOf func(bgpwatch.ASN) string) *Engine {
	if cfg.Step <= 0 {
		cfg.Step = bgpwatch.BinStep
	}
	if cfg.FullFeedShare <= 0 || cfg.FullFeedShare > 1 {
		cfg.FullFeedShare = DefaultConfig().FullFeedShare
	}
	if cfg.VisibleShare < 0 || cfg.VisibleShare >= 1 {
		cfg.VisibleShare = DefaultConfig().VisibleShare
	}
	if countryOf == nil {
		countryOf = func(bgpwatch.ASN) string { return "" }
	}
	e := &Engine{
		cfg:       cfg,
		countryOf: countryOf,
		v4ids:     make(map[uint64]uint32),
		v6ids:     make(map[v6key]uint32),
		bits:      make([][]uint64, 1),
		stride:    1,
		exc:       make(map[uint32]*excList),
		sessIdx:   make(map[bgpwatch.Peer]int32),
		collIdx:   make(map[string]int),
		ents:      make(map[bgpwatch.ASN]*entity),
		ctrs:      make(map[string]*entity),
		outASN:    make(map[bgpwatch.ASN]bgpwatch.Counts),
		outCtry:   make(map[string]bgpwatch.Counts),
	}
	for f := range 2 {
		e.ffMask[f] = make([]uint64, 1)
		e.ffSingle[f] = make([]uint64, 1)
		e.thr[f] = 1
	}
	return e
}

// binFloor returns the start of the bin holding t, aligned to the Unix epoch.
func (e *Engine) binFloor(t time.Time) time.Time {
	step := int64(e.cfg.Step)
	n := t.UnixNano()
	r := n % step
	if r < 0 {
		r += step
	}
	return time.Unix(0, n-r).UTC()
}

// AdvanceTo closes, in order, every bin that ends at or before t, calling
// emit for each, also for bins without observations (the state carries
// over). The first call opens the bin holding t. Call it with an
// observation's time before Apply, and with the end of input at the end. If
// emit fails, AdvanceTo returns its error; that bin is not emitted again.
func (e *Engine) AdvanceTo(t time.Time, emit func(*bgpwatch.Bin) error) error {
	if !e.open {
		e.openAt(t)
		return nil
	}
	// Called before every observation: most calls stay in the open bin.
	if t.Before(e.binEnd) {
		return nil
	}
	for {
		end := e.binEnd
		if end.After(t) {
			return nil
		}
		err := e.closeBin(emit)
		e.binStart = end
		e.binEnd = end.Add(e.cfg.Step)
		e.now = end
		if err != nil {
			return err
		}
	}
}

func (e *Engine) openAt(t time.Time) {
	e.open = true
	e.binStart = e.binFloor(t)
	e.binEnd = e.binStart.Add(e.cfg.Step)
	e.now = e.binStart
}

// Apply applies one observation to the open bin. Observations older than
// the open bin count as observations at its start.
func (e *Engine) Apply(o *bgpwatch.Observation) {
	if !e.open {
		e.openAt(o.Time)
	}
	if o.Time.After(e.now) {
		e.now = o.Time
	}
	switch o.Kind {
	case bgpwatch.Announce, bgpwatch.TableRoute:
		id, ok := e.intern(o.Prefix)
		if !ok {
			return
		}
		s := e.session(&o.Peer)
		e.sess[s].last = o.Time
		e.announce(id, s, o.PathID, o.Origin)
	case bgpwatch.Withdraw:
		s := e.session(&o.Peer)
		e.sess[s].last = o.Time
		id, ok := e.lookup(o.Prefix)
		if !ok {
			return
		}
		e.withdraw(id, s, o.PathID)
	case bgpwatch.PeerDown:
		s, ok := e.sessIdx[o.Peer]
		if !ok {
			return
		}
		e.sess[s].last = o.Time
		e.dropSession(s)
	case bgpwatch.TableStart:
		e.tableStart(e.collector(o.Peer.Collector))
	case bgpwatch.TableEnd:
		if c, ok := e.collIdx[o.Peer.Collector]; ok {
			e.tableEnd(c)
		}
	}
}

// changeTime is the time recorded for a visibility flip happening now.
func (e *Engine) changeTime() time.Time {
	if e.now.Before(e.binStart) {
		return e.binStart
	}
	return e.now
}

// ---- bins ----

func (e *Engine) closeBin(emit func(*bgpwatch.Bin) error) error {
	e.evalFullFeed()
	e.flush()
	out := e.outChg[:0]
	for _, c := range e.changes {
		e.st[c.id].chg = 0
		if c.visible == c.initial {
			continue
		}
		out = append(out, bgpwatch.VisibilityChange{Time: c.t, Prefix: e.prefix(c.id), Origin: c.origin, Visible: c.visible})
	}
	e.changes = e.changes[:0]
	e.outChg = out
	e.recycle()
	bin := &bgpwatch.Bin{
		Start:     e.binStart,
		ASNs:      e.outASN,
		Countries: e.outCtry,
		Changes:   out,
		FullFeed:  e.ffN[famV4],
	}
	return emit(bin)
}

// recycle frees the ids of prefixes no session holds any more, so that a
// long-running engine does not grow with every prefix ever announced.
func (e *Engine) recycle() {
	for _, id := range e.idle {
		p := &e.st[id]
		p.flags &^= flagIdle
		if p.holders != 0 || p.flags&(flagVisible|flagExc) != 0 || p.chg != 0 {
			continue
		}
		k := e.keys[id]
		if p.flags&flagV6 == 0 {
			delete(e.v4ids, k.lo<<8|uint64(k.bits))
		} else {
			delete(e.v6ids, k)
		}
		for i := range e.colls {
			if e.colls[i].inDump {
				e.colls[i].unseeAll(id)
			}
		}
		if e.lastOK && e.lastID == id {
			e.lastOK = false
		}
		e.free = append(e.free, id)
	}
	e.idle = e.idle[:0]
}
