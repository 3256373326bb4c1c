package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/bgp/openbmp"
	"github.com/bgpwatch/bgpwatch/internal/birdtest"
	"github.com/bgpwatch/bgpwatch/internal/frrtest"
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

// TestServeBMPFRR runs the real `bgpwatch serve` with its BMP station and
// a real router: FRR's bgpd with its BMP module, fed by two BIRD 2
// daemons. Both daemons withdraw the national ASN's prefixes: FRR reports
// it through BMP, and a country event starts, seen in GET /v1/events and
// delivered, signed, to a webhook receiver; restoring them ends it. Then
// one daemon stops: FRR reports the session down, its table is dropped
// (its /v1/peers row goes down, empty) and no event follows.
func TestServeBMPFRR(t *testing.T) {
	frrtest.Need(t)
	birdtest.Need(t)
	const nationalASN, token, secret, frrASN = 9198, "serve-bmp-token-0123456789", "serve-bmp-secret", 65100
	db := storetest.New(t)
	t.Setenv("BGPWATCH_TEST_TOKEN", token)
	dir := t.TempDir()
	deleg := filepath.Join(dir, "delegated-ripencc-extended-latest")
	os.WriteFile(deleg, []byte("2|ripencc|20250101|2|19830705|20250101|+0100\n"+
		"ripencc|*|asn|*|2|summary\n"+
		"ripencc|KZ|asn|9198|1|19950101|allocated|aaa\n"+
		"ripencc|NL|asn|64500|5|19950101|allocated|bbb\n"), 0o644)
	info := filepath.Join(dir, "asn-info.csv")
	os.WriteFile(info, []byte("asn,name,access\n9198,JSC Kazakhtelecom,fixed\n"), 0o644)
	conf := filepath.Join(dir, "bgpwatch.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`tick: 100ms
delegations: [%s]
asn_info: %s
detection:
  baseline: 60s
  min_history: 3s
  min_duration: 1s
  recover_for: 2s
  country: {min_slash24: 4}
  asn: {min_slash24: 4}
`, deleg, info)), 0o644)
	bmpPort := freeTCPPort(t)
	t0 := time.Now()
	s := startServe(t, "--db", db.Pool().Config().ConnString(), "--admin-token-env", "BGPWATCH_TEST_TOKEN",
		"--cache-ttl", "0", "--rate-limit", "0", "--access-log=false", "--shutdown-timeout", "5s",
		"--config", conf, "--bin-step", "1s", "--bmp-listen", fmt.Sprintf("127.0.0.1:%d", bmpPort),
		"--webhooks-allow-private") // the receiver is an httptest server on 127.0.0.1
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve stderr:\n%s", s.stderr.String())
		}
	})
	recv := newHookReceiver(t, secret)
	body := fmt.Sprintf(`{"url":%q,"secret":%q,"countries":["KZ"]}`, recv.srv.URL+"/hook", secret)
	req, _ := http.NewRequest("POST", s.base+"/v1/webhooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create webhook: %d", res.StatusCode)
	}

	// The router, and the two daemons it learns its routes from.
	frr := frrtest.New(t, netip.MustParseAddr("127.0.0.21"), frrASN, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(bmpPort)))
	birdAddrs := []netip.Addr{netip.MustParseAddr("127.0.0.22"), netip.MustParseAddr("127.0.0.23")}
	frr.Start(frrtest.Neighbor{Addr: birdAddrs[0], ASN: 65011}, frrtest.Neighbor{Addr: birdAddrs[1], ASN: 65012})
	var national, background []birdtest.Route
	for i := range 16 {
		national = append(national, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.9.%d.0/22", i*4)), Origin: nationalASN})
	}
	national = append(national, birdtest.Route{Prefix: netip.MustParsePrefix("2001:db8:9198::/48"), Origin: nationalASN})
	for i := range 20 {
		background = append(background, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i)), Origin: uint32(64500 + i%5)})
	}
	all := append(slices.Clone(national), background...)
	var birds []*birdtest.BIRD
	for i, a := range birdAddrs {
		b := birdtest.New(t, a, uint32(65011+i), netip.AddrPortFrom(frr.Addr(), frr.Port()))
		b.RemoteASN = frrASN
		b.WriteConfig(all)
		b.Start()
		birds = append(birds, b)
	}

	type peerRow struct {
		Source    string `json:"source"`
		Collector string `json:"collector"`
		Address   string `json:"address"`
		ASN       uint32 `json:"asn"`
		State     string `json:"state"`
		V4        int    `json:"v4_prefixes"`
		V6        int    `json:"v6_prefixes"`
		FullFeed  bool   `json:"full_feed_v4"`
	}
	routerName := "frr-127.0.0.21" // FRR's Initiation sysName is its hostname
	peers := func() map[string]peerRow {
		code, b := s.get(t, "/v1/peers")
		var out struct {
			Peers []peerRow `json:"peers"`
		}
		if code != 200 || json.Unmarshal([]byte(b), &out) != nil {
			t.Fatalf("peers: %d %s", code, b)
		}
		m := map[string]peerRow{}
		for _, p := range out.Peers {
			m[p.Collector+" "+p.Address] = p
		}
		return m
	}
	var rows map[string]peerRow
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last /v1/peers: %+v", rows)
			if _, b := s.get(t, "/metrics"); true {
				for _, l := range strings.Split(b, "\n") {
					if strings.HasPrefix(l, "bgpwatch_bmp") || strings.HasPrefix(l, "bgpwatch_live") {
						t.Log(l)
					}
				}
			}
		}
	})
	poll(t, 30*time.Second, "FRR's two peers through BMP with full tables", func() bool {
		rows = peers()
		for i, a := range birdAddrs {
			p := rows[routerName+" "+a.String()]
			if p.Source != "bmp" || p.ASN != uint32(65011+i) || p.State != "established" || p.V4 != 36 || p.V6 != 1 || !p.FullFeed {
				return false
			}
		}
		return rows[routerName+" 127.0.0.1"].State == "connected"
	})
	tUp := time.Since(t0)
	checkPeersSchema(t, s)

	poll(t, 20*time.Second, "KZ fully visible", func() bool {
		code, b := s.get(t, "/v1/countries")
		return code == 200 && strings.Contains(b, `"code":"KZ","name":"Kazakhstan","asns":1,"visible_prefixes":16,"visible_slash24":64,"visible_v6_prefixes":1`)
	})
	bins := func() float64 { return metricValue(t, s, `bgpwatch_ingest_total{kind="bins",source="live"}`) }
	bins0 := bins()
	poll(t, 20*time.Second, "5 bins after full visibility", func() bool { return bins() >= bins0+5 })
	if code, b := s.get(t, "/v1/events"); code != 200 || !strings.Contains(b, `"events":[]`) {
		t.Fatalf("events before the withdrawal: %d %s", code, b)
	}

	// The shutdown, through FRR: both daemons withdraw the national prefixes.
	tWithdraw := time.Now()
	for _, b := range birds {
		b.Reconfigure(background)
	}
	var started hookNotice
	poll(t, 20*time.Second, "event.started webhook for KZ", func() bool {
		var ok bool
		started, ok = recv.find("event.started", "KZ", 0, tWithdraw)
		return ok
	})
	latStart := started.at.Sub(tWithdraw)
	code, b := s.get(t, "/v1/events?country=KZ&scope=country")
	if code != 200 || !strings.Contains(b, fmt.Sprintf(`"id":%d,`, started.Event.ID)) || !strings.Contains(b, `"status":"ongoing"`) ||
		!strings.Contains(b, `"baseline_slash24":64`) || !strings.Contains(b, `"withdrawn_prefixes":17`) {
		t.Errorf("events: %d %s", code, b)
	}

	// Restoration ends it.
	tRestore := time.Now()
	for _, b := range birds {
		b.Reconfigure(all)
	}
	poll(t, 20*time.Second, "event.ended webhook", func() bool {
		_, ok := recv.find("event.ended", "KZ", started.Event.ID, tRestore)
		return ok
	})
	if p := recv.problems(); len(p) != 0 {
		t.Errorf("webhook receiver: %q", p)
	}

	// One daemon stops: FRR's Peer Down drops that peer's table; the
	// other still sees everything, so nothing is lost and no event starts.
	tDown := time.Now()
	birds[1].Stop()
	poll(t, 20*time.Second, "the stopped daemon's table dropped", func() bool {
		p := peers()[routerName+" "+birdAddrs[1].String()]
		return p.State == "down" && p.V4 == 0 && p.V6 == 0
	})
	if p := peers()[routerName+" "+birdAddrs[0].String()]; p.State != "established" || p.V4 != 36 {
		t.Errorf("the other peer: %+v", p)
	}
	bins1 := bins()
	poll(t, 20*time.Second, "5 bins after the session went down", func() bool { return bins() >= bins1+5 })
	if _, ok := recv.find("event.started", "KZ", 0, tDown); ok {
		t.Error("an event started after a session went down")
	}
	code, b = s.get(t, "/v1/events")
	var evs struct {
		Events []struct {
			StartedAt time.Time `json:"started_at"`
			Status    string    `json:"status"`
		} `json:"events"`
	}
	if code != 200 || json.Unmarshal([]byte(b), &evs) != nil || len(evs.Events) == 0 {
		t.Fatalf("events: %d %s", code, b)
	}
	for _, e := range evs.Events {
		if !e.StartedAt.Before(tRestore) || e.Status != "ended" {
			t.Errorf("an event after the session went down: %s", b)
		}
	}
	code, b = s.get(t, "/v1/countries")
	if code != 200 || !strings.Contains(b, `"code":"KZ","name":"Kazakhstan","asns":1,"visible_prefixes":16,"visible_slash24":64`) {
		t.Errorf("KZ after the session went down: %s", b)
	}
	if v := metricValue(t, s, fmt.Sprintf(`bgpwatch_bmp_messages_total{address="127.0.0.1",router=%q,source="station",type="peer_down"}`, routerName)); v < 1 {
		t.Errorf("peer down messages on /metrics: %v", v)
	}
	s.cancel()
	select {
	case code := <-s.done:
		if code != exitOK {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	t.Logf("FRR peers up through BMP %v after start; withdrawal → event.started webhook %v; total %v",
		tUp.Round(time.Millisecond), latStart.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

// TestStartLiveBMPKafka: serve's OpenBMP consumer (config bmp.kafka) reads
// the capture's messages from an in-process Kafka; /v1/peers shows the
// router and its VRF table, /metrics the consumer's counters; at shutdown
// the offsets of what was stored are committed in the group.
func TestStartLiveBMPKafka(t *testing.T) {
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
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "openbmp.bmp_raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	var recs []*kgo.Record
	r := bmp.NewReaderBytes(streams[0].Data)
	for {
		b, _, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, &kgo.Record{Value: openbmp.Append(nil, openbmp.Header{Collector: "lab", RouterIP: netip.MustParseAddr("192.0.2.1")}, b)})
	}
	pc, err := kgo.NewClient(kgo.SeedBrokers(kf.ListenAddrs()...), kgo.DefaultProduceTopic("openbmp.bmp_raw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pc.Close()

	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`bin_step: 1s
tick: 100ms
bmp:
  ribs: [loc-rib]
  kafka: {brokers: [%s], topic_regex: '^openbmp\..*bmp_raw$', group: bw-test, from_start: true}
`, kf.ListenAddrs()[0])), 0o644)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	lf := addLiveFlags(fs)
	if err := fs.Parse([]string{"--config", file}); err != nil {
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
	defer func() { cancel(); l.wait() }()
	vrf := "ipf-zbl1327-r-daisy-90/loc-rib/rd=4226809946:12"
	var rows []live.PeerInfo
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rows %+v", rows)
		}
	})
	poll(t, 10*time.Second, "the VRF table through Kafka", func() bool {
		rows = l.status.List()
		for _, r := range rows {
			if r.Collector == vrf && r.Source == "bmp-kafka" && r.V4Prefixes == 17 && r.V6Prefixes == 10 {
				return true
			}
		}
		return false
	})
	for _, r := range rows {
		if r.Collector == "ipf-zbl1327-r-daisy-90" && (r.Address != "192.0.2.1" || r.State != "connected") {
			t.Errorf("router row %+v", r)
		}
	}
	mfs, err := metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "bgpwatch_bmp_messages_total" {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "source" && lp.GetValue() == "kafka" && m.GetCounter().GetValue() > 0 {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Error("no kafka BMP message counts on /metrics")
	}
	records := false
	for _, mf := range mfs {
		if mf.GetName() == "bgpwatch_bmp_kafka_records_total" {
			records = true
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "decoded" && m.GetCounter().GetValue() != float64(len(recs)) {
					t.Errorf("decoded records on /metrics: %v, want %d", m.GetCounter().GetValue(), len(recs))
				}
			}
		}
	}
	if !records {
		t.Error("no bgpwatch_bmp_kafka_records_total on /metrics")
	}
	// Shutdown commits the stored records' offsets in the group.
	cancel()
	if err := l.wait(); err != nil {
		t.Fatal(err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(kf.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	resp, err := kadm.NewClient(adm).FetchOffsets(context.Background(), "bw-test")
	if err != nil {
		t.Fatal(err)
	}
	off, ok := resp.Lookup("openbmp.bmp_raw", 0)
	if !ok || off.At <= 0 || off.At > int64(len(recs)) {
		t.Errorf("committed offset %+v (ok %v), want within 1..%d", off, ok, len(recs))
	}
}
