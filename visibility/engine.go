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
// bitset of the sessions holding it, one origin, and the number of full-feed
// peer ASNs seeing it, updated on every observation, so Apply does not
// allocate in steady state. Paths that are not (path id 0, the prefix's usual
// origin) go to a small exception table. Ids of prefixes nobody holds any
// more are recycled at bin close.
//
// An Engine is not safe for concurrent use: the caller serialises Apply,
// AdvanceTo and the read methods (Peers, VisiblePrefixes).
package visibility

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
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
// prefix's dominant origin: ADD-PATH ids and MOAS announcements.
type pathEntry struct {
	sess   int32
	pathID uint32
	origin bgpwatch.ASN
	epoch  uint32 // collector dump epoch when last refreshed during a dump
}

type session struct {
	peer     bgpwatch.Peer
	coll     int
	size     [2]int
	ff       [2]bool
	ffOthers [2][]int32 // other full-feed sessions of the same peer ASN
	last     time.Time
}

type collector struct {
	name      string
	mask      []uint64 // its sessions
	inDump    bool
	epoch     uint32
	seenDirty bool
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
	bits   []uint64 // stride words per prefix: sessions holding it
	seen   []uint64 // same layout: sessions refreshed during their collector's dump; nil between dumps (see dropSeen)
	dumped bool     // a dump started or ended in the open bin
	stride int
	exc    map[uint32][]pathEntry
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

	ffMask   [2][]uint64  // full-feed sessions
	ffSingle [2][]uint64  // full-feed sessions that are their peer ASN's only one
	ffMulti  [2][][]int32 // groups of full-feed sessions sharing a peer ASN
	ffN      [2]int       // full-feed peer ASNs
	thr      [2]int       // minimum cnt for visibility
	quiet    [2]bool      // do not record changes (first table of a family)
	votes    []vote       // scratch
	scratch  []uint64     // scratch
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
		stride:    1,
		exc:       make(map[uint32][]pathEntry),
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

// ---- prefixes ----

func mask32(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func mask64(bits int) uint64 {
	if bits <= 0 {
		return 0
	}
	if bits >= 64 {
		return ^uint64(0)
	}
	return ^uint64(0) << (64 - bits)
}

// key4 returns the dense-map key of an IPv4 prefix: masked address and length.
func key4(p netip.Prefix) uint64 {
	a := p.Addr().As4()
	b := p.Bits()
	return uint64(binary.BigEndian.Uint32(a[:])&mask32(b))<<8 | uint64(b)
}

func key6(p netip.Prefix) v6key {
	a := p.Addr().As16()
	b := p.Bits()
	return v6key{
		hi:   binary.BigEndian.Uint64(a[:8]) & mask64(b),
		lo:   binary.BigEndian.Uint64(a[8:]) & mask64(b-64),
		bits: uint8(b),
	}
}

// lookup returns the id of an interned prefix.
func (e *Engine) lookup(p netip.Prefix) (uint32, bool) {
	if e.lastOK && p == e.lastPfx {
		return e.lastID, true
	}
	if !p.IsValid() {
		return 0, false
	}
	var id uint32
	var ok bool
	if p.Addr().Is4() {
		id, ok = e.v4ids[key4(p)]
	} else {
		id, ok = e.v6ids[key6(p)]
	}
	if ok {
		e.lastPfx, e.lastID, e.lastOK = p, id, true
	}
	return id, ok
}

// intern returns the id of p, adding it when new.
func (e *Engine) intern(p netip.Prefix) (uint32, bool) {
	if e.lastOK && p == e.lastPfx {
		return e.lastID, true
	}
	if !p.IsValid() {
		return 0, false
	}
	var id uint32
	var ok bool
	v4 := p.Addr().Is4()
	if v4 {
		k := key4(p)
		if id, ok = e.v4ids[k]; !ok {
			id = e.newPrefix(p.Masked(), false)
			e.v4ids[k] = id
		}
	} else {
		k := key6(p)
		if id, ok = e.v6ids[k]; !ok {
			id = e.newPrefix(p.Masked(), true)
			e.v6ids[k] = id
		}
	}
	e.lastPfx, e.lastID, e.lastOK = p, id, true
	return id, true
}

func (e *Engine) newPrefix(p netip.Prefix, v6 bool) uint32 {
	var k v6key
	if v6 {
		k = key6(p)
	} else {
		k4 := key4(p)
		k = v6key{lo: k4 >> 8, bits: uint8(k4)}
	}
	if n := len(e.free); n > 0 {
		id := e.free[n-1]
		e.free = e.free[:n-1]
		e.keys[id] = k
		e.st[id] = pstate{}
		if v6 {
			e.st[id].flags = flagV6
		}
		return id
	}
	id := uint32(len(e.st))
	e.keys = append(e.keys, k)
	var f uint8
	if v6 {
		f = flagV6
	}
	e.st = append(e.st, pstate{flags: f})
	for range e.stride {
		e.bits = append(e.bits, 0)
		if e.seen != nil {
			e.seen = append(e.seen, 0)
		}
	}
	return id
}

// prefix returns the prefix with id.
func (e *Engine) prefix(id uint32) netip.Prefix {
	k := e.keys[id]
	if e.st[id].flags&flagV6 == 0 {
		a := uint32(k.lo)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), int(k.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.bits))
}

func (p *pstate) fam() int { return int(p.flags & flagV6) }

// ---- sessions ----

func (e *Engine) collector(name string) int {
	if c, ok := e.collIdx[name]; ok {
		return c
	}
	c := len(e.colls)
	e.colls = append(e.colls, collector{name: name, mask: make([]uint64, e.stride)})
	e.collIdx[name] = c
	return c
}

// session returns the dense id of a peer's session, adding it when new.
func (e *Engine) session(p *bgpwatch.Peer) int32 {
	// RIB dumps list each prefix's routes in peer-index order and updates
	// come in runs from one peer: try the last session and its successor
	// before the hash cache.
	if l := e.lastSess; l < int32(len(e.sess)) {
		if e.sess[l].peer == *p {
			return l
		}
		if l+1 < int32(len(e.sess)) && e.sess[l+1].peer == *p {
			e.lastSess = l + 1
			return l + 1
		}
	}
	c := &e.pcache[peerHash(p)]
	if c.s > 0 && c.peer == *p {
		e.lastSess = c.s - 1
		return c.s - 1
	}
	s, ok := e.sessIdx[*p]
	if !ok {
		s = int32(len(e.sess))
		if int(s) >= e.stride*64 {
			e.grow()
		}
		c := e.collector(p.Collector)
		e.sess = append(e.sess, session{peer: *p, coll: c})
		e.sessIdx[*p] = s
		e.colls[c].mask[s>>6] |= 1 << (s & 63)
	}
	c.peer, c.s = *p, s+1
	e.lastSess = s
	return s
}

// peerHash picks the session cache slot of a peer: RIB dumps cycle through
// all peers for every prefix, so a map lookup hashing the collector name on
// every observation would dominate Apply.
func peerHash(p *bgpwatch.Peer) uint32 {
	a := p.Addr.As16()
	h := uint32(p.ASN)*0x9e3779b1 ^ binary.LittleEndian.Uint32(a[12:])*0x85ebca6b ^ binary.LittleEndian.Uint32(a[8:])*0xc2b2ae35 ^ uint32(len(p.Collector))
	h ^= h >> 15
	h *= 0x2c1b3c6d
	return h >> (32 - peerCacheBits)
}

const peerCacheBits = 12

type peerSlot struct {
	peer bgpwatch.Peer
	s    int32 // session id + 1; 0 for an empty slot
}

// grow adds one word to every per-prefix bitset.
func (e *Engine) grow() {
	old, ns := e.stride, e.stride+1
	regrow := func(src []uint64) []uint64 {
		if src == nil {
			return nil
		}
		dst := make([]uint64, len(e.st)*ns)
		for i := range e.st {
			copy(dst[i*ns:i*ns+old], src[i*old:(i+1)*old])
		}
		return dst
	}
	e.bits = regrow(e.bits)
	e.seen = regrow(e.seen)
	for i := range e.colls {
		e.colls[i].mask = append(e.colls[i].mask, 0)
	}
	for f := range 2 {
		e.ffMask[f] = append(e.ffMask[f], 0)
		e.ffSingle[f] = append(e.ffSingle[f], 0)
	}
	e.stride = ns
}

func (e *Engine) held(id uint32, s int32) bool {
	return e.bits[int(id)*e.stride+int(s>>6)]&(1<<(s&63)) != 0
}

// gain records that session s now holds prefix id.
func (e *Engine) gain(id uint32, s int32) {
	p := &e.st[id]
	f := p.fam()
	sp := &e.sess[s]
	if sp.ff[f] && !e.othersHold(id, sp.ffOthers[f]) {
		p.cnt++
	}
	e.bits[int(id)*e.stride+int(s>>6)] |= 1 << (s & 63)
	p.holders++
	sp.size[f]++
}

// lose records that session s no longer holds prefix id.
func (e *Engine) lose(id uint32, s int32) {
	p := &e.st[id]
	f := p.fam()
	sp := &e.sess[s]
	e.bits[int(id)*e.stride+int(s>>6)] &^= 1 << (s & 63)
	if sp.ff[f] && !e.othersHold(id, sp.ffOthers[f]) {
		p.cnt--
	}
	p.holders--
	sp.size[f]--
	if p.holders == 0 && p.flags&flagIdle == 0 {
		p.flags |= flagIdle
		e.idle = append(e.idle, id)
	}
}

func (e *Engine) othersHold(id uint32, others []int32) bool {
	for _, o := range others {
		if e.held(id, o) {
			return true
		}
	}
	return false
}

// ---- route changes ----

func (e *Engine) announce(id uint32, s int32, pathID uint32, origin bgpwatch.ASN) {
	p := &e.st[id]
	w := int(id)*e.stride + int(s>>6)
	bit := uint64(1) << (s & 63)
	held := e.bits[w]&bit != 0
	var epoch uint32
	wasSeen := false
	if c := &e.colls[e.sess[s].coll]; c.inDump {
		wasSeen = e.seen[w]&bit != 0
		e.seen[w] |= bit
		c.seenDirty = true
		epoch = c.epoch
	}
	if p.flags&flagExc != 0 && e.hasEntries(id, s) {
		e.setEntry(id, s, pathID, origin, epoch)
		e.collapse(id, s)
		e.eval(id)
		return
	}
	if held {
		if pathID == 0 && origin == p.origin {
			return // refresh of the simple path: nothing changes
		}
		// The simple path becomes an explicit entry next to the new one.
		var oldEpoch uint32
		if wasSeen {
			oldEpoch = epoch
		}
		e.setEntry(id, s, 0, p.origin, oldEpoch)
		e.setEntry(id, s, pathID, origin, epoch)
		e.collapse(id, s)
		e.eval(id)
		return
	}
	if p.holders == 0 {
		p.origin = origin
	}
	if pathID != 0 || origin != p.origin {
		e.setEntry(id, s, pathID, origin, epoch)
	}
	e.gain(id, s)
	e.eval(id)
}

func (e *Engine) withdraw(id uint32, s int32, pathID uint32) {
	if !e.held(id, s) {
		return
	}
	p := &e.st[id]
	if p.flags&flagExc != 0 && e.hasEntries(id, s) {
		if !e.delEntry(id, s, pathID) {
			return
		}
		if e.hasEntries(id, s) {
			e.collapse(id, s)
		} else {
			e.lose(id, s)
		}
		e.eval(id)
		return
	}
	if pathID != 0 {
		return
	}
	e.lose(id, s)
	e.eval(id)
}

// dropAll removes every path of session s for prefix id.
func (e *Engine) dropAll(id uint32, s int32) {
	if e.st[id].flags&flagExc != 0 {
		e.delSession(id, s)
	}
	e.lose(id, s)
	e.eval(id)
}

// dropSession removes every route of session s (peer down).
func (e *Engine) dropSession(s int32) {
	sp := &e.sess[s]
	if sp.size[0] == 0 && sp.size[1] == 0 {
		return
	}
	wi, bit := int(s>>6), uint64(1)<<(s&63)
	for id := range e.st {
		if e.bits[id*e.stride+wi]&bit != 0 {
			e.dropAll(uint32(id), s)
		}
	}
}

// ---- exception entries (ADD-PATH ids, origins differing from the dominant one) ----

func (e *Engine) hasEntries(id uint32, s int32) bool {
	for _, en := range e.exc[id] {
		if en.sess == s {
			return true
		}
	}
	return false
}

func (e *Engine) setEntry(id uint32, s int32, pathID uint32, origin bgpwatch.ASN, epoch uint32) {
	l := e.exc[id]
	for i := range l {
		if l[i].sess == s && l[i].pathID == pathID {
			l[i].origin = origin
			l[i].epoch = epoch
			return
		}
	}
	e.exc[id] = append(l, pathEntry{sess: s, pathID: pathID, origin: origin, epoch: epoch})
	e.st[id].flags |= flagExc
}

// delEntry removes one path; it reports whether the path was there.
func (e *Engine) delEntry(id uint32, s int32, pathID uint32) bool {
	l := e.exc[id]
	for i := range l {
		if l[i].sess == s && l[i].pathID == pathID {
			l[i] = l[len(l)-1]
			e.setList(id, l[:len(l)-1])
			return true
		}
	}
	return false
}

func (e *Engine) delSession(id uint32, s int32) {
	l := e.exc[id]
	n := 0
	for _, en := range l {
		if en.sess != s {
			l[n] = en
			n++
		}
	}
	e.setList(id, l[:n])
}

func (e *Engine) setList(id uint32, l []pathEntry) {
	if len(l) == 0 {
		delete(e.exc, id)
		e.st[id].flags &^= flagExc
		return
	}
	e.exc[id] = l
}

// collapse turns a session's entries back into a simple path when its only
// path is path id 0 with the dominant origin.
func (e *Engine) collapse(id uint32, s int32) {
	l := e.exc[id]
	n, at := 0, -1
	for i, en := range l {
		if en.sess == s {
			n++
			at = i
		}
	}
	if n != 1 || l[at].pathID != 0 || l[at].origin != e.st[id].origin {
		return
	}
	if c := &e.colls[e.sess[s].coll]; c.inDump && l[at].epoch != c.epoch {
		w := int(id)*e.stride + int(s>>6)
		e.seen[w] &^= 1 << (s & 63)
	}
	l[at] = l[len(l)-1]
	e.setList(id, l[:len(l)-1])
}

// ---- dumps ----

func (e *Engine) tableStart(c int) {
	if e.seen == nil {
		e.seen = make([]uint64, len(e.bits))
	}
	if e.colls[c].seenDirty {
		e.clearSeen(c)
	}
	e.colls[c].inDump = true
	e.colls[c].epoch++
	e.dumped = true
}

func (e *Engine) clearSeen(c int) {
	m := e.colls[c].mask
	for id := range e.st {
		row := e.seen[id*e.stride : (id+1)*e.stride]
		for w := range row {
			row[w] &^= m[w]
		}
	}
	e.colls[c].seenDirty = false
}

// tableEnd drops every route of collector c's sessions not refreshed since
// its TableStart.
func (e *Engine) tableEnd(c int) {
	col := &e.colls[c]
	if !col.inDump {
		return
	}
	m := col.mask
	for id := range e.st {
		base := id * e.stride
		for w := range e.stride {
			stale := e.bits[base+w] & m[w] &^ e.seen[base+w]
			e.seen[base+w] &^= m[w]
			for stale != 0 {
				b := bits.TrailingZeros64(stale)
				stale &= stale - 1
				e.dropAll(uint32(id), int32(w*64+b))
			}
		}
	}
	// ADD-PATH ids and MOAS entries of refreshed sessions not refreshed themselves.
	var ids []uint32
	for id, l := range e.exc {
		for _, en := range l {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				ids = append(ids, id)
				break
			}
		}
	}
	for _, id := range ids {
		l := e.exc[id]
		var touched []int32
		n := 0
		for _, en := range l {
			if e.sess[en.sess].coll == c && en.epoch != col.epoch {
				if !slices.Contains(touched, en.sess) {
					touched = append(touched, en.sess)
				}
				continue
			}
			l[n] = en
			n++
		}
		e.setList(id, l[:n])
		for _, s := range touched {
			if !e.held(id, s) {
				continue
			}
			if e.hasEntries(id, s) {
				e.collapse(id, s)
			} else {
				e.lose(id, s)
			}
		}
		e.eval(id)
	}
	col.inDump = false
	col.seenDirty = false
	e.dumped = true
}

