package bmp

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
)

// Options configures a Decoder.
type Options struct {
	// RIBs are the table kinds whose routes become observations; 0 means
	// DefaultRIBs (pre-policy Adj-RIB-In).
	RIBs RIBSet
	// Now is the reception time of a message given to Decode (DecodeAt
	// gives it explicitly): it stamps messages whose per-peer header has
	// no timestamp; nil means time.Now.
	Now func() time.Time
	// MaxSkew, when > 0, also replaces a header timestamp further than
	// MaxSkew from the reception time by the reception time. RFC 7854's
	// timestamp is when the router installed the routes: a table sent
	// when a station connects may carry days-old times, which would land
	// in bins long closed. 0 keeps every header time (dump).
	MaxSkew time.Duration
	// Names, when set, keeps the router's name unique among the routers
	// of the same station or consumer (see NameSet).
	Names *NameSet
}

// sessionKey identifies one monitored BGP session of a router (or its
// Loc-RIB): the RIB kinds of a session share its key.
type sessionKey struct {
	typ  uint8
	rd   uint64
	addr netip.Addr
}

// PeerState is what a Decoder knows about one monitored peer.
type PeerState struct {
	Type          uint8
	Distinguisher uint64
	Addr          netip.Addr
	AS            uint32
	BGPID         netip.Addr
	Up            bool      // a Peer Up (or a route) was seen since the last Peer Down
	Since         time.Time // when Up last changed
	DownReason    uint8     // the last Peer Down's reason code
	LocalAddr     netip.Addr
	Routes        int64          // routes (announced and withdrawn) reported
	LastUpdate    time.Time      // time of the last Route Monitoring
	RIBs          RIBSet         // table kinds seen for this peer (Peer Up, Route Monitoring)
	EndOfRIB      RIBSet         // table kinds whose End-of-RIB was seen (IPv4 or IPv6)
	Stats         map[Stat]int64 // last value per statistic (Stat with Value 0 as key)

	hasCaps    bool
	sent, recv Capabilities
	names      [numRIB]string // cached collector names
	active     RIBSet         // counted kinds announced by Peer Up or Route Monitoring
}

// Counters are a router's message counts.
type Counters struct {
	Messages    [TypeRouteMirroring + 1]int64 // by message type
	Routes      int64                         // prefixes announced or withdrawn in Route Monitoring
	EndOfRIB    int64
	Skipped     int64 // Route Monitoring of table kinds that do not count
	Unsupported int64 // UPDATE parts of other address families (skipped)
}

// Decoder turns one router's BMP messages into observations. Its methods
// are safe for concurrent use (the status page reads while a connection
// decodes), but messages must be given in stream order.
type Decoder struct {
	opt Options

	mu       sync.Mutex
	addr     string // the router's address, the name until an Initiation names it
	name     string // Initiation sysName
	descr    string // Initiation sysDescr
	peers    map[sessionKey]*PeerState
	counters Counters
	term     string // Termination reason, if any

	msg   Message
	recv  time.Time // reception time of the message being decoded; zero: Now
	last  encoding  // of the last Route Monitoring
	upd   mrt.Update
	attrs mrt.Attrs
	mp    mrt.MPReach
}

// NewDecoder returns a decoder for the router at addr (its name until an
// Initiation message gives its sysName).
func NewDecoder(addr string, opt Options) *Decoder {
	if opt.RIBs == 0 {
		opt.RIBs = DefaultRIBs
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Decoder{opt: opt, addr: addr, peers: map[sessionKey]*PeerState{}}
}

// Name is the router's name: its Initiation sysName, else its address.
func (d *Decoder) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nameLocked()
}

func (d *Decoder) nameLocked() string {
	if d.name != "" {
		return d.name
	}
	return d.addr
}

// CollectorName is the vantage point name of a router's table kind: the
// router's name, followed by "/" and the kind unless it is the pre-policy
// Adj-RIB-In, and by "/rd=N" for peers of a route distinguisher or local
// instance.
func CollectorName(router string, kind RIB, peerType uint8, rd uint64) string {
	s := router
	if kind != AdjRIBInPre {
		s += "/" + kind.String()
	}
	if (peerType == PeerRD || peerType == PeerLocal || peerType == PeerLocRIB) && rd != 0 {
		s += "/rd=" + FormatRD(rd)
	}
	return s
}

