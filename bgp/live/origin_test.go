package live_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
	"github.com/bgpwatch/bgpwatch/bgp/rislive"
	"github.com/bgpwatch/bgpwatch/synth"
)

// Segment type shorthands for the origin table.
const (
	set       = 1
	seq       = 2
	confedSeq = 3
	confedSet = 4
)

func sg(typ uint8, asns ...uint32) synth.PathSegment {
	return synth.PathSegment{Type: typ, ASNs: asns}
}

// originCase is one AS path and the origin every source must give it.
type originCase struct {
	name string
	// path is the AS_PATH a four-octet speaker sends. For a 2-byte
	// session (two set), path holds AS_TRANS for the large ASNs and as4
	// is the AS4_PATH.
	path []synth.PathSegment
	as4  []synth.PathSegment
	two  bool
	// ris is the path as RIS Live's JSON shows it (AS_SEQUENCE members as
	// numbers, an AS_SET as a nested array, AS4_PATH already merged); ""
	// when it has no RIS Live form (confederation segments).
	ris  string
	want bgpwatch.ASN
}

const peerAS = 64510

var originCases = []originCase{
	{name: "sequence", path: []synth.PathSegment{sg(seq, peerAS, 3356, 9198)}, ris: "[64510,3356,9198]", want: 9198},
	{name: "prepended", path: []synth.PathSegment{sg(seq, peerAS, 9198, 9198, 9198)}, ris: "[64510,9198,9198,9198]", want: 9198},
	{name: "four-byte origin", path: []synth.PathSegment{sg(seq, peerAS, 4200000001)}, ris: "[64510,4200000001]", want: 4200000001},
	{name: "set of several", path: []synth.PathSegment{sg(seq, peerAS, 3356), sg(set, 64500, 64501)}, ris: "[64510,3356,[64500,64501]]", want: 0},
	{name: "set of one after its member", path: []synth.PathSegment{sg(seq, peerAS, 23487, 27738), sg(set, 27738)}, ris: "[64510,23487,27738,[27738]]", want: 27738},
	{name: "set of one after the aggregator", path: []synth.PathSegment{sg(seq, peerAS, 23487), sg(set, 27738)}, ris: "[64510,23487,[27738]]", want: 27738},
	{name: "set in the middle", path: []synth.PathSegment{sg(seq, peerAS), sg(set, 1, 2), sg(seq, 9198)}, ris: "[64510,[1,2],9198]", want: 9198},
	{name: "confed set at the end", path: []synth.PathSegment{sg(seq, 1, 2, 3), sg(confedSet, 65000)}, want: 3},
	{name: "confed sequence at the end", path: []synth.PathSegment{sg(seq, peerAS, 3), sg(confedSeq, 65001, 65002)}, want: 3},
	{name: "confed sequence first", path: []synth.PathSegment{sg(confedSeq, 65001, 65002), sg(seq, peerAS, 9198)}, want: 9198},
	{name: "confed only", path: []synth.PathSegment{sg(confedSeq, 65001)}, want: 0},
	{name: "set of several then confed", path: []synth.PathSegment{sg(seq, peerAS), sg(set, 1, 2), sg(confedSet, 65001)}, want: 0},
	{name: "set of one then confed", path: []synth.PathSegment{sg(seq, peerAS), sg(set, 7), sg(confedSeq, 65001)}, want: 7},
	{name: "2-byte, AS4_PATH merged", two: true,
		path: []synth.PathSegment{sg(seq, peerAS, 23456, 23456)}, as4: []synth.PathSegment{sg(seq, 4200000001, 4200000002)},
		ris: "[64510,4200000001,4200000002]", want: 4200000002},
	{name: "2-byte, AS4_PATH longer than AS_PATH ignored", two: true,
		path: []synth.PathSegment{sg(seq, peerAS, 23456)}, as4: []synth.PathSegment{sg(seq, 1, 2, 4200000002)},
		ris: "[64510,23456]", want: 23456},
	{name: "2-byte, AS_TRANS without AS4_PATH", two: true,
		path: []synth.PathSegment{sg(seq, peerAS, 23456)}, ris: "[64510,23456]", want: 23456},
	{name: "2-byte, AS4_PATH ends in a set of several", two: true,
		path: []synth.PathSegment{sg(seq, peerAS, 3356), sg(set, 23456, 7)}, as4: []synth.PathSegment{sg(set, 4200000001, 7)},
		ris: "[64510,3356,[4200000001,7]]", want: 0},
	{name: "2-byte, AS4_PATH ends in a set of one", two: true,
		path: []synth.PathSegment{sg(seq, peerAS, 3356), sg(set, 23456)}, as4: []synth.PathSegment{sg(set, 4200000001)},
		ris: "[64510,3356,[4200000001]]", want: 4200000001},
}

