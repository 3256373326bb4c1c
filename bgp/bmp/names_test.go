package bmp

import (
	"bytes"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// TestNameSetSameSysName: two routers connected at once with the same
// sysName and a session to the same neighbour address stay two vantage
// points; the name is free again once its router is gone; a second
// router behind the same address is told apart before it names itself.
func TestNameSetSameSysName(t *testing.T) {
	var rs RouterSet
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ph := peerHdr(PeerGlobal, 0, "80.81.192.157", 6695, 1700000000) // both peer with the route server
	route := bmpMsg(TypeRouteMonitoring, ph, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{6695, 64500}, true))
	frr := bmpMsg(TypeInitiation, []byte{0, 2, 0, 3, 'f', 'r', 'r'})
	router := func(remote string) (*Decoder, *RouterEntry) {
		d := NewDecoder(remote, Options{Names: rs.Names()})
		return d, rs.Attach(remote, d, now)
	}
	names := func(obs []bgpwatch.Observation) (out []string) {
		for _, o := range obs {
			out = append(out, o.Kind.String()+" "+o.Peer.String())
		}
		return out
	}
	d1, e1 := router("192.0.2.1")
	d2, _ := router("192.0.2.2")
	got := names(decodeMsgs(t, d1, frr, route))
	got = append(got, names(decodeMsgs(t, d2, frr, route))...)
	want := []string{"announce frr/AS6695/80.81.192.157", "announce frr@192.0.2.2/AS6695/80.81.192.157"}
	if !slices.Equal(got, want) {
		t.Errorf("two routers named frr: %v, want %v", got, want)
	}
	// Router 1 goes; a router connecting later may be frr.
	rs.Detach(e1, now, false)
	d3, _ := router("192.0.2.3")
	if got := names(decodeMsgs(t, d3, frr, route)); !slices.Equal(got, []string{"announce frr/AS6695/80.81.192.157"}) {
		t.Errorf("after router 1 left: %v", got)
	}
	// Router 2 keeps its name through a second Initiation.
	if got := names(decodeMsgs(t, d2, frr, route)); !slices.Equal(got, []string{"announce frr@192.0.2.2/AS6695/80.81.192.157"}) {
		t.Errorf("router 2 again: %v", got)
	}
	// Two routers behind one address, without a sysName.
	n1, _ := router("198.51.100.7")
	n2, _ := router("198.51.100.7")
	got = append(names(decodeMsgs(t, n1, route)), names(decodeMsgs(t, n2, route))...)
	if want := []string{"announce 198.51.100.7/AS6695/80.81.192.157", "announce 198.51.100.7#2/AS6695/80.81.192.157"}; !slices.Equal(got, want) {
		t.Errorf("two routers behind one address: %v, want %v", got, want)
	}
}

// TestStationSameSysName: through the station, the second of two
// connected routers named frr is frr@its address, and when the first
// one goes its Peer Down leaves the second one's session alone.
func TestStationSameSysName(t *testing.T) {
	st, out := startStation(t, StationConfig{Listen: "127.0.0.1:0"})
	ph := peerHdr(PeerGlobal, 0, "80.81.192.157", 6695, uint32(time.Now().Unix()))
	msgs := bytes.Join([][]byte{
		bmpMsg(TypeInitiation, []byte{0, 2, 0, 3, 'f', 'r', 'r'}),
		bmpMsg(TypeRouteMonitoring, ph, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{6695, 64500}, true)),
	}, nil)
	var conns []net.Conn
	var peers []string
	for range 2 {
		c, err := net.Dial("tcp", st.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		if _, err := c.Write(msgs); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, collect(t, out, 1)[0].Peer.String())
	}
	if peers[0] != "frr/AS6695/80.81.192.157" || peers[1] != "frr@127.0.0.1#2/AS6695/80.81.192.157" {
		t.Errorf("vantage points %v, want frr and frr@127.0.0.1#2", peers)
	}
	conns[0].Close()
	if o := collect(t, out, 1)[0]; o.Kind != bgpwatch.PeerDown || o.Peer.String() != peers[0] {
		t.Errorf("router 1 left: %v, want its own peer down", o)
	}
}
