package live_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
)

// BGP message and attribute codes used by the hand-written peer.
const (
	msgOpen         = 1
	msgUpdate       = 2
	msgNotification = 3
	msgKeepalive    = 4

	attrOrigin      = 1
	attrASPath      = 2
	attrNextHop     = 3
	attrAggregator  = 7
	attrCommunities = 8
	attrMPReach     = 14

	flagOptional   = 0x80
	flagTransitive = 0x40
)

// rawPeer is a minimal BGP speaker written by hand for the test: it opens
// a session over plain TCP and sends UPDATE messages built byte by byte,
// malformed ones included, which no real daemon would send.
type rawPeer struct {
	t    *testing.T
	addr netip.Addr
	asn  uint32
	conn net.Conn

	mu     sync.Mutex
	got    []byte // types of the messages received from bgpwatch
	notif  []byte // code, subcode of the first NOTIFICATION received
	closed chan struct{}
}

// message frames a BGP message: marker, length, type, body.
func message(typ byte, body []byte) []byte {
	b := make([]byte, 19, 19+len(body))
	for i := range 16 {
		b[i] = 0xff
	}
	binary.BigEndian.PutUint16(b[16:], uint16(19+len(body)))
	b[18] = typ
	return append(b, body...)
}

// dialRaw connects from addr to the speaker and completes the OPEN
// exchange (IPv4 and IPv6 unicast, four-octet ASNs). It fails the test
// unless the session reaches Established within the timeout.
func dialRaw(t *testing.T, addr netip.Addr, asn uint32, speaker netip.AddrPort) *rawPeer {
	t.Helper()
	return dialRawCaps(t, addr, asn, speaker, true)
}

// dialRawCaps is dialRaw for a peer with (as4) or without the four-octet
// ASN capability; without it the peer's ASN must fit in 2 bytes.
func dialRawCaps(t *testing.T, addr netip.Addr, asn uint32, speaker netip.AddrPort, as4 bool) *rawPeer {
	t.Helper()
	var p *rawPeer
	var err error
	// After a session reset gobgp refuses connections until its idle
	// hold time has passed: retry.
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err = tryDialRaw(t, addr, asn, speaker, as4)
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session with the speaker: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tryDialRaw(t *testing.T, addr netip.Addr, asn uint32, speaker netip.AddrPort, as4 bool) (*rawPeer, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", speaker.String())
	if err != nil {
		return nil, err
	}
	p := &rawPeer{t: t, addr: addr, asn: asn, conn: c, closed: make(chan struct{})}
	caps := []byte{
		1, 4, 0, 1, 0, 1, // multiprotocol IPv4 unicast
		1, 4, 0, 2, 0, 1, // multiprotocol IPv6 unicast
		65, 4, 0, 0, 0, 0, // four-octet ASN
	}
	binary.BigEndian.PutUint32(caps[14:], asn)
	if !as4 {
		caps = caps[:12]
	}
	open := []byte{4, 0, 0, 0, 90} // version, my AS (set below), hold time 90 s
	binary.BigEndian.PutUint16(open[1:], 23456)
	if asn < 65536 {
		binary.BigEndian.PutUint16(open[1:], uint16(asn))
	}
	id := addr.As4()
	open = append(open, id[:]...)
	open = append(open, byte(2+len(caps)), 2, byte(len(caps)))
	open = append(open, caps...)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(message(msgOpen, open)); err != nil {
		c.Close()
		return nil, err
	}
	// Their OPEN, then our KEEPALIVE, then theirs: Established.
	for _, want := range []byte{msgOpen, msgKeepalive} {
		typ, body, err := readMessage(c)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("waiting for message %d: %w", want, err)
		}
		if typ == msgNotification {
			c.Close()
			return nil, fmt.Errorf("notification %v", body)
		}
		if typ != want {
			c.Close()
			return nil, fmt.Errorf("got message %d, want %d", typ, want)
		}
		if want == msgOpen {
			if _, err := c.Write(message(msgKeepalive, nil)); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	c.SetDeadline(time.Time{})
	go p.read()
	t.Cleanup(func() { c.Close(); <-p.closed })
	return p, nil
}

func readMessage(r io.Reader) (byte, []byte, error) {
	var h [19]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[16:]))
	if n < 19 {
		return 0, nil, errors.New("bad length")
	}
	body := make([]byte, n-19)
	_, err := io.ReadFull(r, body)
	return h[18], body, err
}