// FormatRD writes a route distinguisher as RFC 4364 types it:
// "AS:N" (types 0 and 2) or "IPv4:N" (type 1).
func FormatRD(rd uint64) string {
	switch rd >> 48 {
	case 0:
		return strconv.FormatUint(rd>>32&0xffff, 10) + ":" + strconv.FormatUint(rd&0xffffffff, 10)
	case 1:
		a := netip.AddrFrom4([4]byte{byte(rd >> 40), byte(rd >> 32), byte(rd >> 24), byte(rd >> 16)})
		return a.String() + ":" + strconv.FormatUint(rd&0xffff, 10)
	case 2:
		return strconv.FormatUint(rd>>16&0xffffffff, 10) + ":" + strconv.FormatUint(rd&0xffff, 10)
	}
	return strconv.FormatUint(rd, 16)
}

func (d *Decoder) vantage(ps *PeerState, kind RIB) bgpwatch.Peer {
	if ps.names[kind] == "" {
		ps.names[kind] = CollectorName(d.nameLocked(), kind, ps.Type, ps.Distinguisher)
	}
	return bgpwatch.Peer{Collector: ps.names[kind], ASN: bgpwatch.ASN(ps.AS), Addr: ps.Addr}
}

func (d *Decoder) peer(h *PeerHeader) *PeerState {
	k := sessionKey{h.Type, h.Distinguisher, h.Addr}
	ps := d.peers[k]
	if ps == nil {
		ps = &PeerState{Type: h.Type, Distinguisher: h.Distinguisher, Addr: h.Addr}
		d.peers[k] = ps
	}
	ps.AS, ps.BGPID = h.AS, h.BGPID
	return ps
}

// msgTime is the per-peer header's time, or the reception time when the
// router left it 0 or it is further than MaxSkew from it.
func (d *Decoder) msgTime(h *PeerHeader) time.Time {
	t := h.Time()
	if !t.IsZero() && d.opt.MaxSkew <= 0 {
		return t
	}
	recv := d.recv
	if recv.IsZero() {
		recv = d.opt.Now().UTC()
	}
	if t.IsZero() || t.Sub(recv) > d.opt.MaxSkew || recv.Sub(t) > d.opt.MaxSkew {
		return recv
	}
	return t
}

// Decode decodes one message b (common header included; off is its stream
// offset, for errors) and appends its observations to obs. On error the
// observations decoded before the error are returned with it.
func (d *Decoder) Decode(b []byte, off int64, obs []bgpwatch.Observation) ([]bgpwatch.Observation, error) {
	return d.DecodeAt(b, off, time.Time{}, obs)
}

