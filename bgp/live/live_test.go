package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/internal/birdtest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/visibility"
	"github.com/bgpwatch/bgpwatch/webhook"
)

const nationalASN = 9198 // Kazakhtelecom; its country is KZ in the test

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T, host string) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// logRecorder is a test's slog handler: it keeps every record the speaker
// logs (gobgp's included, at debug level) for checks and passes it on to
// the test log. Handlers made by WithAttrs share its records.
type logRecorder struct {
	next  slog.Handler
	attrs []slog.Attr
	recs  *logRecs
}

type logRecs struct {
	mu   sync.Mutex
	list []logRec
}

// logRec is one record: its message, the message with its attributes as
// text, and its "peer" attribute.
type logRec struct {
	at        time.Time
	level     slog.Level
	msg, text string
	peer      string
}

func newLogRecorder(t *testing.T) *logRecorder {
	return &logRecorder{next: testLogger(t).Handler(), recs: &logRecs{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(ctx context.Context, r slog.Record) error {
	rec := logRec{at: time.Now(), level: r.Level, msg: r.Message}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		if a.Key == "peer" {
			rec.peer = fmt.Sprint(a.Value.Any())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	rec.text = b.String()
	h.recs.mu.Lock()
	h.recs.list = append(h.recs.list, rec)
	h.recs.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.WithAttrs(h.attrs).Handle(ctx, r)
	}
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// matching returns the recorded records, as text, that contain s.
func (h *logRecorder) matching(s string) []string {
	h.recs.mu.Lock()
	defer h.recs.mu.Unlock()
	var out []string
	for _, r := range h.recs.list {
		if strings.Contains(r.text, s) {
			out = append(out, r.text)
		}
	}
	return out
}

// forPeer returns the records logged for peer whose message contains sub.
func (h *logRecorder) forPeer(peer netip.Addr, sub string) []logRec {
	h.recs.mu.Lock()
	defer h.recs.mu.Unlock()
	var out []logRec
	for _, r := range h.recs.list {
		if r.peer == peer.String() && strings.Contains(r.msg, sub) {
			out = append(out, r)
		}
	}
	return out
}

// notice is one webhook delivery the receiver got.
type notice struct {
	Type  string `json:"type"`
	Event struct {
		Scope   string `json:"scope"`
		Country string `json:"country"`
		ASN     uint32 `json:"asn"`
	} `json:"event"`
	at time.Time
}

type receiver struct {
	mu  sync.Mutex
	got []notice
	srv *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n notice
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		n.at = time.Now()
		rc.mu.Lock()
		rc.got = append(rc.got, n)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) notices() []notice {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) count(typ string) int {
	n := 0
	for _, x := range rc.notices() {
		if x.Type == typ {
			n++
		}
	}
	return n
}

// testRoutes: national prefixes (16 /22s = 64 /24s and two /48s) and a
// background of other networks' prefixes.
func testRoutes() (national, background []birdtest.Route) {
	for i := range 16 {
		national = append(national, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.9.%d.0/22", i*4)), Origin: nationalASN})
	}
	national = append(national,
		birdtest.Route{Prefix: netip.MustParsePrefix("2001:db8:9198::/48"), Origin: nationalASN},
		birdtest.Route{Prefix: netip.MustParsePrefix("2001:db8:9199::/48"), Origin: nationalASN})
	for i := range 40 {
		background = append(background, birdtest.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i)), Origin: uint32(64500 + i%5)})
	}
	background = append(background, birdtest.Route{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Origin: 64500})
	return national, background
}

// liveSetup is bgpwatch's live side of a test: speaker, pipeline, runner,
// webhook dispatcher, all on a fresh database.
type liveSetup struct {
	db      *store.DB
	speaker *live.Speaker
	status  *live.Status
	port    uint16
	recv    *receiver
}

func startLive(t *testing.T, neighbors []live.Neighbor, step time.Duration) *liveSetup {
	t.Helper()
	log := testLogger(t)
	db := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	rc := newReceiver(t)
	if err := db.CreateSubscription(ctx, &bgpwatch.Subscription{URL: rc.srv.URL + "/hook", Secret: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	wcfg := webhook.DefaultConfig()
	wcfg.AllowPrivate = true // the receiver is an httptest server on 127.0.0.1
	wcfg.Poll, wcfg.BaseBackoff, wcfg.MaxBackoff = 50*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	d := webhook.NewDispatcher(db, wcfg, log.With("component", "webhook"))
	wg.Go(func() { d.Run(ctx) })

	dc := detect.DefaultConfig()
	dc.Step, dc.Window, dc.MinHistory, dc.MinDuration, dc.RecoverFor = step, 60*step, 3*step, step, 2*step
	dc.Country.MinSlash24, dc.ASN.MinSlash24, dc.ContribMinSlash24 = 4, 4, 1
	dc.Lookback, dc.FeedWindow = 10*step, 5
	vc := visibility.DefaultConfig()
	vc.Step = step
	p := ingest.New(ingest.Config{
		Visibility: vc, Detect: dc,
		CountryOf: func(a bgpwatch.ASN) string {
			if a == nationalASN {
				return "KZ"
			}
			return ""
		},
		Source: store.SourceLive, Notify: true, FlushBins: 1, Logger: log,
	}, db)

	port := freePort(t, "127.0.0.1")
	obs := make(chan bgpwatch.Observation, 4096)
	sp, err := live.Start(ctx, live.Config{
		ASN: 65000, RouterID: netip.MustParseAddr("127.0.0.1"),
		ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
		Neighbors: neighbors, ConnectRetry: time.Second, Logger: log,
	}, obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Stop)
	status := live.NewStatus(live.StatusConfig{Speaker: sp, Queue: func() (int, int) { return len(obs), cap(obs) }})
	wg.Go(func() {
		err := ingest.NewLive(p, ingest.LiveConfig{
			Tick: 100 * time.Millisecond, Logger: log,
			Publish: func(n int, st ingest.Stats, at time.Time) {
				status.Publish(p.Engine().Peers(), st.BinsWritten, n, at)
			},
		}).Run(ctx, obs)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &liveSetup{db: db, speaker: sp, status: status, port: port, recv: rc}
}

// peerTable returns a peer's row from the status (zero when unknown).
func (ls *liveSetup) peer(addr netip.Addr) live.PeerInfo {
	for _, p := range ls.status.List() {
		if p.Collector == live.Collector && p.Address == addr.String() {
			return p
		}
	}
	return live.PeerInfo{}
}

func (ls *liveSetup) events(t *testing.T) []bgpwatch.Event {
	t.Helper()
	evs, _, err := ls.db.ListEvents(context.Background(), bgpwatch.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestBIRD peers with three BIRD daemons (three peer ASNs, so that "more
// than half of the full-feed peers" means two of three), checks that
// bgpwatch announces nothing to them, that restarting one daemon raises no
// event, and that withdrawing a national ASN's prefixes on all of them
// starts an ASN and a country event whose webhook reaches a receiver. The
// withdraw/restore cycle runs three times; the median time from BIRD's
// reconfiguration to the webhook is logged.
func TestBIRD(t *testing.T) {
	birdtest.Need(t)
	step := time.Second
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	var neighbors []live.Neighbor
	for i, a := range addrs {
		neighbors = append(neighbors, live.Neighbor{Address: a, ASN: bgpwatch.ASN(65001 + i), Passive: true})
	}
	ls := startLive(t, neighbors, step)
	national, background := testRoutes()
	all := append(slices.Clone(national), background...)
	remote := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ls.port)
	var birds []*birdtest.BIRD
	for i, a := range addrs {
		b := birdtest.New(t, a, uint32(65001+i), remote)
		b.WriteConfig(all)
		b.Start()
		birds = append(birds, b)
	}
	full := func(a netip.Addr) bool {
		p := ls.peer(a)
		return p.State == "established" && p.V4Prefixes == 56 && p.V6Prefixes == 3 && p.FullFeedV4
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("peers: %+v", ls.status.List())
		}
	})
	waitFor(t, 20*time.Second, "three full tables", func() bool {
		return full(addrs[0]) && full(addrs[1]) && full(addrs[2])
	})
	for _, p := range ls.status.List() {
		if p.Collector == live.Collector && (p.ASN < 65001 || p.ASN > 65003) {
			t.Errorf("peer %s has ASN %d", p.Address, p.ASN)
		}
	}
	// The export policy rejects everything: no daemon learns a route.
	for _, b := range birds {
		if got := b.Imported(); !containsImported0(got) {
			t.Errorf("BIRD %s imported routes from bgpwatch: %s", b.Addr(), got)
		}
	}
	// Warm-up: the detector needs MinHistory of full bins.
	bins0 := ls.status.BinsWritten()
	waitFor(t, 15*time.Second, "warm-up bins", func() bool { return ls.status.BinsWritten() >= bins0+5 })

	// A daemon restart resets one session; its routes come back: no event.
	birds[0].Stop()
	waitFor(t, 10*time.Second, "session down", func() bool { return ls.peer(addrs[0]).State != "established" })
	if got := ls.peer(addrs[0]).V4Prefixes; got != 0 {
		// Published at the next tick; allow it.
		waitFor(t, 5*time.Second, "table cleared", func() bool { return ls.peer(addrs[0]).V4Prefixes == 0 })
	}
	birds[0].Start()
	waitFor(t, 20*time.Second, "session back with full table", func() bool { return full(addrs[0]) })
	bins1 := ls.status.BinsWritten()
	waitFor(t, 10*time.Second, "bins after restart", func() bool { return ls.status.BinsWritten() >= bins1+3 })
	if evs := ls.events(t); len(evs) != 0 {
		t.Fatalf("events after a daemon restart: %+v", evs)
	}
	if n := ls.recv.notices(); len(n) != 0 {
		t.Fatalf("webhooks after a daemon restart: %+v", n)
	}

	// Withdraw the national prefixes everywhere, three times.
	var lat []time.Duration
	for cycle := range 3 {
		started := ls.recv.count("event.started")
		t0 := time.Now()
		for _, b := range birds {
			b.Reconfigure(background)
		}
		var first time.Time
		waitFor(t, 15*time.Second, "event.started webhook", func() bool {
			for _, n := range ls.recv.notices() {
				if n.Type == "event.started" && n.at.After(t0) {
					first = n.at
					return true
				}
			}
			return false
		})
		lat = append(lat, first.Sub(t0))
		// Both the ASN and the country event start.
		waitFor(t, 10*time.Second, "ASN and country notices", func() bool { return ls.recv.count("event.started") >= started+2 })
		var asn, country bool
		for _, n := range ls.recv.notices()[started:] {
			if n.Type != "event.started" {
				continue
			}
			asn = asn || (n.Event.Scope == "asn" && n.Event.ASN == nationalASN)
			country = country || (n.Event.Scope == "country" && n.Event.Country == "KZ")
		}
		if !asn || !country {
			t.Fatalf("cycle %d: notices %+v", cycle, ls.recv.notices())
		}
		// Restore, and wait for both events to end.
		for _, b := range birds {
			b.Reconfigure(all)
		}
		waitFor(t, 15*time.Second, "event.ended webhooks", func() bool {
			return ls.recv.count("event.ended") == ls.recv.count("event.started")
		})
	}
	for _, ev := range ls.events(t) {
		if !ev.Ongoing() && ev.EndedAt.Before(ev.StartedAt) {
			t.Errorf("event ends before it starts: %+v", ev)
		}
	}
	if n := len(ls.events(t)); n != 6 {
		t.Errorf("stored events = %d, want 6 (3 cycles × ASN + country)", n)
	}
	slices.Sort(lat)
	t.Logf("withdrawal → webhook: runs %v, median %v", lat, lat[len(lat)/2])
	st := ls.speaker.Stats()
	t.Logf("speaker: %d routes, %d observations, %d establishments, max gobgp→pipeline lag %v",
		st.Routes, st.Observations, st.Established, st.MaxLag)
}

func containsImported0(s string) bool {
	// "Total: 0 of 59 routes for 59 networks in 2 tables": none of the
	// daemon's routes came from protocol bw (bgpwatch).
	return strings.Contains(s, "Total: 0 of ")
}