// read records what bgpwatch sends until the connection closes.
func (p *rawPeer) read() {
	defer close(p.closed)
	for {
		typ, body, err := readMessage(p.conn)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.got = append(p.got, typ)
		if typ == msgNotification && p.notif == nil && len(body) >= 2 {
			p.notif = body[:2]
		}
		p.mu.Unlock()
	}
}

// notification returns the code and subcode of the NOTIFICATION bgpwatch
// sent, nil if none.
func (p *rawPeer) notification() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notif
}

func (p *rawPeer) send(msg []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(msg); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

// attr encodes one path attribute (extended length when needed).
func attr(flags, typ byte, value []byte) []byte {
	if len(value) > 255 {
		b := []byte{flags | 0x10, typ, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(len(value)))
		return append(b, value...)
	}
	return append([]byte{flags, typ, byte(len(value))}, value...)
}

// asPath is an AS_SEQUENCE of four-octet ASNs.
func asPath(asns ...uint32) []byte {
	v := []byte{2, byte(len(asns))}
	for _, a := range asns {
		v = binary.BigEndian.AppendUint32(v, a)
	}
	return attr(flagTransitive, attrASPath, v)
}

// nlri encodes prefixes as in the NLRI and withdrawn-routes fields.
func nlri(prefixes ...netip.Prefix) []byte {
	var b []byte
	for _, p := range prefixes {
		b = append(b, byte(p.Bits()))
		a := p.Addr().AsSlice()
		b = append(b, a[:(p.Bits()+7)/8]...)
	}
	return b
}

// update builds an UPDATE from its three fields.
func update(withdrawn, attrs, reach []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(withdrawn)))
	b = append(b, withdrawn...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	return message(msgUpdate, append(b, reach...))
}

// origin, path and next hop of a well-formed IPv4 route from p, the
// prefixes originated by originAS.
func (p *rawPeer) baseAttrs(originAS uint32) []byte {
	b := attr(flagTransitive, attrOrigin, []byte{0})
	b = append(b, asPath(p.asn, originAS)...)
	nh := p.addr.As4()
	return append(b, attr(flagTransitive, attrNextHop, nh[:])...)
}

// announce sends a well-formed announcement of prefixes (IPv4 in the
// NLRI field, IPv6 in MP_REACH_NLRI).
func (p *rawPeer) announce(originAS uint32, prefixes ...netip.Prefix) {
	p.t.Helper()
	var v4, v6 []netip.Prefix
	for _, x := range prefixes {
		if x.Addr().Is4() {
			v4 = append(v4, x)
		} else {
			v6 = append(v6, x)
		}
	}
	if len(v4) > 0 {
		p.send(update(nil, p.baseAttrs(originAS), nlri(v4...)))
	}
	if len(v6) > 0 {
		p.send(update(nil, p.mpReach(originAS, v6, nil), nil))
	}
}

// mpReach returns ORIGIN, AS_PATH and an MP_REACH_NLRI for IPv6 prefixes;
// raw, when set, replaces the encoded NLRI (to malform it).
func (p *rawPeer) mpReach(originAS uint32, prefixes []netip.Prefix, raw []byte) []byte {
	b := attr(flagTransitive, attrOrigin, []byte{0})
	b = append(b, asPath(p.asn, originAS)...)
	nh := netip.MustParseAddr("2001:db8:ffff::5").As16()
	v := []byte{0, 2, 1, 16}
	v = append(v, nh[:]...)
	v = append(v, 0)
	if raw != nil {
		v = append(v, raw...)
	} else {
		v = append(v, nlri(prefixes...)...)
	}
	return append(b, attr(flagOptional, attrMPReach, v)...)
}