// dropSeen frees the refresh bitset once a whole bin has passed without
// any dump: it is as large as the session bitsets (a bit per prefix and
// session, 160 MB for 1 000 sessions and 1.25 M prefixes) and only needed
// during dumps, a few minutes every 8 hours. Dumps that follow each other
// (a bootstrap loading collector after collector) reuse it instead of
// leaving the collector that much garbage each. TableEnd leaves it all
// zero.
func (e *Engine) dropSeen() {
	dumped := e.dumped
	e.dumped = false
	if dumped {
		return
	}
	for i := range e.colls {
		if e.colls[i].inDump {
			return
		}
	}
	e.seen = nil
}

// ---- visibility ----

// eval re-derives visibility and attribution of prefix id and records flips.
func (e *Engine) eval(id uint32) {
	p := &e.st[id]
	f := p.fam()
	vis := int(p.cnt) >= e.thr[f]
	attr := p.origin
	if p.flags&flagExc != 0 {
		attr = e.vote(id)
	}
	was := p.flags&flagVisible != 0
	if !vis && !was {
		p.attr = attr
		return
	}
	if vis && was && attr == p.attr {
		return
	}
	if was {
		e.count(id, p.attr, -1)
	}
	if vis {
		e.count(id, attr, +1)
		p.flags |= flagVisible
	} else {
		p.flags &^= flagVisible
	}
	if vis != was {
		o := attr
		if !vis {
			o = p.attr
		}
		e.recordChange(id, vis, o)
	}
	p.attr = attr
}