// DecodeAt is Decode for a message received at recv (zero: Options.Now),
// e.g. the time an OpenBMP collector stamped on it.
func (d *Decoder) DecodeAt(b []byte, off int64, recv time.Time, obs []bgpwatch.Observation) ([]bgpwatch.Observation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recv = recv.UTC()
	if recv.IsZero() {
		d.recv = time.Time{}
	}
	m := &d.msg
	if err := Parse(b, off, m); err != nil {
		return obs, err
	}
	d.counters.Messages[m.Type]++
	switch m.Type {
	case TypeInitiation:
		for _, t := range m.Info {
			switch t.Type {
			case InfoSysName:
				obs = d.rename(string(t.Value), obs)
			case InfoSysDescr:
				d.descr = string(t.Value)
			}
		}
	case TypeTermination:
		for _, t := range m.Info {
			if t.Type == InfoString {
				d.term = string(t.Value)
			} else if t.Type == TermReason && len(t.Value) == 2 && d.term == "" {
				d.term = "reason " + strconv.Itoa(int(t.Value[0])<<8|int(t.Value[1]))
			}
		}
	case TypePeerUp:
		ps := d.peer(&m.Peer)
		t := d.msgTime(&m.Peer)
		if ps.Up && ps.active != 0 {
			// A new session without a Peer Down for the old one: the
			// old session's routes are gone.
			obs = d.down(ps, t, obs)
		}
		ps.Up, ps.Since, ps.LocalAddr = true, t, m.PeerUp.LocalAddr
		k := m.Peer.RIB()
		ps.RIBs = ps.RIBs.With(k)
		if d.opt.RIBs.Has(k) {
			ps.active = ps.active.With(k)
		}
		ps.EndOfRIB = 0
		var err1, err2 error
		ps.sent, err1 = ParseOpen(m.PeerUp.SentOpen)
		ps.recv, err2 = ParseOpen(m.PeerUp.ReceivedOpen)
		ps.hasCaps = err1 == nil && err2 == nil
		if !ps.hasCaps {
			err := err1
			if err == nil {
				err = err2
			}
			return obs, &ParseError{Offset: off + CommonHeaderLen + PeerHeaderLen + 20, Reason: "peer up: " + err.Error()}
		}
	case TypePeerDown:
		ps := d.peer(&m.Peer)
		t := d.msgTime(&m.Peer)
		obs = d.down(ps, t, obs)
		ps.Up, ps.Since, ps.DownReason, ps.hasCaps = false, t, m.DownReason, false
	case TypeStatistics:
		ps := d.peer(&m.Peer)
		if ps.Stats == nil {
			ps.Stats = map[Stat]int64{}
		}
		for _, s := range m.Stats {
			v := s.Value
			s.Value = 0
			ps.Stats[s] = int64(min(v, 1<<63-1))
		}
	case TypeRouteMonitoring:
		return d.routeMonitoring(off, obs)
	}
	return obs, nil
}

// rename applies an Initiation sysName; peers already reported under the
// old name are dropped under it (they come back under the new one).
func (d *Decoder) rename(name string, obs []bgpwatch.Observation) []bgpwatch.Observation {
	if name == "" {
		return obs // no sysName: keep the name the router has
	}
	if d.opt.Names != nil {
		name = d.opt.Names.claim(d, name)
	}
	if name == d.nameLocked() {
		d.name = name
		return obs
	}
	now := d.opt.Now().UTC()
	for _, ps := range d.peers {
		obs = d.down(ps, now, obs)
		ps.names = [numRIB]string{}
	}
	d.name = name
	return obs
}

// down appends a PeerDown for every counted table kind of ps that
// produced observations.
func (d *Decoder) down(ps *PeerState, t time.Time, obs []bgpwatch.Observation) []bgpwatch.Observation {
	for k := RIB(0); k < numRIB; k++ {
		if ps.active.Has(k) {
			obs = append(obs, bgpwatch.Observation{Time: t, Kind: bgpwatch.PeerDown, Peer: d.vantage(ps, k)})
		}
	}
	ps.active = 0
	return obs
}

// Close ends the router's connection: every peer's tables are dropped
// (a PeerDown per counted table kind) at time t.
func (d *Decoder) Close(t time.Time, obs []bgpwatch.Observation) []bgpwatch.Observation {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ps := range d.peers {
		obs = d.down(ps, t, obs)
		if ps.Up {
			ps.Up, ps.Since = false, t
		}
		ps.hasCaps = false
	}
	return obs
}

// Encoding reports how the UPDATEs of a peer's table kind are encoded, as
// far as the decoder knows: 4-byte AS paths, and ADD-PATH per address
// family (IPv4, IPv6 unicast). The per-peer header's A flag set means
// 2-byte paths; otherwise the Peer Up's OPENs decide; without them 4-byte
// paths and no ADD-PATH are assumed (and Route Monitoring decoding falls
// back to the other choice when the first one does not parse).
func (d *Decoder) Encoding(h *PeerHeader) (as4 bool, addPath [2]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.encoding(d.peers[sessionKey{h.Type, h.Distinguisher, h.Addr}], h)
}

