package bmp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Builders of BMP messages for tests.

func bmpMsg(typ uint8, body ...[]byte) []byte {
	b := []byte{Version, 0, 0, 0, 0, typ}
	for _, x := range body {
		b = append(b, x...)
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)))
	return b
}

func peerHdr(typ, flags uint8, addr string, as uint32, sec uint32) []byte {
	b := make([]byte, PeerHeaderLen)
	b[0], b[1] = typ, flags
	a := netip.MustParseAddr(addr)
	if a.Is4() {
		x := a.As4()
		copy(b[22:], x[:])
	} else {
		x := a.As16()
		copy(b[10:], x[:])
		b[1] |= FlagV
	}
	binary.BigEndian.PutUint32(b[26:], as)
	binary.BigEndian.PutUint32(b[34:], sec)
	return b
}

func bgpMsg(typ uint8, body []byte) []byte {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, typ}
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[16:], uint16(len(b)))
	return b
}

// openMsg builds an OPEN with the given capabilities (code, value pairs).
func openMsg(as uint16, caps ...[]byte) []byte {
	var params []byte
	for _, c := range caps {
		params = append(params, 2, byte(len(c)))
		params = append(params, c...)
	}
	b := []byte{4, byte(as >> 8), byte(as), 0, 90, 192, 0, 2, 1, byte(len(params))}
	return bgpMsg(1, append(b, params...))
}

func capAS4(as uint32) []byte {
	return []byte{65, 4, byte(as >> 24), byte(as >> 16), byte(as >> 8), byte(as)}
}

func capAddPath(afi uint16, mode uint8) []byte {
	return []byte{69, 4, byte(afi >> 8), byte(afi), 1, mode}
}

func peerUp(ph []byte, sent, recv []byte) []byte {
	local := make([]byte, 20)
	return bmpMsg(TypePeerUp, ph, local, sent, recv)
}

// update builds an UPDATE with IPv4 NLRI (pathIDs when non-nil) and an
// AS path of 4- or 2-byte ASNs.
func update(withdrawn, nlri []byte, path []uint32, as4 bool) []byte {
	var attrs []byte
	attrs = append(attrs, 0x40, 1, 1, 0) // ORIGIN IGP
	seg := []byte{2, byte(len(path))}
	for _, a := range path {
		if as4 {
			seg = binary.BigEndian.AppendUint32(seg, a)
		} else {
			seg = binary.BigEndian.AppendUint16(seg, uint16(a))
		}
	}
	attrs = append(attrs, 0x40, 2, byte(len(seg)))
	attrs = append(attrs, seg...)
	attrs = append(attrs, 0x40, 3, 4, 192, 0, 2, 1)
	if len(nlri) == 0 {
		attrs = nil
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(withdrawn)))
	b = append(b, withdrawn...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	b = append(b, nlri...)
	return bgpMsg(2, b)
}

func pfx(s string, pathID uint32, addPath bool) []byte {
	p := netip.MustParsePrefix(s)
	var b []byte
	if addPath {
		b = binary.BigEndian.AppendUint32(b, pathID)
	}
	a := p.Addr().AsSlice()
	b = append(b, byte(p.Bits()))
	return append(b, a[:(p.Bits()+7)/8]...)
}

func decodeMsgs(t *testing.T, d *Decoder, msgs ...[]byte) []bgpwatch.Observation {
	t.Helper()
	var obs []bgpwatch.Observation
	for i, m := range msgs {
		var err error
		if obs, err = d.Decode(m, int64(i), obs); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	return obs
}

func TestAddPathAndAS4FromPeerUp(t *testing.T) {
	ph := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1700000000)
	// The router receives with ADD-PATH and 4-byte AS; the peer sends.
	up := peerUp(ph, openMsg(64501, capAS4(64501), capAddPath(1, 1)), openMsg(23456, capAS4(4200000000), capAddPath(1, 2)))
	rm := bmpMsg(TypeRouteMonitoring, ph, update(nil, append(pfx("203.0.113.0/24", 7, true), pfx("203.0.113.0/24", 8, true)...), []uint32{64500, 4200000001}, true))
	d := NewDecoder("rtr", Options{})
	obs := decodeMsgs(t, d, bmpMsg(TypeInitiation, []byte{0, 2, 0, 3, 'r', '1', 'x'}), up, rm)
	if len(obs) != 2 {
		t.Fatalf("%d observations, want 2: %v", len(obs), obs)
	}
	for i, id := range []uint32{7, 8} {
		o := obs[i]
		if o.Kind != bgpwatch.Announce || o.PathID != id || o.Origin != 4200000001 || o.Peer.Collector != "r1x" ||
			o.Prefix.String() != "203.0.113.0/24" || !o.Time.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("observation %d: %+v", i, o)
		}
	}
	// The same UPDATE without ADD-PATH on a peer that did not negotiate
	// it decodes without path ids.
	ph2 := peerHdr(PeerGlobal, 0, "198.51.100.2", 64502, 1700000001)
	up2 := peerUp(ph2, openMsg(64501, capAS4(64501)), openMsg(64502, capAS4(64502)))
	rm2 := bmpMsg(TypeRouteMonitoring, ph2, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64502, 64503}, true))
	obs = decodeMsgs(t, d, up2, rm2)
	if len(obs) != 1 || obs[0].PathID != 0 || obs[0].Origin != 64503 {
		t.Fatalf("without ADD-PATH: %v", obs)
	}
	// A 2-byte session (A flag) with a 2-byte path.
	ph3 := peerHdr(PeerGlobal, FlagA, "198.51.100.3", 64503, 1700000002)
	rm3 := bmpMsg(TypeRouteMonitoring, ph3, update(nil, pfx("198.51.100.0/24", 0, false), []uint32{64503, 64999}, false))
	obs = decodeMsgs(t, d, rm3)
	if len(obs) != 1 || obs[0].Origin != 64999 {
		t.Fatalf("2-byte path: %v", obs)
	}
}