func (e *Engine) recordChange(id uint32, vis bool, origin bgpwatch.ASN) {
	p := &e.st[id]
	if e.quiet[p.fam()] {
		return
	}
	t := e.changeTime()
	if p.chg > 0 {
		c := &e.changes[p.chg-1]
		c.t, c.visible, c.origin = t, vis, origin
		return
	}
	e.changes = append(e.changes, changeRec{id: id, t: t, origin: origin, visible: vis, initial: !vis})
	p.chg = int32(len(e.changes))
}

type vote struct {
	peer, origin bgpwatch.ASN
}

// vote returns the attributed origin of a prefix with exception entries.
func (e *Engine) vote(id uint32) bgpwatch.ASN {
	p := &e.st[id]
	f := p.fam()
	vs := e.votes[:0]
	l := e.exc[id]
	base := int(id) * e.stride
	for w := range e.stride {
		m := e.bits[base+w] & e.ffMask[f][w]
		for m != 0 {
			b := bits.TrailingZeros64(m)
			m &= m - 1
			s := int32(w*64 + b)
			peer := e.sess[s].peer.ASN
			special := false
			for _, en := range l {
				if en.sess == s {
					special = true
					vs = append(vs, vote{peer, en.origin})
				}
			}
			if !special {
				vs = append(vs, vote{peer, p.origin})
			}
		}
	}
	e.votes = vs
	if len(vs) == 0 {
		return p.origin
	}
	// Sort by (origin, peer) and count distinct peers per origin.
	sortVotes(vs)
	best, bestN := bgpwatch.ASN(0), 0
	for i := 0; i < len(vs); {
		j, n := i, 0
		for j < len(vs) && vs[j].origin == vs[i].origin {
			if j == i || vs[j].peer != vs[j-1].peer {
				n++
			}
			j++
		}
		o := vs[i].origin
		switch {
		case bestN == 0, best == 0 && o != 0, o != 0 && n > bestN:
			best, bestN = o, n
		}
		i = j
	}
	return best
}