// obsReader reads the speaker's observations.
type obsReader struct {
	t  *testing.T
	ch <-chan bgpwatch.Observation
}

// until returns the observations up to and including the first for which
// stop holds; it fails the test after 10 s without one.
func (r obsReader) until(what string, stop func(bgpwatch.Observation) bool) []bgpwatch.Observation {
	r.t.Helper()
	var got []bgpwatch.Observation
	timeout := time.After(10 * time.Second)
	for {
		select {
		case o := <-r.ch:
			got = append(got, o)
			if stop(o) {
				return got
			}
		case <-timeout:
			r.t.Fatalf("%s: not observed within 10 s; got %v", what, brief(got))
		}
	}
}

func announceOf(p netip.Prefix) func(bgpwatch.Observation) bool {
	return func(o bgpwatch.Observation) bool { return o.Kind == bgpwatch.Announce && o.Prefix == p }
}

func brief(obs []bgpwatch.Observation) []string {
	out := make([]string, 0, len(obs))
	for _, o := range obs {
		s := o.Kind.String()
		if o.Prefix.IsValid() {
			s += " " + o.Prefix.String()
		}
		if o.Kind == bgpwatch.Announce {
			s += fmt.Sprintf(" AS%d", o.Origin)
		}
		out = append(out, s)
	}
	return out
}