func TestPeerDownAndClose(t *testing.T) {
	d := NewDecoder("192.0.2.9", Options{RIBs: DefaultRIBs.With(LocRIB)})
	pre := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1700000000)
	post := peerHdr(PeerGlobal, FlagL, "198.51.100.1", 64500, 1700000000)
	loc := peerHdr(PeerLocRIB, 0, "0.0.0.0", 64496, 1700000000)
	other := peerHdr(PeerGlobal, 0, "2001:db8::1", 64501, 1700000000)
	obs := decodeMsgs(t, d,
		bmpMsg(TypeRouteMonitoring, pre, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
		bmpMsg(TypeRouteMonitoring, post, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
		bmpMsg(TypeRouteMonitoring, loc, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
		bmpMsg(TypeRouteMonitoring, other, update(pfx("192.0.2.0/24", 0, false), nil, nil, true)),
		bmpMsg(TypeRouteMonitoring, pre, update(nil, nil, nil, true)), // End-of-RIB
	)
	if len(obs) != 3 {
		t.Fatalf("%d observations, want 3 (pre-policy, Loc-RIB, withdrawal; post-policy does not count): %v", len(obs), obs)
	}
	if obs[1].Peer.Collector != "192.0.2.9/loc-rib" || obs[2].Kind != bgpwatch.Withdraw {
		t.Errorf("observations %v", obs)
	}
	if d.State().Counters.EndOfRIB != 1 {
		t.Error("End-of-RIB not counted")
	}
	// Peer Down drops the session's tables, never as a withdrawal.
	down := decodeMsgs(t, d, bmpMsg(TypePeerDown, post, []byte{4}))
	if len(down) != 1 || down[0].Kind != bgpwatch.PeerDown || down[0].Peer != obs[0].Peer {
		t.Fatalf("peer down: %v", down)
	}
	// The router going away drops every table still up.
	gone := d.Close(time.Unix(1700000100, 0), nil)
	var got []string
	for _, o := range gone {
		if o.Kind != bgpwatch.PeerDown {
			t.Errorf("close emitted %v", o.Kind)
		}
		got = append(got, o.Peer.String())
	}
	if strings.Join(got, ",") != "192.0.2.9/loc-rib/AS64496/0.0.0.0,192.0.2.9/AS64501/2001:db8::1" &&
		strings.Join(got, ",") != "192.0.2.9/AS64501/2001:db8::1,192.0.2.9/loc-rib/AS64496/0.0.0.0" {
		t.Errorf("close dropped %v", got)
	}
}

func TestBadInput(t *testing.T) {
	good := bmpMsg(TypeInitiation, []byte{0, 2, 0, 1, 'r'})
	huge := []byte{3, 0xff, 0xff, 0xff, 0xff, 0}
	cases := []struct {
		name, stream, want string
	}{
		{"4 GB claim", string(huge), "offset 1: message length 4294967295 out of range"},
		{"version", "\x01\x00\x00\x00\x06\x04", "offset 0: BMP version 1"},
		{"truncated header", string(good) + "\x03\x00", "offset 11: common header: stream ends inside a message"},
		{"truncated body", string(good) + string(good[:8]), "offset 11: initiation: stream ends inside a message (8 of 11 bytes)"},
	}
	for _, c := range cases {
		r := NewReaderBytes([]byte(c.stream))
		var err error
		for err == nil {
			_, _, err = r.Next()
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	d := NewDecoder("r", Options{})
	ph := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1)
	bad := []struct {
		name string
		msg  []byte
		want string
	}{
		{"peer type", bmpMsg(TypeRouteMonitoring, append([]byte{9}, ph[1:]...)), "offset 6: per-peer header: unknown peer type 9"},
		{"short peer header", bmpMsg(TypePeerDown, ph[:10]), "offset 6: per-peer header: 42 bytes needed, 10 left"},
		{"bgp length", bmpMsg(TypeRouteMonitoring, ph, bgpMsg(2, []byte{0, 0, 0, 0})[:20]), "offset 64: route monitoring: BGP message length 23 runs past"},
		{"not an update", bmpMsg(TypeRouteMonitoring, ph, bgpMsg(4, nil)), "offset 66: route monitoring: BGP message type 4, want 2"},
		{"nlri", bmpMsg(TypeRouteMonitoring, ph, update(nil, []byte{40, 1}, []uint32{1}, true)), "offset 48: route monitoring: NLRI:"},
		{"tlv", bmpMsg(TypeInitiation, []byte{0, 2, 0, 9, 'r'}), "offset 8: information TLV type 2: length 9 runs past"},
		{"stat length", bmpMsg(TypeStatistics, ph, []byte{0, 0, 0, 2, 0, 7, 0, 3, 1, 2, 3, 0, 8, 0, 9, 1}), "offset 63: statistic 2 of 2 (type 8): 9 bytes needed, 1 left"},
		{"stat count", bmpMsg(TypeStatistics, ph, []byte{0, 0, 0, 1, 0, 7, 0, 3, 1, 2, 3, 0}), "offset 59: statistics report: 1 bytes after 1 statistics"},
		{"unknown type", bmpMsg(9), "offset 5: unknown message type 9"},
	}
	for _, c := range bad {
		_, err := d.Decode(c.msg, 0, nil)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A statistic of an unknown length is skipped; the known ones kept.
	if _, err := d.Decode(bmpMsg(TypeStatistics, ph, []byte{0, 0, 0, 2, 0, 99, 0, 3, 1, 2, 3, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42}), 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.State().Peers {
		if p.Addr.String() == "198.51.100.1" && (len(p.Stats) != 1 || p.Stats[Stat{Type: 7}] != 42) {
			t.Errorf("statistics %v", p.Stats)
		}
	}
}

// TestRename: a router named by its address until an Initiation names it
// drops the tables reported under the address; an empty sysName keeps the
// name.
func TestRename(t *testing.T) {
	d := NewDecoder("192.0.2.9", Options{})
	ph := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1700000000)
	obs := decodeMsgs(t, d,
		bmpMsg(TypeRouteMonitoring, ph, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
		bmpMsg(TypeInitiation, []byte{0, 2, 0, 0}),
		bmpMsg(TypeInitiation, []byte{0, 2, 0, 2, 'r', '9'}),
		bmpMsg(TypeRouteMonitoring, ph, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
	)
	var got []string
	for _, o := range obs {
		got = append(got, o.Kind.String()+" "+o.Peer.Collector)
	}
	if strings.Join(got, ",") != "announce 192.0.2.9,peer-down 192.0.2.9,announce r9" {
		t.Errorf("observations %v", got)
	}
}

// TestMaxSkew: with MaxSkew, a header time far from the reception time
// (a table dump's install times) or missing takes the reception time;
// close ones are kept; without MaxSkew every header time is kept.
func TestMaxSkew(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	msg := func(sec uint32) []byte {
		return bmpMsg(TypeRouteMonitoring, peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, sec), update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true))
	}
	d := NewDecoder("r", Options{MaxSkew: 10 * time.Minute, Now: func() time.Time { return now }})
	for _, c := range []struct {
		sec  uint32
		recv time.Time
		want time.Time
	}{
		{1700000000 - 86400, time.Time{}, now},                                             // a day old
		{1700000000 - 60, time.Time{}, now.Add(-time.Minute)},                              // a minute old: kept
		{1700000000 + 3600, time.Time{}, now},                                              // an hour ahead
		{0, time.Time{}, now},                                                              // none
		{1700000000 - 86400, now.Add(-86400 * time.Second), now.Add(-86400 * time.Second)}, // DecodeAt: close to its reception time
	} {
		obs, err := d.DecodeAt(msg(c.sec), 0, c.recv, nil)
		if err != nil || len(obs) != 1 || !obs[0].Time.Equal(c.want) {
			t.Errorf("header %d, received %v: %v %v, want %v", c.sec, c.recv, obs, err, c.want)
		}
	}
	raw := NewDecoder("r", Options{Now: func() time.Time { return now }})
	if obs, _ := raw.Decode(msg(1700000000-86400), 0, nil); len(obs) != 1 || obs[0].Time.Unix() != 1700000000-86400 {
		t.Errorf("without MaxSkew: %v", obs)
	}
}
