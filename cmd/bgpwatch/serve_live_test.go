package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func TestLiveFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9999\nbin_step: 1m\nbgp: {asn: 65000, router_id: 192.0.2.1, neighbors: [{address: 192.0.2.2, asn: 64500}]}\n"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, lf *liveFlags, cfg *serveConfig)
	}{
		{name: "file", args: []string{"--config", file}, check: func(t *testing.T, lf *liveFlags, cfg *serveConfig) {
			if cfg.listen != "127.0.0.1:9999" || lf.file.Step() != time.Minute || len(lf.file.BGP.Neighbors) != 1 {
				t.Errorf("cfg %+v file %+v", cfg, lf.file)
			}
		}},
		{name: "flags override", args: []string{"--config", file, "--listen", ":1", "--bin-step", "2m", "--bgp-neighbor", "2001:db8::1,AS64501,passive,addpath,port=1179", "--ris-live"},
			check: func(t *testing.T, lf *liveFlags, cfg *serveConfig) {
				n := lf.file.BGP.Neighbors
				if cfg.listen != ":1" || lf.file.Step() != 2*time.Minute || len(n) != 2 || !lf.file.RISLive.Enabled {
					t.Fatalf("cfg %+v file %+v", cfg, lf.file)
				}
				if n[1].ASN != 64501 || !n[1].Passive || !n[1].AddPath || n[1].Port != 1179 {
					t.Errorf("neighbor %+v", n[1])
				}
			}},
		{name: "no config, no live", args: nil, check: func(t *testing.T, lf *liveFlags, cfg *serveConfig) {
			if lf.file.Live() || cfg.listen != "127.0.0.1:8080" {
				t.Errorf("file %+v", lf.file)
			}
		}},
		{name: "neighbor without local asn", args: []string{"--bgp-neighbor", "10.0.0.1,1"}, wantErr: "bgp.asn"},
		{name: "bad neighbor", args: []string{"--bgp-asn", "1", "--bgp-router-id", "1.2.3.4", "--bgp-neighbor", "10.0.0.1"}, wantErr: "ADDR,ASN"},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "nope.yaml")}, wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg := serveConfig{}
			fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "")
			lf := addLiveFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := lf.load(fs, &cfg, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, lf, &cfg)
		})
	}
}

// TestStartLiveRIS runs live ingest from a local RIS Live server and checks
// the peer list and metrics the API shows.
func TestStartLiveRIS(t *testing.T) {
	msgs := []string{
		`{"type":"ris_message","data":{"timestamp":1700000000,"peer":"192.0.2.7","peer_asn":"64496","host":"rrc99","type":"UPDATE","path":[64496,9198],"announcements":[{"next_hop":"192.0.2.7","prefixes":["2.72.0.0/16","2001:db8::/32"]}]}}`,
		`{"type":"ris_message","data":{"timestamp":1700000001,"peer":"192.0.2.8","peer_asn":"64497","host":"rrc99","type":"RIS_PEER_STATE","state":"connected"}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for _, m := range msgs {
			c.Write(r.Context(), websocket.MessageText, []byte(m))
		}
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("bin_step: 1s\ntick: 100ms\nris_live: {enabled: true, url: ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/ws/}\n"), 0o644)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	lf := addLiveFlags(fs)
	if err := fs.Parse([]string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{}
	if err := lf.load(fs, &cfg, os.Getenv); err != nil {
		t.Fatal(err)
	}
	db := storetest.New(t)
	metrics := api.NewMetrics(nil)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := startLive(ctx, lf.file, db, metrics, slog.New(slog.DiscardHandler))
	if err != nil || l == nil {
		t.Fatalf("startLive = %v, %v", l, err)
	}
	t.Cleanup(func() { cancel(); l.wait() }) // before the database closes
	if l.lister() == nil {
		t.Fatal("no peer lister")
	}
	deadline := time.Now().Add(10 * time.Second)
	var rows []live.PeerInfo
	for time.Now().Before(deadline) {
		rows = l.status.List()
		if len(rows) == 3 && rows[1].V4Prefixes == 1 && rows[1].V6Prefixes == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Rows: the feed itself, the peer seen through UPDATEs, the peer with a state.
	if len(rows) != 3 || rows[0].Source != "ris-live" || rows[0].State != "connected" ||
		rows[1].Address != "192.0.2.7" || rows[1].Collector != "rrc99" || rows[1].V4Prefixes != 1 ||
		rows[2].Address != "192.0.2.8" || rows[2].State != "connected" {
		t.Fatalf("peers = %+v", rows)
	}
	mfs, err := metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"bgpwatch_live_feed_connected", "bgpwatch_live_peer_prefixes", "bgpwatch_live_observations_total", "bgpwatch_live_updates_received_total"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("metric %s missing from %v", want, names)
		}
	}
	cancel()
	if err := l.wait(); err != nil {
		t.Errorf("wait: %v", err)
	}
	var none *liveRun
	if none.lister() != nil {
		t.Error("nil liveRun must give a nil lister")
	}
}
