package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/internal/birdtest"
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
		{name: "collectors", args: []string{"--collectors", "rrc00, RRC21", "--ris-url", "http://127.0.0.1:1/ris", "--cache-dir", dir},
			check: func(t *testing.T, lf *liveFlags, cfg *serveConfig) {
				r := lf.file.RISLive
				if !r.Enabled || !slices.Equal(r.Collectors, []string{"rrc00", "rrc21"}) || r.FollowsAll() ||
					r.ArchiveURL != "http://127.0.0.1:1/ris" || r.CacheDir != dir {
					t.Fatalf("ris_live %+v: want enabled, two collectors, the archive and cache given", r)
				}
				subs := lf.file.RISConfig().Subscriptions
				if len(subs) != 4 || subs[0].Host != "rrc00" || subs[3].Host != "rrc21" {
					t.Errorf("subscriptions %+v: want UPDATE and RIS_PEER_STATE of each collector", subs)
				}
			}},
		{name: "all collectors", args: []string{"--collectors", "ris"},
			check: func(t *testing.T, lf *liveFlags, cfg *serveConfig) {
				r := lf.file.RISLive
				if !r.Enabled || !r.FollowsAll() || r.ArchiveURL != "" || r.CacheDir == "" || lf.file.RISConfig().Subscriptions != nil {
					t.Fatalf("ris_live %+v: want every collector, default subscriptions", r)
				}
			}},
		{name: "bad collector", args: []string{"--collectors", "route-views2"}, wantErr: "ris_live.collectors[0]"},
		{name: "bad archive url", args: []string{"--collectors", "rrc00", "--ris-url", "ftp://x"}, wantErr: "ris_live.archive_url"},
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
	os.WriteFile(file, []byte("bin_step: 1s\ntick: 100ms\nsilent_after: 500ms\nris_live: {enabled: true, url: ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/ws/}\n"), 0o644)
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

// hookNotice is a webhook body as the README's Webhooks section describes it.
type hookNotice struct {
	Type       string `json:"type"`
	DeliveryID string `json:"delivery_id"`
	Event      struct {
		ID      int64      `json:"id"`
		Scope   string     `json:"scope"`
		Country string     `json:"country"`
		ASN     uint32     `json:"asn"`
		EndedAt *time.Time `json:"ended_at"`
	} `json:"event"`
	SentAt time.Time `json:"sent_at"`

	at time.Time // when it arrived
}

