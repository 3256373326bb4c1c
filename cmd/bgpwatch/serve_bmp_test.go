package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestStartLiveBMP: serve's BMP station (config bmp:, the port from
// --bmp-listen) takes the Cisco capture's session; /v1/peers shows the
// router and its Loc-RIB tables with their prefixes, /metrics the BMP
// counters; when the router disconnects its tables are dropped.
func TestStartLiveBMP(t *testing.T) {
	pcap := shareddata.Path(t, "stream/bmp.cisco.peer_down.pcap")
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := bmp.ReadCapture(f)
	f.Close()
	if err != nil || len(streams) != 1 {
		t.Fatalf("capture: %v", err)
	}
	data := streams[0].Data

	port := freeTCPPort(t)
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("bin_step: 1s\ntick: 100ms\nbmp: {listen: \"127.0.0.1:1\", ribs: [loc-rib, adj-rib-in-post]}\n"), 0o644)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	lf := addLiveFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--bmp-listen", fmt.Sprintf("127.0.0.1:%d", port)}); err != nil {
		t.Fatal(err)
	}
	if err := lf.load(fs, &serveConfig{}, os.Getenv); err != nil {
		t.Fatal(err)
	}
	db := storetest.New(t)
	metrics := api.NewMetrics(nil)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := startLive(ctx, lf.file, db, metrics, slog.New(slog.DiscardHandler))
	if err != nil || l == nil {
		t.Fatalf("startLive = %v, %v", l, err)
	}
	t.Cleanup(func() { cancel(); l.wait() })

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	// What the Loc-RIB of VRF 4226809946:12 holds at the end.
	dec := bmp.NewDecoder("x", bmp.Options{RIBs: bmp.DefaultRIBs.With(bmp.LocRIB)})
	var obs []bgpwatch.Observation
	for r := bmp.NewReaderBytes(data); ; {
		b, off, err := r.Next()
		if err != nil {
			break
		}
		if obs, err = dec.Decode(b, off, obs); err != nil {
			t.Fatal(err)
		}
	}
	table := map[string]bool{}
	for _, o := range obs {
		if strings.Contains(o.Peer.Collector, "rd=") {
			table[o.Prefix.String()] = o.Kind.String() == "announce"
		}
	}
	wantV4, wantV6 := 0, 0
	for p, in := range table {
		if in && strings.Contains(p, ".") {
			wantV4++
		} else if in {
			wantV6++
		}
	}
	const router = "ipf-zbl1327-r-daisy-90"
	vrf := router + "/loc-rib/rd=4226809946:12"
	row := func(rows []live.PeerInfo, coll string) (live.PeerInfo, bool) {
		for _, r := range rows {
			if r.Collector == coll {
				return r, true
			}
		}
		return live.PeerInfo{}, false
	}
	var rows []live.PeerInfo
	poll(t, 10*time.Second, "the VRF Loc-RIB table", func() bool {
		rows = l.status.List()
		r, ok := row(rows, vrf)
		return ok && r.V4Prefixes == wantV4 && r.V6Prefixes == wantV6
	})
	if r, _ := row(rows, "bmp"); r.Source != "bmp" || r.State != "connected" {
		t.Errorf("feed row %+v", r)
	}
	if r, _ := row(rows, router); r.Source != "bmp" || r.State != "connected" || r.Address != "127.0.0.1" || r.Updates != 301 {
		t.Errorf("router row %+v", r)
	}
	if r, _ := row(rows, vrf); r.State != "established" || r.ASN != 4226809946 || r.Address != "0.0.0.0" {
		t.Errorf("VRF row %+v", r)
	}
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r.Collector, router+"/adj-rib-in-post") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d post-policy Adj-RIB-In rows, want 5: %+v", n, rows)
	}
	mfs, err := metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"bgpwatch_bmp_messages_total", "bgpwatch_bmp_router_connected", "bgpwatch_bmp_peer_statistic", "bgpwatch_bmp_peer_up"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("metric %s missing", want)
		}
	}

	// The router goes away: its tables are dropped.
	c.Close()
	poll(t, 10*time.Second, "the router's tables dropped", func() bool {
		rows = l.status.List()
		r, _ := row(rows, vrf)
		rr, _ := row(rows, router)
		return r.V4Prefixes == 0 && r.V6Prefixes == 0 && r.State == "down" && rr.State == "disconnected"
	})
}