func (d *Decoder) encoding(ps *PeerState, h *PeerHeader) (as4 bool, addPath [2]bool) {
	as4 = !h.Legacy2ByteAS()
	if ps == nil || !ps.hasCaps {
		return as4, addPath
	}
	kind := h.RIB()
	if as4 && kind != LocRIB {
		// A router may also rewrite 2-byte paths to 4 bytes and leave A
		// clear (RFC 7854 §4.2); routeMonitoring checks the path's
		// structure and takes the other width when only that one fits.
		as4 = ps.sent.AS4 && ps.recv.AS4
	}
	for i := range addPath {
		s, r := ps.sent.AddPath[i], ps.recv.AddPath[i]
		switch kind {
		case AdjRIBInPre, AdjRIBInPost: // the peer sends, the router receives
			addPath[i] = r&2 != 0 && s&1 != 0
		case AdjRIBOutPre, AdjRIBOutPost:
			addPath[i] = s&2 != 0 && r&1 != 0
		case LocRIB:
			addPath[i] = s != 0 || r != 0
		}
	}
	return as4, addPath
}

func (d *Decoder) routeMonitoring(off int64, obs []bgpwatch.Observation) ([]bgpwatch.Observation, error) {
	m := &d.msg
	h := &m.Peer
	ps := d.peer(h)
	t := d.msgTime(h)
	ps.LastUpdate = t
	kind := h.RIB()
	ps.RIBs = ps.RIBs.With(kind)
	if !ps.Up {
		ps.Up, ps.Since = true, t
	}
	updOff := off + CommonHeaderLen + PeerHeaderLen
	fail := func(what string, err error) error {
		return &ParseError{Offset: updOff, Reason: "route monitoring: " + what + ": " + err.Error()}
	}
	if err := mrt.ParseUpdate(m.Update[19:], &d.upd); err != nil {
		return obs, fail("bgp update", err)
	}
	u := &d.upd
	as4, addPath := d.encoding(ps, h)
	d.last = encoding{as4, addPath}
	if err := d.attrs.Parse(u.Attrs, as4); err != nil {
		return obs, fail("path attributes", err)
	}
	if !validPath(d.attrs.ASPath, as4) && validPath(d.attrs.ASPath, !as4) {
		as4 = !as4
		if err := d.attrs.Parse(u.Attrs, as4); err != nil {
			return obs, fail("path attributes", err)
		}
	}
	// End-of-RIB (RFC 4724 §2): an empty UPDATE for IPv4, an UPDATE with
	// only an empty MP_UNREACH_NLRI for other families.
	if len(u.Withdrawn) == 0 && len(u.NLRI) == 0 {
		if len(u.Attrs) == 0 {
			ps.EndOfRIB = ps.EndOfRIB.With(kind)
			d.counters.EndOfRIB++
			return obs, nil
		}
		if d.attrs.MPUnreach != nil && d.attrs.MPReach == nil && len(d.attrs.MPUnreach) == 3 {
			ps.EndOfRIB = ps.EndOfRIB.With(kind)
			d.counters.EndOfRIB++
			return obs, nil
		}
	}
	counted := d.opt.RIBs.Has(kind)
	if !counted {
		d.counters.Skipped++
	}
	var vp bgpwatch.Peer
	if counted {
		vp = d.vantage(ps, kind)
		ps.active = ps.active.With(kind)
	}
	emit := func(k bgpwatch.ObservationKind, b []byte, afi uint16, origin bgpwatch.ASN) error {
		ap := addPath[afi-1]
		n0 := len(obs)
		var err error
		var n int64
		for try := 0; try < 2; try++ {
			obs, n, err = prefixes(obs[:n0], t, vp, k, b, afi, ap, origin, counted)
			if err == nil || ps.hasCaps {
				break
			}
			// Without the Peer Up, ADD-PATH is a guess: try the other.
			ap = !ap
		}
		if err == nil {
			addPath[afi-1] = ap
			d.counters.Routes += n
			ps.Routes += n
		}
		return err
	}
	if err := emit(bgpwatch.Withdraw, u.Withdrawn, mrt.AFIIPv4, 0); err != nil {
		return obs, fail("withdrawn routes", err)
	}
	if d.attrs.MPUnreach != nil {
		afi, safi, nlri, err := mrt.ParseMPUnreach(d.attrs.MPUnreach)
		if err != nil {
			return obs, fail("MP_UNREACH_NLRI", err)
		}
		if safi == mrt.SAFIUnicast && (afi == mrt.AFIIPv4 || afi == mrt.AFIIPv6) {
			if err := emit(bgpwatch.Withdraw, nlri, afi, 0); err != nil {
				return obs, fail("MP_UNREACH_NLRI", err)
			}
		} else {
			d.counters.Unsupported++
		}
	}
	origin := bgpwatch.ASN(d.attrs.OriginAS())
	if err := emit(bgpwatch.Announce, u.NLRI, mrt.AFIIPv4, origin); err != nil {
		return obs, fail("NLRI", err)
	}
	if d.attrs.MPReach != nil {
		if err := mrt.ParseMPReach(d.attrs.MPReach, false, 0, &d.mp); err != nil {
			return obs, fail("MP_REACH_NLRI", err)
		}
		if d.mp.SAFI == mrt.SAFIUnicast && (d.mp.AFI == mrt.AFIIPv4 || d.mp.AFI == mrt.AFIIPv6) {
			if err := emit(bgpwatch.Announce, d.mp.NLRI, d.mp.AFI, origin); err != nil {
				return obs, fail("MP_REACH_NLRI", err)
			}
		} else {
			d.counters.Unsupported++
		}
	}
	d.last = encoding{as4, addPath}
	return obs, nil
}