// hookReceiver is a webhook endpoint that checks every delivery as a
// receiver should (signature over timestamp and raw body, fresh timestamp,
// delivery id header = body) and keeps each delivery id once.
type hookReceiver struct {
	t      *testing.T
	secret string
	srv    *httptest.Server

	mu   sync.Mutex
	got  []hookNotice
	seen map[string]bool
	bad  []string // deliveries that failed a check
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{t: t, secret: secret, seen: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

// signatureOK is the check of webhook/doc.go, written out as a receiver
// would write it.
func signatureOK(secret, ts, sig string, body []byte, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(now.Sub(time.Unix(sec, 0)).Seconds()) > 300 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	ts, sig := r.Header.Get("X-Bgpwatch-Timestamp"), r.Header.Get("X-Bgpwatch-Signature")
	if !signatureOK(h.secret, ts, sig, body, time.Now()) {
		h.bad = append(h.bad, fmt.Sprintf("bad signature %q (timestamp %q): %s", sig, ts, body))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if signatureOK(h.secret+"x", ts, sig, body, time.Now()) || signatureOK(h.secret, ts, sig, append(body, ' '), time.Now()) {
		h.bad = append(h.bad, "signature also matches another secret or body")
	}
	var n hookNotice
	if err := json.Unmarshal(body, &n); err != nil {
		h.bad = append(h.bad, fmt.Sprintf("body: %v: %s", err, body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if d := r.Header.Get("X-Bgpwatch-Delivery"); d != n.DeliveryID || d == "" {
		h.bad = append(h.bad, fmt.Sprintf("delivery header %q, body %q", d, n.DeliveryID))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		h.bad = append(h.bad, "content type "+ct)
	}
	if !h.seen[n.DeliveryID] { // at least once: deduplicate
		h.seen[n.DeliveryID] = true
		n.at = time.Now()
		h.got = append(h.got, n)
	}
	w.WriteHeader(http.StatusNoContent)
}

// find returns the first notice of type typ on a country-scope event of
// cc (and event id, when id > 0) that arrived after since.
func (h *hookReceiver) find(typ, cc string, id int64, since time.Time) (hookNotice, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.got {
		if n.Type == typ && n.Event.Scope == "country" && n.Event.Country == cc && (id == 0 || n.Event.ID == id) && !n.at.Before(since) {
			return n, true
		}
	}
	return hookNotice{}, false
}

func (h *hookReceiver) problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bad)
}

// poll calls cond every 50 ms until it holds; it fails the test after
// timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// metricValue returns the value of the sample name{labels} on /metrics
// (labels as Prometheus writes them, sorted); -1 when absent.
func metricValue(t *testing.T, s *served, sample string) float64 {
	t.Helper()
	code, b := s.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, l := range strings.Split(b, "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics: %q: %v", l, err)
			}
			return f
		}
	}
	return -1
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestServeLiveBIRD runs the real `bgpwatch serve` with live BGP sessions
// to three BIRD 2 daemons (flags), a registry and quick detection
// thresholds (configuration file), and a webhook subscription made through
// the admin API. It checks GET /v1/peers, that withdrawing the national
// ASN's prefixes on every daemon starts a country event seen in GET
// /v1/events and delivered, signed, to the receiver, that restoring them
// ends it, and the live metrics.
func TestServeLiveBIRD(t *testing.T) {
	birdtest.Need(t)
	const nationalASN, token, secret = 9198, "serve-live-token-0123456789", "serve-live-secret"
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
	// One-second bins with a short warm-up: 3 s of history, an event
	// after 1 s below the drop level, ended after 2 s of recovery.
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

	bgpPort := freeTCPPort(t)
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.12"), netip.MustParseAddr("127.0.0.13"), netip.MustParseAddr("127.0.0.14")}
	args := []string{"--db", db.Pool().Config().ConnString(), "--admin-token-env", "BGPWATCH_TEST_TOKEN",
		"--cache-ttl", "0", "--rate-limit", "0", "--access-log=false", "--shutdown-timeout", "5s",
		"--webhooks-allow-private", // the receiver is an httptest server on 127.0.0.1
		"--config", conf, "--bin-step", "1s",
		"--bgp-asn", "65000", "--bgp-router-id", "127.0.0.1", "--bgp-listen", "127.0.0.1", "--bgp-port", strconv.Itoa(bgpPort)}
	for i, a := range addrs {
		args = append(args, "--bgp-neighbor", fmt.Sprintf("%s,%d,passive", a, 65011+i))
	}
	t0 := time.Now()
	s := startServe(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve stderr:\n%s", s.stderr.String())
		}
	})

	// The subscription, through the admin API.
	recv := newHookReceiver(t, secret)
	t.Cleanup(func() {
		if p := recv.problems(); t.Failed() && len(p) > 0 {
			t.Logf("webhook receiver rejected: %q", p)
		}
	})
	body := fmt.Sprintf(`{"url":%q,"secret":%q,"countries":["KZ"]}`, recv.srv.URL+"/hook", secret)
	req, _ := http.NewRequest("POST", s.base+"/v1/webhooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hook struct {
		ID int64 `json:"id"`
	}
	json.NewDecoder(res.Body).Decode(&hook)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || hook.ID == 0 {
		t.Fatalf("create webhook: %d %+v", res.StatusCode, hook)
	}

	// Three daemons, three peer ASNs: a prefix is visible when two of
	// them carry it.
	var national, background []birdtest.Route
	for i := range 16 {
		national = append(national, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.9.%d.0/22", i*4)), Origin: nationalASN})
	}
	national = append(national, birdtest.Route{Prefix: netip.MustParsePrefix("2001:db8:9198::/48"), Origin: nationalASN})
	for i := range 20 {
		background = append(background, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i)), Origin: uint32(64500 + i%5)})
	}
	all := append(slices.Clone(national), background...)
	remote := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(bgpPort))
	var birds []*birdtest.BIRD
	for i, a := range addrs {
		b := birdtest.New(t, a, uint32(65011+i), remote)
		b.WriteConfig(all)
		b.Start()
		birds = append(birds, b)
	}

	// GET /v1/peers: the three sessions, established, with their tables.
	type peerRow struct {
		Source     string `json:"source"`
		Address    string `json:"address"`
		ASN        uint32 `json:"asn"`
		State      string `json:"state"`
		V4         int    `json:"v4_prefixes"`
		V6         int    `json:"v6_prefixes"`
		FullFeedV4 bool   `json:"full_feed_v4"`
	}
	var peers []peerRow
	full := func() bool {
		code, b := s.get(t, "/v1/peers")
		var out struct {
			Peers []peerRow `json:"peers"`
		}
		if code != 200 || json.Unmarshal([]byte(b), &out) != nil {
			t.Fatalf("peers: %d %s", code, b)
		}
		peers = out.Peers
		if len(peers) != 3 {
			return false
		}
		for i, p := range peers {
			if p.Source != "bgp" || p.Address != addrs[i].String() || p.ASN != uint32(65011+i) ||
				p.State != "established" || p.V4 != 36 || p.V6 != 1 || !p.FullFeedV4 {
				return false
			}
		}
		return true
	}
	poll(t, 20*time.Second, "three established sessions with full tables", full)
	tUp := time.Since(t0)
	checkPeersSchema(t, s)

	// Warm-up: KZ fully visible (64 /24s and its /48), then 5 more bins
	// (the detector wants 3 s of history). The API's series are in 5-minute
	// bins whatever --bin-step is: count the bins live ingest wrote.
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
	tWarm := time.Since(t0)

	// The shutdown: every daemon withdraws the national prefixes.
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
	if started.Event.ID == 0 || started.Event.EndedAt != nil {
		t.Errorf("started notice %+v", started)
	}
	type eventRow struct {
		ID        int64      `json:"id"`
		Scope     string     `json:"scope"`
		Country   string     `json:"country"`
		Status    string     `json:"status"`
		StartedAt time.Time  `json:"started_at"`
		EndedAt   *time.Time `json:"ended_at"`
		Baseline  int        `json:"baseline_slash24"`
		Min       int        `json:"min_slash24"`
		Withdrawn int        `json:"withdrawn_prefixes"`
		ASNs      []struct {
			ASN  uint32 `json:"asn"`
			Name string `json:"name"`
		} `json:"asns"`
	}
	code, b := s.get(t, "/v1/events?country=KZ&scope=country")
	var evs struct {
		Events []eventRow `json:"events"`
	}
	if code != 200 || json.Unmarshal([]byte(b), &evs) != nil || len(evs.Events) != 1 {
		t.Fatalf("events: %d %s", code, b)
	}
	ev := evs.Events[0]
	if ev.ID != started.Event.ID || ev.Status != "ongoing" || ev.EndedAt != nil || ev.Baseline != 64 || ev.Min != 0 ||
		ev.Withdrawn != 17 || len(ev.ASNs) != 1 || ev.ASNs[0].ASN != nationalASN || ev.ASNs[0].Name != "JSC Kazakhtelecom" {
		t.Errorf("event %s", b)
	}
	if ev.StartedAt.Before(tWithdraw.Add(-time.Second).Truncate(time.Second)) {
		t.Errorf("event starts at %v, before the withdrawal at %v", ev.StartedAt, tWithdraw)
	}

	// Restoration ends it.
	tRestore := time.Now()
	for _, b := range birds {
		b.Reconfigure(all)
	}
	var ended hookNotice
	poll(t, 20*time.Second, "event.ended webhook", func() bool {
		var ok bool
		ended, ok = recv.find("event.ended", "KZ", ev.ID, tRestore)
		return ok
	})
	latEnd := ended.at.Sub(tRestore)
	if ended.Event.EndedAt == nil {
		t.Errorf("ended notice without ended_at: %+v", ended)
	}
	code, b = s.get(t, fmt.Sprintf("/v1/events/%d", ev.ID))
	if code != 200 || !strings.Contains(b, `"status":"ended"`) {
		t.Errorf("event after restoration: %d %s", code, b)
	}
	if p := recv.problems(); len(p) != 0 {
		t.Errorf("webhook receiver: %q", p)
	}
	code, b = s.get(t, fmt.Sprintf("/v1/webhooks/%d/deliveries", hook.ID), "Authorization", "Bearer "+token)
	if code != 200 || strings.Count(b, `"status":"delivered"`) < 2 {
		t.Errorf("deliveries: %d %s", code, b)
	}

	// Live metrics on /metrics.
	code, b = s.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for i, a := range addrs {
		for _, want := range []string{
			fmt.Sprintf(`bgpwatch_live_session_up{asn="%d",peer="%s"} 1`, 65011+i, a),
			fmt.Sprintf(`bgpwatch_live_peer_prefixes{asn="%d",collector="live",family="ipv4",peer="%s"} 36`, 65011+i, a),
		} {
			if !strings.Contains(b, want) {
				t.Errorf("metrics: no %s", want)
			}
		}
	}
	for _, want := range []string{"bgpwatch_live_observations_total ", "bgpwatch_live_sessions_established_total 3", "bgpwatch_live_queue_length "} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics: no %s", want)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(b, "\n") {
			if strings.HasPrefix(l, "bgpwatch_live") {
				t.Log(l)
			}
		}
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
	t.Logf("sessions up %v, warm-up done %v after start; withdrawal → event.started webhook %v, restoration → event.ended webhook %v; total %v",
		tUp.Round(time.Millisecond), tWarm.Round(time.Millisecond), latStart.Round(time.Millisecond), latEnd.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

// checkPeersSchema checks every /v1/peers row against the Peer schema of
// /openapi.json: the required fields are there, and no field is missing
// from the schema.
func checkPeersSchema(t *testing.T, s *served) {
	t.Helper()
	code, doc := s.get(t, "/openapi.json")
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if code != 200 || json.Unmarshal([]byte(doc), &spec) != nil {
		t.Fatalf("openapi.json: %d", code)
	}
	schema, ok := spec.Components.Schemas["Peer"]
	if !ok {
		t.Fatal("openapi.json has no Peer schema")
	}
	code, b := s.get(t, "/v1/peers")
	var out struct {
		Peers []map[string]json.RawMessage `json:"peers"`
	}
	if code != 200 || json.Unmarshal([]byte(b), &out) != nil || len(out.Peers) == 0 {
		t.Fatalf("peers: %d %s", code, b)
	}
	feedSchema, ok := spec.Components.Schemas["CollectorFeed"]
	if !ok {
		t.Fatal("openapi.json has no CollectorFeed schema")
	}
	for i, p := range out.Peers {
		for k := range p {
			if _, ok := schema.Properties[k]; !ok {
				t.Errorf("peers[%d].%s is not in the Peer schema", i, k)
			}
		}
		for _, k := range schema.Required {
			if _, ok := p[k]; !ok {
				t.Errorf("peers[%d] lacks required %s: %s", i, k, b)
			}
		}
		if raw, ok := p["feed"]; ok {
			var feed map[string]json.RawMessage
			if err := json.Unmarshal(raw, &feed); err != nil {
				t.Fatalf("peers[%d].feed: %v", i, err)
			}
			for k := range feed {
				if _, ok := feedSchema.Properties[k]; !ok {
					t.Errorf("peers[%d].feed.%s is not in the CollectorFeed schema", i, k)
				}
			}
			for _, k := range feedSchema.Required {
				if _, ok := feed[k]; !ok {
					t.Errorf("peers[%d].feed lacks required %s: %s", i, k, raw)
				}
			}
		}
	}
}