// casePrefix is the prefix announced for case i.
func casePrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(i), 0}), 24)
}

func hasConfed(p []synth.PathSegment) bool {
	for _, s := range p {
		if s.Type == confedSeq || s.Type == confedSet {
			return true
		}
	}
	return false
}

// TestOriginSameFromEverySource runs every source's decoder over the same
// AS paths and checks that each gives the origin of bgpwatch's one rule
// (bgpwatch.PathOrigin):
//
//   - MRT: a BGP4MP UPDATE record (BGP4MP_MESSAGE_AS4, or BGP4MP_MESSAGE
//     with AS4_PATH for the 2-byte cases) read by bgp/mrtsource;
//   - BGP sessions: the same UPDATE sent by a hand-written peer to the
//     embedded gobgp speaker, decoded by gobgp as every session is
//     (four-octet peers, and a 2-byte peer whose AS4_PATH gobgp merges);
//     confederation segments from an external peer are malformed to gobgp
//     (RFC 5065 §5.3) and withdraw the route (RFC 7606), so those paths
//     are also sent over an internal session, where they are allowed;
//   - RIS Live: the JSON message RIS Live shows for the path, decoded by
//     bgp/rislive.
func TestOriginSameFromEverySource(t *testing.T) {
	t.Run("mrt", func(t *testing.T) {
		got := mrtOrigins(t)
		for i, c := range originCases {
			if o, ok := got[casePrefix(i)]; !ok {
				t.Errorf("%s: no announcement", c.name)
			} else if o != c.want {
				t.Errorf("%s: origin %d, want %d", c.name, o, c.want)
			}
		}
	})
	t.Run("rislive", func(t *testing.T) {
		for i, c := range originCases {
			if c.ris == "" {
				continue
			}
			line := fmt.Sprintf(`{"type":"ris_message","data":{"timestamp":1700000000.5,"peer":"192.0.2.1","peer_asn":"%d","host":"rrc00","type":"UPDATE","path":%s,"announcements":[{"next_hop":"192.0.2.1","prefixes":["%s"]}]}}`,
				peerAS, c.ris, casePrefix(i))
			m, err := rislive.Decode([]byte(line))
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			obs, bad, err := m.Observations(nil, time.Now())
			if err != nil || bad != 0 || len(obs) != 1 {
				t.Fatalf("%s: observations %v, bad %d, err %v", c.name, obs, bad, err)
			}
			if obs[0].Origin != c.want {
				t.Errorf("%s: origin %d, want %d", c.name, obs[0].Origin, c.want)
			}
		}
	})
	t.Run("gobgp", func(t *testing.T) {
		gobgpOrigins(t)
	})
}