func sortVotes(vs []vote) {
	// insertion sort: vote lists are short (sessions of one prefix)
	for i := 1; i < len(vs); i++ {
		v := vs[i]
		j := i - 1
		for j >= 0 && (vs[j].origin > v.origin || vs[j].origin == v.origin && vs[j].peer > v.peer) {
			vs[j+1] = vs[j]
			j--
		}
		vs[j+1] = v
	}
}

// ---- full-feed set ----

// evalFullFeed re-evaluates the full-feed sessions of both families and,
// when the set changed, recounts every prefix.
func (e *Engine) evalFullFeed() {
	var newFF [][2]bool // nil until a session changes
	for f := range 2 {
		min := e.cfg.FullFeedMin
		if f == famV6 {
			min = e.cfg.FullFeedMinV6
		}
		if min <= 0 {
			largest := 0
			for i := range e.sess {
				largest = max(largest, e.sess[i].size[f])
			}
			min = int(math.Ceil(e.cfg.FullFeedShare*float64(largest) - 1e-9))
			min = max(min, 1)
		}
		for i := range e.sess {
			ff := e.sess[i].size[f] >= min
			if ff != e.sess[i].ff[f] && newFF == nil {
				newFF = make([][2]bool, len(e.sess))
				for j := range e.sess {
					newFF[j] = e.sess[j].ff
				}
			}
			if newFF != nil {
				newFF[i][f] = ff
			}
		}
	}
	if newFF == nil {
		return
	}
	// The peer ASNs whose full-feed sessions change, with their sessions
	// before and after: every prefix's count changes by at most those.
	type change struct{ old, new []int32 }
	var deltas [2][]change
	var deltaCost [2]int
	byASN := map[bgpwatch.ASN][]int32{}
	var asns []bgpwatch.ASN
	for i := range e.sess {
		a := e.sess[i].peer.ASN
		if _, ok := byASN[a]; !ok {
			asns = append(asns, a)
		}
		byASN[a] = append(byASN[a], int32(i))
	}
	for f := range 2 {
		for _, a := range asns {
			var c change
			moved := false
			for _, s := range byASN[a] {
				if e.sess[s].ff[f] {
					c.old = append(c.old, s)
				}
				if newFF[s][f] {
					c.new = append(c.new, s)
				}
				moved = moved || e.sess[s].ff[f] != newFF[s][f]
			}
			if moved {
				deltas[f] = append(deltas[f], c)
				deltaCost[f] += len(c.old) + len(c.new)
			}
		}
	}
	for i := range e.sess {
		e.sess[i].ff = newFF[i]
	}
	wasN := e.ffN
	var fullCost [2]int
	for f := range 2 {
		groups := map[bgpwatch.ASN][]int32{}
		var order []bgpwatch.ASN
		for i := range e.sess {
			e.sess[i].ffOthers[f] = nil
			if e.sess[i].ff[f] {
				a := e.sess[i].peer.ASN
				if _, ok := groups[a]; !ok {
					order = append(order, a)
				}
				groups[a] = append(groups[a], int32(i))
			}
		}
		clear(e.ffMask[f])
		clear(e.ffSingle[f])
		e.ffMulti[f] = e.ffMulti[f][:0]
		fullCost[f] = e.stride
		for _, a := range order {
			g := groups[a]
			for _, s := range g {
				e.ffMask[f][s>>6] |= 1 << (s & 63)
				for _, o := range g {
					if o != s {
						e.sess[s].ffOthers[f] = append(e.sess[s].ffOthers[f], o)
					}
				}
			}
			if len(g) == 1 {
				e.ffSingle[f][g[0]>>6] |= 1 << (g[0] & 63)
			} else {
				e.ffMulti[f] = append(e.ffMulti[f], g)
				fullCost[f] += len(g)
			}
		}
		e.ffN[f] = len(order)
		e.thr[f] = int(math.Floor(e.cfg.VisibleShare*float64(e.ffN[f])+1e-9)) + 1
	}
	// The first table of a family is the initial state, not news: its
	// prefixes becoming visible are not listed in Changes.
	for f := range 2 {
		e.quiet[f] = wasN[f] == 0
	}
	defer func() { e.quiet = [2]bool{} }()
	// Recount every prefix, from scratch or, when fewer sessions are
	// involved (a collector's sessions joining a world of full feeds),
	// by the changed peer ASNs only: the counts are exact for the old
	// full-feed set.
	incremental := [2]bool{deltaCost[0] < fullCost[0], deltaCost[1] < fullCost[1]}
	for id := range e.st {
		p := &e.st[id]
		f := p.fam()
		if incremental[f] {
			n := int(p.cnt)
			for _, c := range deltas[f] {
				if e.othersHold(uint32(id), c.old) {
					n--
				}
				if e.othersHold(uint32(id), c.new) {
					n++
				}
			}
			p.cnt = uint16(n)
			e.eval(uint32(id))
			continue
		}
		base := id * e.stride
		n := 0
		for w := range e.stride {
			n += bits.OnesCount64(e.bits[base+w] & e.ffSingle[f][w])
		}
		for _, g := range e.ffMulti[f] {
			if e.othersHold(uint32(id), g) {
				n++
			}
		}
		p.cnt = uint16(n)
		e.eval(uint32(id))
	}
}

// ---- bins ----

func (e *Engine) closeBin(emit func(*bgpwatch.Bin) error) error {
	e.dropSeen()
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
		if e.seen != nil {
			clear(e.seen[int(id)*e.stride : int(id+1)*e.stride])
		}
		if e.lastOK && e.lastID == id {
			e.lastOK = false
		}
		e.free = append(e.free, id)
	}
	e.idle = e.idle[:0]
}