// TestRFC7606MalformedUpdates (issue 9) peers the embedded speaker with a
// hand-written BGP speaker that announces prefixes and then sends
// malformed UPDATEs. RFC 7606 asks for the least disruptive handling that
// keeps the routing state correct:
//
//   - treat-as-withdraw (§2): a malformed attribute whose error may change
//     the route's meaning (COMMUNITIES of a length that is no multiple of
//     4, §7.8, for IPv4 and IPv6 prefixes; an ORIGIN of undefined value,
//     §7.1; a missing AS_PATH, §3 d): the UPDATE's prefixes are withdrawn
//     and the session stays up.
//     bgpwatch must observe a withdrawal of exactly those prefixes.
//   - attribute discard (§2): a malformed AGGREGATOR (§7.7) is dropped
//     and the route is kept: an announcement.
//   - session reset: an NLRI that cannot be parsed (§5.3) leaves no way
//     to know which routes were meant. In the NLRI field (a prefix length
//     of 33) gobgp sends a NOTIFICATION and closes; in MP_REACH_NLRI (an
//     IPv6 prefix length of 129) gobgp only logs "AFI/SAFI disable" and
//     keeps the family's routes, so the speaker resets the session itself.
//     Either way bgpwatch observes PeerDown (all the peer's routes gone),
//     and a new session brings the routes back.
//
// After each malformed UPDATE a well-formed one follows; everything
// observed in between is checked, so an extra PeerDown, a re-announcement
// or a lost withdrawal fails the test. The speaker and its listener
// survive throughout, the session everything but the unparsable NLRIs.
func TestRFC7606MalformedUpdates(t *testing.T) {
	peerAddr := netip.MustParseAddr("127.0.0.25")
	const peerASN, originASN = 64510, 64511
	port := freePort(t, "127.0.0.1")
	obs := make(chan bgpwatch.Observation, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sp, err := live.Start(ctx, live.Config{
		ASN: 65000, RouterID: netip.MustParseAddr("127.0.0.1"),
		ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
		Neighbors:    []live.Neighbor{{Address: peerAddr, ASN: peerASN, Passive: true}},
		ConnectRetry: time.Second, Logger: testLogger(t),
	}, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	speaker := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	r := obsReader{t: t, ch: obs}
	session := func() live.Session {
		for _, s := range sp.Sessions() {
			if s.Peer.Addr == peerAddr {
				return s
			}
		}
		return live.Session{}
	}

	p := dialRaw(t, peerAddr, peerASN, speaker)
	pfx := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	a, b, c, d, e := pfx("10.20.1.0/24"), pfx("10.20.2.0/24"), pfx("10.20.3.0/24"), pfx("10.20.4.0/24"), pfx("10.20.5.0/24")
	v6 := pfx("2001:db8:20::/48")
	p.announce(originASN, a, b, c, d, e, v6)
	got := r.until("initial announcements", announceOf(v6))
	if len(got) != 6 {
		t.Fatalf("initial announcements: %v", brief(got))
	}
	for _, o := range got {
		if o.Kind != bgpwatch.Announce || o.Origin != originASN || o.Peer.Addr != peerAddr || o.Peer.ASN != peerASN || o.Peer.Collector != live.Collector {
			t.Fatalf("initial announcement %+v", o)
		}
	}

	sentinel, established := 0, 1
	// expect sends msg, then a well-formed announcement of a fresh
	// prefix, and checks what was observed in between.
	expect := func(name string, msg []byte, want ...string) {
		t.Helper()
		sentinel++
		next := pfx(fmt.Sprintf("10.21.%d.0/24", sentinel))
		p.send(msg)
		p.announce(originASN, next)
		got := r.until(name+": the next announcement", announceOf(next))
		gotS := brief(got[:len(got)-1])
		if fmt.Sprint(gotS) != fmt.Sprint(want) {
			t.Errorf("%s: observed %q, want %q", name, gotS, want)
		}
		if s := session(); s.State != "established" || s.Established != int64(established) {
			t.Errorf("%s: session %s, established %d times, want %d", name, s.State, s.Established, established)
		}
		if n := p.notification(); n != nil {
			t.Fatalf("%s: bgpwatch sent NOTIFICATION %d/%d", name, n[0], n[1])
		}
	}

	// COMMUNITIES (optional transitive) of 5 bytes: treat-as-withdraw.
	badCommunities := append(p.baseAttrs(originASN), attr(flagOptional|flagTransitive, attrCommunities, []byte{0xfd, 0xe8, 0, 1, 7})...)
	expect("communities length 5", update(nil, badCommunities, nlri(b)), "withdraw "+b.String())

	// ORIGIN 7 (only 0, 1, 2 are defined): treat-as-withdraw.
	badOrigin := attr(flagTransitive, attrOrigin, []byte{7})
	badOrigin = append(badOrigin, p.baseAttrs(originASN)[4:]...)
	expect("origin value 7", update(nil, badOrigin, nlri(c)), "withdraw "+c.String())

	// No AS_PATH (well-known mandatory): treat-as-withdraw.
	nh := peerAddr.As4()
	noPath := append(attr(flagTransitive, attrOrigin, []byte{0}), attr(flagTransitive, attrNextHop, nh[:])...)
	expect("missing AS_PATH", update(nil, noPath, nlri(d)), "withdraw "+d.String())

	// The same for IPv6: gobgp turns the MP_REACH_NLRI into a withdrawal.
	badV6 := append(p.mpReach(originASN, []netip.Prefix{v6}, nil), attr(flagOptional|flagTransitive, attrCommunities, []byte{0xfd, 0xe8, 0})...)
	expect("ipv6 communities length 3", update(nil, badV6, nil), "withdraw "+v6.String())

	// AGGREGATOR of 3 bytes (8 with four-octet ASNs): attribute discard,
	// the route is kept (re-announced with its other attributes).
	badAggregator := append(p.baseAttrs(originASN), attr(flagOptional|flagTransitive, attrAggregator, []byte{0, 0, 1})...)
	expect("aggregator length 3", update(nil, badAggregator, nlri(a)), fmt.Sprintf("announce %s AS%d", a, originASN))

	if t.Failed() {
		return
	}

	// resetBy sends msg, which gobgp cannot process as part of the
	// session: the session goes down with a NOTIFICATION of code want,
	// bgpwatch observes PeerDown (after nothing else), and a new session
	// from the same peer brings its routes back.
	resetBy := func(name string, msg []byte, want byte) {
		t.Helper()
		p.send(msg)
		got := r.until(name+": peer-down", func(o bgpwatch.Observation) bool { return o.Kind == bgpwatch.PeerDown })
		if len(got) != 1 || got[0].Peer.Addr != peerAddr {
			t.Errorf("%s: observed %v, want only peer-down", name, brief(got))
		}
		select {
		case <-p.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: connection not closed", name)
		}
		if n := p.notification(); len(n) != 2 || n[0] != want {
			t.Errorf("%s: NOTIFICATION %v, want code %d", name, n, want)
		}
		p = dialRaw(t, peerAddr, peerASN, speaker)
		established++
		p.announce(originASN, a, v6)
		if got := r.until(name+": routes of the new session", announceOf(v6)); len(got) != 2 {
			t.Errorf("%s: after the new session: %v", name, brief(got))
		}
		if s := session(); s.State != "established" || s.Established != int64(established) {
			t.Errorf("%s: session %s, established %d times, want %d", name, s.State, s.Established, established)
		}
	}

	// An IPv6 prefix length of 129 in MP_REACH_NLRI: the NLRI cannot be
	// parsed, so which routes were meant is unknown. gobgp only logs "AFI/
	// SAFI disable" and keeps the family's routes; the speaker resets the
	// session (RFC 7606 §5.3's other choice): Cease (6), administrative
	// reset.
	resetBy("mp_reach prefix length 129", update(nil, p.mpReach(originASN, nil, []byte{129, 0x20, 0x01, 0x0d, 0xb8}), nil), 6)

	// A prefix length of 33 in the NLRI field: gobgp resets the session
	// itself with UPDATE Message Error (3).
	resetBy("nlri prefix length 33", update(nil, p.baseAttrs(originASN), []byte{33, 10, 20, 6, 0, 0}), 3)

	// The session carries on after both resets.
	expect("after resets", update(nil, badCommunities, nlri(a)), "withdraw "+a.String())
	st := sp.Stats()
	t.Logf("speaker: %d routes, %d observations, %d establishments", st.Routes, st.Observations, st.Established)
}

// TestOwnASNInPath: a monitor announces nothing, so a path through
// bgpwatch's own ASN is no routing loop of its own and the route is as
// visible as any other. gobgp drops such routes before its Adj-RIB-In
// watch by default (RFC 4271 §9.1.2 loop check), even when they replace
// a route the peer announced before, which would leave the old route in
// bgpwatch's view. The speaker allows its own ASN in paths.
func TestOwnASNInPath(t *testing.T) {
	peerAddr := netip.MustParseAddr("127.0.0.26")
	const localASN, peerASN, originASN = 65000, 64510, 64511
	port := freePort(t, "127.0.0.1")
	obs := make(chan bgpwatch.Observation, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sp, err := live.Start(ctx, live.Config{
		ASN: localASN, RouterID: netip.MustParseAddr("127.0.0.1"),
		ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
		Neighbors:    []live.Neighbor{{Address: peerAddr, ASN: peerASN, Passive: true}},
		ConnectRetry: time.Second, Logger: testLogger(t),
	}, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	p := dialRaw(t, peerAddr, peerASN, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	r := obsReader{t: t, ch: obs}
	x, y := netip.MustParsePrefix("10.22.1.0/24"), netip.MustParsePrefix("10.22.2.0/24")
	nh := peerAddr.As4()
	looped := func(origin uint32) []byte {
		b := attr(flagTransitive, attrOrigin, []byte{0})
		b = append(b, asPath(peerASN, localASN, origin)...)
		return append(b, attr(flagTransitive, attrNextHop, nh[:])...)
	}
	p.announce(originASN, x)
	r.until("first announcement", announceOf(x))
	// x moves to a path through localASN with a new origin; y is new.
	p.send(update(nil, looped(originASN+1), nlri(x, y)))
	got := r.until("looped announcements", announceOf(y))
	if fmt.Sprint(brief(got)) != fmt.Sprintf("[announce %s AS%d announce %s AS%d]", x, originASN+1, y, originASN+1) {
		t.Errorf("observed %v", brief(got))
	}
}