// mrtOrigins writes every case as a BGP4MP UPDATE into one MRT file and
// returns the origins mrtsource reads back, by prefix.
func mrtOrigins(t *testing.T) map[netip.Prefix]bgpwatch.ASN {
	t.Helper()
	name := filepath.Join(t.TempDir(), "updates")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := synth.NewEncoder(w)
	for i, c := range originCases {
		s := synth.Session{PeerASN: peerAS, LocalASN: 12654, AS4: !c.two,
			PeerAddr: netip.MustParseAddr("192.0.2.1"), LocalAddr: netip.MustParseAddr("192.0.2.254")}
		a := synth.Attrs{Segments: c.path, AS4Path: c.as4, NextHop: netip.MustParseAddr("192.0.2.1")}
		if err := enc.Update(1700000000, &s, nil, &a, []synth.NLRI{{Prefix: casePrefix(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := mrtsource.Open(name, mrtsource.Options{Collector: "rrc00"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := map[netip.Prefix]bgpwatch.ASN{}
	for {
		o, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind == bgpwatch.Announce {
			got[o.Prefix] = o.Origin
		}
	}
	return got
}

// gobgpOrigins sends every case to the embedded speaker: four-octet cases
// from an external four-octet peer (and, with confederation segments,
// from an internal one), 2-byte cases from an external 2-byte peer.
func gobgpOrigins(t *testing.T) {
	const localASN = 65000
	ebgp, ibgp, two := netip.MustParseAddr("127.0.0.41"), netip.MustParseAddr("127.0.0.42"), netip.MustParseAddr("127.0.0.43")
	port := freePort(t, "127.0.0.1")
	obs := make(chan bgpwatch.Observation, 256)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sp, err := live.Start(ctx, live.Config{
		ASN: localASN, RouterID: netip.MustParseAddr("127.0.0.1"),
		ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
		Neighbors: []live.Neighbor{
			{Address: ebgp, ASN: peerAS, Passive: true},
			{Address: ibgp, ASN: localASN, Passive: true},
			{Address: two, ASN: peerAS, Passive: true},
		},
		ConnectRetry: time.Second, Logger: testLogger(t),
	}, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	speaker := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	pe := dialRaw(t, ebgp, peerAS, speaker)
	pi := dialRaw(t, ibgp, localASN, speaker)
	p2 := dialRawCaps(t, two, peerAS, speaker, false)
	r := obsReader{t: t, ch: obs}
	attrs := func(p *rawPeer, c originCase, path []synth.PathSegment) []byte {
		b := attr(flagTransitive, attrOrigin, []byte{0})
		b = append(b, attr(flagTransitive, attrASPath, segments(path, !c.two))...)
		if c.as4 != nil {
			b = append(b, attr(flagOptional|flagTransitive, 17, segments(c.as4, true))...)
		}
		nh := p.addr.As4()
		b = append(b, attr(flagTransitive, attrNextHop, nh[:])...)
		if p == pi {
			b = append(b, attr(flagTransitive, 5, []byte{0, 0, 0, 100})...) // LOCAL_PREF
		}
		return b
	}
	check := func(p *rawPeer, c originCase, x netip.Prefix) {
		t.Helper()
		p.send(update(nil, attrs(p, c, c.path), nlri(x)))
		got := r.until(c.name, func(o bgpwatch.Observation) bool { return o.Prefix == x && o.Peer.Addr == p.addr })
		last := got[len(got)-1]
		if last.Kind != bgpwatch.Announce || last.Origin != c.want {
			t.Errorf("%s from %s: observed %v, want announce AS%d", c.name, p.addr, brief(got[len(got)-1:]), c.want)
		}
	}
	for i, c := range originCases {
		x := casePrefix(i)
		switch {
		case c.two:
			check(p2, c, x)
		case hasConfed(c.path):
			check(pi, c, x)
			// From an external peer: announced cleanly first, then the
			// confederation path withdraws it.
			p := pe
			p.announce(9198, x)
			r.until(c.name+" clean", func(o bgpwatch.Observation) bool { return o.Prefix == x && o.Peer.Addr == p.addr })
			p.send(update(nil, attrs(p, c, c.path), nlri(x)))
			got := r.until(c.name+" withdrawal", func(o bgpwatch.Observation) bool { return o.Prefix == x && o.Peer.Addr == p.addr })
			if got[len(got)-1].Kind != bgpwatch.Withdraw {
				t.Errorf("%s from an external peer: observed %v, want a withdrawal", c.name, brief(got[len(got)-1:]))
			}
		default:
			check(pe, c, x)
		}
	}
}

// segments encodes an AS_PATH or AS4_PATH value.
func segments(path []synth.PathSegment, as4 bool) []byte {
	var b []byte
	for _, s := range path {
		b = append(b, s.Type, byte(len(s.ASNs)))
		for _, a := range s.ASNs {
			if as4 {
				b = binary.BigEndian.AppendUint32(b, a)
			} else {
				b = binary.BigEndian.AppendUint16(b, uint16(a))
			}
		}
	}
	return b
}
