package bmp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
)

// collect reads observations until want of them arrived or 5 s passed.
func collect(t *testing.T, ch <-chan bgpwatch.Observation, want int) []bgpwatch.Observation {
	t.Helper()
	var got []bgpwatch.Observation
	timeout := time.After(5 * time.Second)
	for len(got) < want {
		select {
		case o := <-ch:
			got = append(got, o)
		case <-timeout:
			t.Fatalf("%d of %d observations after 5 s", len(got), want)
		}
	}
	return got
}

func TestStation(t *testing.T) {
	_, data := captureStream(t, ciscoCapture)
	var logs syncbuf.Buffer
	st, out := startStation(t, StationConfig{Listen: "127.0.0.1:0", RIBs: DefaultRIBs.With(AdjRIBInPost).With(LocRIB),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	// Router 1 sends the capture and stays connected.
	r1, err := net.Dial("tcp", st.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	if _, err := r1.Write(data); err != nil {
		t.Fatal(err)
	}
	got := collect(t, out, 75) // 72 routes, 3 peer downs
	n := map[bgpwatch.ObservationKind]int{}
	for _, o := range got {
		n[o.Kind]++
	}
	if n[bgpwatch.Announce] != 49 || n[bgpwatch.Withdraw] != 23 || n[bgpwatch.PeerDown] != 3 {
		t.Errorf("observations by kind %v", n)
	}

	// Router 2 sends an Initiation, a route, then a malformed message:
	// only its connection is reset, and its table dropped.
	r2, err := net.Dial("tcp", st.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	ph := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1700000000)
	msgs := [][]byte{
		bmpMsg(TypeInitiation, []byte{0, 2, 0, 2, 'r', '2'}),
		bmpMsg(TypeRouteMonitoring, ph, update(nil, pfx("203.0.113.0/24", 0, false), []uint32{64500}, true)),
		bmpMsg(TypeRouteMonitoring, append([]byte{7}, ph[1:]...)),
	}
	r2.Write(bytes.Join(msgs, nil))
	got = collect(t, out, 2)
	if got[0].Kind != bgpwatch.Announce || got[1].Kind != bgpwatch.PeerDown || got[1].Peer.String() != "r2/AS64500/198.51.100.1" {
		t.Errorf("router 2: %v", got)
	}
	r2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r2.Read(make([]byte, 1)); err == nil {
		t.Error("router 2's connection was not closed")
	}
	if c := strings.Count(logs.String(), "malformed message"); c != 1 {
		t.Errorf("%d malformed-message log lines, want 1:\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), "router=r2") || !strings.Contains(logs.String(), "offset=113") || !strings.Contains(logs.String(), "unknown peer type 7") {
		t.Errorf("log lacks router, offset or reason:\n%s", logs.String())
	}

	// Router 1 is still there; its status and metrics.
	var rs []RouterStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rs = st.Routers(); len(rs) == 2 && !rs[1].Connected {
			break
		}
	}
	if len(rs) != 2 || rs[0].Name != "ipf-zbl1327-r-daisy-90" || !rs[0].Connected || rs[1].Name != "r2" || rs[1].Connected || rs[1].Resets != 1 {
		t.Fatalf("routers %+v", rs)
	}
	if rs[0].Counters.Messages[TypeRouteMonitoring] != 301 || len(rs[0].Peers) != 7 {
		t.Errorf("router 1: %d route monitoring, %d peers", rs[0].Counters.Messages[TypeRouteMonitoring], len(rs[0].Peers))
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(&Collector{Source: "station", Routers: st.Routers}); err != nil {
		t.Fatal(err)
	}
	exp := `
# HELP bgpwatch_bmp_router_connected 1 while the BMP router is connected.
# TYPE bgpwatch_bmp_router_connected gauge
bgpwatch_bmp_router_connected{address="127.0.0.1",router="ipf-zbl1327-r-daisy-90",source="station"} 1
bgpwatch_bmp_router_connected{address="127.0.0.1#2",router="r2",source="station"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "bgpwatch_bmp_router_connected"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "bgpwatch_bmp_peer_statistic"); err != nil || n == 0 {
		t.Errorf("statistics metrics: %d, %v", n, err)
	}

	// Router 1 disconnects: its counted tables go (Loc-RIB x2; the
	// post-policy peers that are still up x4 minus the ones never seen).
	r1.Close()
	got = collect(t, out, 1)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		select {
		case o := <-out:
			got = append(got, o)
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
	var names []string
	for _, o := range got {
		if o.Kind != bgpwatch.PeerDown {
			t.Errorf("after disconnect: %v", o)
		}
		names = append(names, o.Peer.String())
	}
	if len(got) != 7 {
		t.Errorf("disconnect dropped %d tables, want 7 (5 sessions, 2 Loc-RIBs): %v", len(got), names)
	}
}

// startStation listens with cfg and runs the station until the test
// ends; its observations come on the channel.
func startStation(t *testing.T, cfg StationConfig) (*Station, <-chan bgpwatch.Observation) {
	t.Helper()
	st, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan bgpwatch.Observation, 16)
	done := make(chan struct{})
	go func() { st.Run(ctx, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return st, out
}