// prefixes decodes NLRI bytes b and counts them; with emit set it
// appends their observations.
func prefixes(obs []bgpwatch.Observation, t time.Time, vp bgpwatch.Peer, kind bgpwatch.ObservationKind, b []byte, afi uint16, addPath bool, origin bgpwatch.ASN, emit bool) ([]bgpwatch.Observation, int64, error) {
	var n int64
	for len(b) > 0 {
		p, id, rest, err := mrt.NextPrefix(b, afi, addPath)
		if err != nil {
			return obs, n, fmt.Errorf("%d bytes before the end: %w", len(b), err)
		}
		b = rest
		n++
		if emit {
			obs = append(obs, bgpwatch.Observation{Time: t, Kind: kind, Peer: vp, Prefix: p.Masked(), PathID: id, Origin: origin})
		}
	}
	return obs, n, nil
}

// validPath reports whether an AS_PATH is well formed with 4-byte (as4)
// or 2-byte AS numbers.
func validPath(p []byte, as4 bool) bool {
	n := 2
	if as4 {
		n = 4
	}
	for len(p) > 0 {
		if len(p) < 2 || p[0] < 1 || p[0] > 4 || len(p) < 2+int(p[1])*n {
			return false
		}
		p = p[2+int(p[1])*n:]
	}
	return true
}

type encoding struct {
	as4     bool
	addPath [2]bool
}

// LastEncoding is how the last Route Monitoring was decoded: 4-byte AS
// paths, ADD-PATH for IPv4 and IPv6 unicast.
func (d *Decoder) LastEncoding() (as4 bool, addPath [2]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last.as4, d.last.addPath
}

// Message returns the last decoded message; it is valid until the next
// call to Decode.
func (d *Decoder) Message() *Message { return &d.msg }

// RouterState is a snapshot of a Decoder.
type RouterState struct {
	Name, Addr, SysDescr string
	Termination          string
	Counters             Counters
	Peers                []PeerState
}

// State returns a snapshot of the router and its peers.
func (d *Decoder) State() RouterState {
	d.mu.Lock()
	defer d.mu.Unlock()
	rs := RouterState{Name: d.nameLocked(), Addr: d.addr, SysDescr: d.descr, Termination: d.term, Counters: d.counters}
	for _, ps := range d.peers {
		c := *ps
		if ps.Stats != nil {
			c.Stats = make(map[Stat]int64, len(ps.Stats))
			for k, v := range ps.Stats {
				c.Stats[k] = v
			}
		}
		rs.Peers = append(rs.Peers, c)
	}
	return rs
}

// Vantage returns the vantage point of a peer's table kind as the
// decoder names it.
func (d *Decoder) Vantage(ps *PeerState, kind RIB) bgpwatch.Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bgpwatch.Peer{Collector: CollectorName(d.nameLocked(), kind, ps.Type, ps.Distinguisher), ASN: bgpwatch.ASN(ps.AS), Addr: ps.Addr}
}
