package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/synth"
)

// risWorld is a generated RIS-only archive, served over HTTP as the RIS
// archive publishes it (up to a moving point in time), and its update
// messages after a time T, streamed in the RIS Live format.
type risWorld struct {
	t     *testing.T
	dir   string
	truth *synth.Truth
	split time.Time // T

	published atomic.Int64 // files named before this (unix s) are published
	archive   *httptest.Server
	stream    *httptest.Server
	msgs      [][]byte  // the stream: messages after T
	times     []float64 // their timestamps
	colls     []string  // their collectors

	mu    sync.Mutex
	conns int
	// cut, when > 0, closes the stream's first connection after that many
	// messages; the next connection resumes after a further skip.
	cut, skip int
	// resume: a later connection starts skip messages after the last one
	// written (the stream goes on while serve is down).
	resume bool
	// collectors is ris_live.collectors (default: rrc00, rrc01).
	collectors string
	// mute stops the stream of that collector from muteFrom on.
	mute     string
	muteFrom float64
	sent     int    // messages written so far
	extra    string // more configuration lines
	// hole hides the updates files of collector holeColl named in
	// [holeFrom, holeTo) from the archive until it is cleared.
	holeColl         string
	holeFrom, holeTo time.Time
	pauseAt          int           // when > 0, the stream waits before that message
	unpause          chan struct{} // until this is closed
	paused           atomic.Bool   // the stream is waiting
}

// hidden reports whether the archive file at rel is in the hole.
func (w *risWorld) hidden(rel, name string) bool {
	w.mu.Lock()
	coll, from, to := w.holeColl, w.holeFrom, w.holeTo
	w.mu.Unlock()
	if coll == "" || !strings.HasPrefix(rel, coll+"/") || !strings.HasPrefix(name, "updates.") {
		return false
	}
	t, ok := fileTime(name)
	return ok && !t.Before(from) && t.Before(to)
}

// newRISWorld generates the small scenario with two RIS collectors (no
// ADD-PATH: RIS Live does not carry path ids) and one RIB dump.
func newRISWorld(t *testing.T, split time.Time) *risWorld {
	t.Helper()
	sc, err := synth.Builtin("small")
	if err != nil {
		t.Fatal(err)
	}
	sc.FirstRIBOnly = true
	// Nine hours of history before T are enough for the detector (it needs
	// two), and keep the bootstrap short; the event is over by 08:00.
	sc.Start, sc.End = time.Date(2024, 1, 1, 18, 0, 0, 0, time.UTC), time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC)
	var hs []synth.Happening
	for _, h := range sc.Happenings {
		if h.Kind != synth.Truncate && h.Kind != synth.NotMRT && h.Kind != synth.Gap && !h.At.Before(time.Date(2024, 1, 1, 18, 0, 0, 0, time.UTC)) {
			hs = append(hs, h)
		}
	}
	sc.Happenings = hs
	for i := range sc.Collectors {
		c := &sc.Collectors[i]
		if c.Project != "ris" {
			c.Name, c.Project = "rrc01", "ris"
		}
		for j := range c.Peers {
			c.Peers[j].AddPath = false
		}
	}
	w := &risWorld{t: t, dir: t.TempDir(), split: split}
	if w.truth, err = synth.Generate(context.Background(), sc, w.dir, synth.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	w.published.Store(split.Unix())
	w.buildStream()
	w.archive = httptest.NewServer(http.HandlerFunc(w.serveArchive))
	t.Cleanup(w.archive.Close)
	w.stream = httptest.NewServer(http.HandlerFunc(w.serveStream))
	t.Cleanup(w.stream.Close)
	return w
}

var updatesNameRE = regexp.MustCompile(`^(bview|updates)\.(\d{8}\.\d{4})\.gz$`)

// fileTime returns the time in an archive file's name.
func fileTime(name string) (time.Time, bool) {
	m := updatesNameRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102.1504", m[2])
	return t, err == nil
}

// buildStream reads every updates file's observations at or after T and
// writes them as RIS Live messages: per collector in file order (as the
// collector sends them), the collectors merged by time.
func (w *risWorld) buildStream() {
	type msg struct {
		t time.Time
		b []byte
		c string
	}
	per := map[string][]msg{}
	err := filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "updates.") {
			return err
		}
		coll := filepath.Base(filepath.Dir(filepath.Dir(p)))
		src, err := mrtsource.Open(p, mrtsource.Options{Collector: coll})
		if err != nil {
			return err
		}
		defer src.Close()
		for {
			o, err := src.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if o.Time.Before(w.split) {
				continue
			}
			per[coll] = append(per[coll], msg{t: o.Time, b: risMessage(&o), c: coll})
		}
	})
	if err != nil {
		w.t.Fatal(err)
	}
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	heads := make([]int, len(names))
	for {
		best := -1
		for i, n := range names {
			if heads[i] < len(per[n]) && (best < 0 || per[n][heads[i]].t.Before(per[names[best]][heads[best]].t)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		m := per[names[best]][heads[best]]
		heads[best]++
		w.msgs = append(w.msgs, m.b)
		w.times = append(w.times, float64(m.t.UnixNano())/1e9)
		w.colls = append(w.colls, m.c)
	}
	if len(w.msgs) == 0 {
		w.t.Fatal("no messages after T")
	}
}

// risMessage renders one observation as RIS Live would send it.
func risMessage(o *bgpwatch.Observation) []byte {
	data := map[string]any{
		"timestamp": float64(o.Time.UnixNano()) / 1e9,
		"peer":      o.Peer.Addr.String(),
		"peer_asn":  o.Peer.ASN.String(),
		"id":        "x",
		"host":      o.Peer.Collector + ".ripe.net",
		"type":      "UPDATE",
	}
	switch o.Kind {
	case bgpwatch.Announce:
		path := []any{}
		if o.Origin != 0 {
			path = append(path, uint32(o.Peer.ASN))
			if o.Origin != o.Peer.ASN {
				path = append(path, uint32(o.Origin))
			}
		}
		data["path"] = path
		data["origin"] = "igp"
		data["announcements"] = []any{map[string]any{"next_hop": o.Peer.Addr.String(), "prefixes": []string{o.Prefix.String()}}}
	case bgpwatch.Withdraw:
		data["path"] = []any{}
		data["withdrawals"] = []string{o.Prefix.String()}
	case bgpwatch.PeerDown:
		data["type"] = "RIS_PEER_STATE"
		data["state"] = "down"
	default:
		panic("unexpected observation kind " + o.Kind.String())
	}
	b, err := json.Marshal(map[string]any{"type": "ris_message", "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

// serveArchive serves the generated files published so far, with
// directory index pages listing them.
func (w *risWorld) serveArchive(rw http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	local := filepath.Join(w.dir, filepath.FromSlash(rel))
	st, err := os.Stat(local)
	if err != nil {
		http.NotFound(rw, r)
		return
	}
	pub := time.Unix(w.published.Load(), 0)
	if st.IsDir() {
		ents, _ := os.ReadDir(local)
		var b strings.Builder
		b.WriteString("<html><body>\n")
		for _, e := range ents {
			if e.IsDir() { // the collectors at the root, the months below them
				fmt.Fprintf(&b, "<a href=\"%s/\">%s/</a>\n", e.Name(), e.Name())
			}
			if t, ok := fileTime(e.Name()); ok && t.Before(pub) && !w.hidden(rel+"/", e.Name()) {
				fmt.Fprintf(&b, "<a href=\"%s\">%s</a>\n", e.Name(), e.Name())
			}
		}
		b.WriteString("</body></html>\n")
		rw.Header().Set("Content-Type", "text/html")
		io.WriteString(rw, b.String())
		return
	}
	if t, ok := fileTime(st.Name()); !ok || !t.Before(pub) || w.hidden(rel, st.Name()) {
		http.NotFound(rw, r)
		return
	}
	http.ServeFile(rw, r, local)
}

// serveStream is a RIS-Live-compatible websocket: it answers pings and
// sends the messages after T as fast as the client reads them. The
// archive publishes each updates file once the stream has passed its end.
func (w *risWorld) serveStream(rw http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(rw, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	w.mu.Lock()
	w.conns++
	conn := w.conns
	from, upto := 0, len(w.msgs)
	if w.cut > 0 {
		if conn == 1 {
			upto = w.cut
		} else {
			from = w.cut + w.skip
		}
	}
	if w.resume && conn > 1 {
		from = min(w.sent+w.skip, len(w.msgs)-1)
	}
	mute, muteFrom := w.mute, w.muteFrom
	pauseAt, unpause := w.pauseAt, w.unpause
	w.mu.Unlock()
	// The subscription comes first; pings are answered while streaming.
	if _, _, err := c.Read(ctx); err != nil {
		return
	}
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if strings.Contains(string(b), `"ping"`) {
				c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			}
		}
	}()
	pace := time.Duration(0)
	if w.resume && conn == 1 {
		pace = time.Millisecond // slow enough to be killed midway
	}
	for i := from; i < upto; i++ {
		// RIS publishes an updates file once its five minutes are over.
		if p := time.Unix(0, int64(w.times[i]*1e9)).Truncate(5 * time.Minute); p.Unix() > w.published.Load() {
			w.published.Store(p.Unix())
		}
		if i == pauseAt && pauseAt > 0 {
			w.paused.Store(true)
			select {
			case <-unpause:
			case <-ctx.Done():
				return
			}
			w.paused.Store(false)
		}
		if w.colls[i] == mute && w.times[i] >= muteFrom {
			continue
		}
		if err := c.Write(ctx, websocket.MessageText, w.msgs[i]); err != nil {
			return
		}
		w.mu.Lock()
		w.sent = i + 1
		w.mu.Unlock()
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	// At the end of the stream, the last file is published too.
	w.published.Store(time.Unix(0, int64(w.times[len(w.times)-1]*1e9)).Truncate(5 * time.Minute).Add(5 * time.Minute).Unix())
	if upto < len(w.msgs) {
		c.Close(websocket.StatusGoingAway, "cut")
		return
	}
	<-ctx.Done()
}

// replayDB replays the whole archive into a new database.
func (w *risWorld) replayDB() *store.DB {
	w.t.Helper()
	db := storetest.New(w.t)
	args := []string{"replay", "--db", db.Pool().Config().ConnString()}
	for _, f := range w.truth.RIRFiles {
		args = append(args, "--delegations", filepath.Join(w.dir, f))
	}
	args = append(args, "--asn-info", filepath.Join(w.dir, w.truth.ASNInfo), w.dir)
	var stderr syncbuf.Buffer
	if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &stderr); code != exitOK {
		w.t.Fatalf("replay exited %d: %s", code, stderr.String())
	}
	return db
}

// config writes serve's configuration file for following the world.
func (w *risWorld) config(cache string) string {
	var b strings.Builder
	b.WriteString("tick: 50ms\nlateness: 10s\n")
	b.WriteString("delegations:\n")
	for _, f := range w.truth.RIRFiles {
		fmt.Fprintf(&b, "  - %s\n", filepath.Join(w.dir, f))
	}
	fmt.Fprintf(&b, "asn_info: %s\n", filepath.Join(w.dir, w.truth.ASNInfo))
	colls := cmp.Or(w.collectors, "rrc00, rrc01")
	fmt.Fprintf(&b, "ris_live:\n  url: ws%s/v1/ws/\n  collectors: [%s]\n  archive_url: %s\n  cache_dir: %s\n",
		strings.TrimPrefix(w.stream.URL, "http"), colls, w.archive.URL, cache)
	b.WriteString("  archive_poll: 100ms\n  first_wait: 10s\n  read_timeout: 3s\n")
	b.WriteString(w.extra)
	p := filepath.Join(w.t.TempDir(), "serve.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// lastTime is the data time of the stream's last message.
func (w *risWorld) lastTime() time.Time {
	return time.Unix(0, int64(w.times[len(w.times)-1]*1e9)).UTC()
}

// compared dumps the series, the full-feed counts and the events (without
// what differs by source: ids, the source, notices) of bins before end.
func compared(t *testing.T, db *store.DB, end time.Time) string {
	t.Helper()
	e := end.UTC().Format(time.RFC3339)
	return storetest.Dump(t, db,
		`SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes, asns FROM country_series WHERE bin < '`+e+`' ORDER BY 1, 2`,
		`SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series WHERE bin < '`+e+`' ORDER BY 1, 2`,
		`SELECT bin, full_feed FROM bin_feeds WHERE bin < '`+e+`' ORDER BY 1`,
		`SELECT scope, country, asn, access, started_at, ended_at, baseline_slash24, min_slash24, drop_ratio, withdrawn_prefixes
		   FROM events WHERE started_at < '`+e+`' ORDER BY 1, 2, 3, 5`,
		`SELECT e.scope, e.asn, e.started_at, a.asn, a.baseline_slash24, a.min_slash24
		   FROM event_asns a JOIN events e ON e.id = a.event_id ORDER BY 1, 2, 3, 4`,
		`SELECT e.scope, e.asn, e.started_at, p.prefix, p.origin_asn, p.withdrawn_at
		   FROM event_prefixes p JOIN events e ON e.id = p.event_id ORDER BY 1, 2, 3, 4`,
	)
}

// waitBins waits until db holds the country series up to bin last.
func waitBins(t *testing.T, db *store.DB, last time.Time, s *served) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		if err := db.Pool().QueryRow(context.Background(),
			`SELECT count(*) FROM bin_feeds WHERE bin >= $1`, last).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			_, peers := s.get(t, "/v1/peers")
			t.Fatalf("no bin at %s within 2 minutes; peers: %s\nlog:\n%s", last, peers, tail(s.stderr.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// reset starts the world over for a new serve: the archive published up
// to T, the stream's connections counted from 0.
func (w *risWorld) reset(cut, skip int) {
	w.published.Store(w.split.Unix())
	w.mu.Lock()
	w.conns, w.cut, w.skip, w.sent = 0, cut, skip, 0
	w.resume, w.mute, w.muteFrom, w.extra, w.collectors = false, "", 0, "", ""
	w.holeColl, w.pauseAt, w.unpause = "", 0, nil
	w.mu.Unlock()
}

// follow runs serve against the world until the bins up to the stream's
// end are stored, checks /v1/peers, stops serve and returns its database
// and the end of the bins to compare.
func (w *risWorld) follow(t *testing.T, db *store.DB, cache string) time.Time {
	t.Helper()
	began := time.Now()
	s := startServe(t, "--db", db.Pool().Config().ConnString(), "--config", w.config(cache), "--webhooks=false", "--web=false")
	// Bins close when the stream is 10 s (the lateness) past their end.
	last := w.lastTime().Add(-10 * time.Second).Truncate(bgpwatch.BinStep).Add(-bgpwatch.BinStep)
	waitBins(t, db, last, s)
	t.Logf("followed up to %s in %v", last, time.Since(began).Round(time.Millisecond))
	w.checkPeers(t, s)
	checkPeersSchema(t, s)
	for _, m := range []string{`bgpwatch_live_collector_state{collector="rrc00",state="`, `bgpwatch_live_collector_messages_total{collector="rrc01"}`,
		`bgpwatch_live_collector_lag_seconds{collector="rrc00"}`, `bgpwatch_live_collector_archive_files_done{collector="rrc01"}`,
		"bgpwatch_live_watermark_timestamp_seconds 1.7"} {
		if _, b := s.get(t, "/metrics"); !strings.Contains(b, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// serve flushes its log every 250 ms.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) &&
		!strings.Contains(s.stderr.String(), `msg="collector live" component=live source=ris-archive collector=rrc00`); {
		time.Sleep(20 * time.Millisecond)
	}
	if l := s.stderr.String(); strings.Count(l, `msg="collector live" component=live source=ris-archive collector=rrc00`) == 0 ||
		strings.Count(l, `msg="collector bootstrapping" component=live source=ris-archive collector=rrc00`) != 1 {
		t.Errorf("the log must say each collector's state once per change:\n%s", tail(l, 30))
	}
	s.cancel()
	if code := <-s.done; code != exitOK {
		t.Fatalf("serve exited %d: %s", code, tail(s.stderr.String(), 30))
	}
	return last.Add(bgpwatch.BinStep)
}

// checkPeers checks the collector rows of /v1/peers.
func (w *risWorld) checkPeers(t *testing.T, s *served) {
	t.Helper()
	code, body := s.get(t, "/v1/peers")
	if code != 200 {
		t.Fatalf("peers: %d %s", code, body)
	}
	var v struct {
		Peers []struct {
			Source    string `json:"source"`
			Collector string `json:"collector"`
			State     string `json:"state"`
			Feed      *struct {
				State    string `json:"state"`
				Messages int64  `json:"messages"`
				Gaps     int    `json:"gaps"`
			} `json:"feed"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	var feeds []string
	w.mu.Lock()
	wantGaps := 0
	if w.cut > 0 {
		wantGaps = 1
	}
	mute, never := w.mute, w.muteFrom == 0
	w.mu.Unlock()
	for _, r := range v.Peers {
		if r.Feed != nil {
			feeds = append(feeds, fmt.Sprintf("%s:%s:%d", r.Collector, r.Feed.State, r.Feed.Gaps))
		}
		if r.Source == "ris-live" && r.Collector != "ris-live" && !slices.Contains([]string{"rrc00", "rrc01"}, r.Collector) {
			t.Errorf("row of collector %q: RIS Live's host must be named as the archive names it", r.Collector)
		}
	}
	want := []string{fmt.Sprintf("rrc00:live:%d", wantGaps), fmt.Sprintf("rrc01:live:%d", wantGaps)}
	if mute == "rrc01" {
		// The stream is over: rrc00 is stale by now too, or live.
		want[1] = "rrc01:stale:0"
		if len(feeds) > 0 && feeds[0] == "rrc00:stale:0" {
			want[0] = feeds[0]
		}
		if never && len(feeds) > 1 && feeds[1] == "rrc01:live:0" {
			// Live from the end of its catch-up, stale silent_after later.
			want[1] = feeds[1]
		}
	}
	if !slices.Equal(feeds, want) {
		t.Errorf("collector feeds (name:state:gaps): %v, want %v", feeds, want)
	}
}

// TestServeRISLiveEqualsReplay follows two RIS collectors live from a
// local RIS archive (published up to T, then up to the stream's first
// message once it starts, as RIS publishes some minutes late) and a local
// RIS Live stream of the messages after T: the bootstrap (bview, updates
// files), the hand-off to the stream and the stream must leave bin for bin
// the same series, full-feed counts and events as a replay of the whole
// archive. The same holds when the stream is cut in the middle and the
// messages sent until the reconnection are lost: the gap is filled from
// the archive once published.
func TestServeRISLiveEqualsReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, replays and follows a scenario")
	}
	split := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	w := newRISWorld(t, split)
	began := time.Now()
	want := w.replayDB()
	t.Logf("replayed in %v; %d stream messages after %s", time.Since(began).Round(time.Millisecond), len(w.msgs), split)
	// The cut: at the first message of 06:00, when AS12298 withdraws its
	// prefixes; the stream loses the messages of the next minute.
	at := func(t time.Time) int {
		return sort.Search(len(w.times), func(i int) bool { return w.times[i] >= float64(t.Unix()) })
	}
	cutAt := time.Date(2024, 1, 2, 6, 0, 0, 0, time.UTC)
	cut, skip := at(cutAt), at(cutAt.Add(time.Minute))-at(cutAt)
	if skip < 50 {
		t.Fatalf("only %d messages in the minute lost: the cut proves little", skip)
	}

	t.Run("kill -9 and restart", func(t *testing.T) {
		w.reset(0, 0)
		w.mu.Lock()
		w.resume, w.skip = true, 100 // lost while serve is down
		w.mu.Unlock()
		db := storetest.New(t)
		cache := t.TempDir()
		args, _ := json.Marshal([]string{"serve", "--listen", "127.0.0.1:0", "--db", db.Pool().Config().ConnString(),
			"--config", w.config(cache), "--webhooks=false", "--web=false"})
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BGPWATCH_REPLAY_CHILD="+string(args))
		var stderr syncbuf.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Killed once the event's bins are being written.
		mid := time.Date(2024, 1, 2, 6, 30, 0, 0, time.UTC)
		killed := false
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var n int
			if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM bin_feeds WHERE bin >= $1`, mid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				break
			}
		}
		err := cmd.Wait()
		if !killed {
			t.Fatalf("serve not killed (%v): %s", err, tail(stderr.String(), 30))
		}
		w.mu.Lock()
		sent := w.sent
		w.mu.Unlock()
		end := w.follow(t, db, cache)
		got, exp := compared(t, db, end), compared(t, want, end)
		if got != exp {
			t.Fatalf("live after kill -9 and restart differs from replay: %s", storetest.FirstDiff(exp, got))
		}
		t.Logf("killed after %d of %d stream messages; %d lines compared", sent, len(w.msgs), strings.Count(got, "\n"))
	})

	t.Run("ris, a collector never in the stream", func(t *testing.T) {
		// Following every collector: rrc01 sends nothing, so only the
		// archive's list of running collectors names it. It is
		// bootstrapped from its bview and updates files all the same, and
		// the bins are the replay's.
		w.reset(0, 0)
		w.mu.Lock()
		w.collectors, w.mute, w.muteFrom = "ris", "rrc01", 0
		w.extra = "silent_after: 1s\n"
		w.mu.Unlock()
		db := storetest.New(t)
		end := w.follow(t, db, t.TempDir())
		got, exp := compared(t, db, end), compared(t, want, end)
		if got != exp {
			t.Fatalf("live with rrc01 silent differs from replay: %s", storetest.FirstDiff(exp, got))
		}
		t.Logf("%d lines compared", strings.Count(got, "\n"))
	})

	t.Run("silent collector", func(t *testing.T) {
		// rrc01's stream stops at 05:00, before AS12298's withdrawal: it
		// goes stale, the bins go on without it, and it raises no event.
		w.reset(0, 0)
		w.mu.Lock()
		w.mute, w.muteFrom = "rrc01", float64(split.Add(2*time.Hour).Unix())
		w.extra = "silent_after: 1s\n"
		w.mu.Unlock()
		db := storetest.New(t)
		end := w.follow(t, db, t.TempDir())
		q := `SELECT scope, country, asn FROM events WHERE started_at < '` + end.Format(time.RFC3339) + `' ORDER BY 1, 2, 3`
		got, exp := storetest.Dump(t, db, q), storetest.Dump(t, want, q)
		if got != exp {
			t.Errorf("events with a silent collector:\n%s\nwant those of the replay:\n%s", got, exp)
		}
	})

	for _, tc := range []struct {
		name      string
		cut, skip int
	}{
		{"straight", 0, 0},
		{"disconnect", cut, skip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.reset(tc.cut, tc.skip)
			db := storetest.New(t)
			end := w.follow(t, db, t.TempDir())
			got, exp := compared(t, db, end), compared(t, want, end)
			if got != exp {
				t.Fatalf("live differs from replay: %s", storetest.FirstDiff(exp, got))
			}
			var events int
			if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM events WHERE started_at >= $1`, split).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events == 0 {
				t.Errorf("no event after T: the comparison proves little")
			}
			w.mu.Lock()
			conns := w.conns
			w.mu.Unlock()
			t.Logf("%d lines compared, %d events after T, %d stream connections, %d messages lost", strings.Count(got, "\n"), events, conns, tc.skip)
		})
	}
}

// feedStates returns the collector rows' feed state and gap count from
// /v1/peers, by collector.
func feedStates(t *testing.T, s *served) map[string]string {
	t.Helper()
	code, body := s.get(t, "/v1/peers")
	for i := 0; code == http.StatusTooManyRequests && i < 20; i++ {
		time.Sleep(250 * time.Millisecond)
		code, body = s.get(t, "/v1/peers")
	}
	if code != 200 {
		t.Fatalf("peers: %d %s", code, body)
	}
	var v struct {
		Peers []struct {
			Collector string `json:"collector"`
			Feed      *struct {
				State string `json:"state"`
				Gaps  int    `json:"gaps"`
			} `json:"feed"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range v.Peers {
		if r.Feed != nil {
			out[r.Collector] = fmt.Sprintf("%s:%d", r.Feed.State, r.Feed.Gaps)
		}
	}
	return out
}

// waitState waits until collector's feed row is one of want (state:gaps).
func waitState(t *testing.T, s *served, collector string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := feedStates(t, s)
		if slices.Contains(want, got[collector]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector %s is %q, want %q; log:\n%s", collector, got[collector], want, tail(s.stderr.String(), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeRISGap cuts the RIS Live stream of both collectors at 06:00,
// when AS12298 withdraws its prefixes, and loses its next minute; the
// archive fills rrc01's gap at once but hides rrc00's 06:00 updates file,
// and the stream pauses at 06:40. rrc00's gap must not hold the bins
// past gap_hold (100ms here) and silent_after (1s): they close up to 06:25 and beyond while rrc00 is
// "gap", with its tables as they were at the cut (rrc00 has most of the
// full-feed peers: the withdrawal does not show until its data comes).
//
//   - Filled late: the file is published once those bins are closed; the
//     gap's observations are then applied in the bin open then, before the
//     stream held meanwhile, and from the next full bin on the series and
//     full-feed counts equal a replay's. The event is the replay's, but
//     starts at the bin where rrc00's data came back instead of 06:00.
//   - Never filled (archive_max_wait 2s): rrc00 goes on "stale" in
//     /v1/peers and /metrics, with the stream held meanwhile; no event is
//     raised that the replay does not have (the event starts late, from
//     the withdrawals after the lost minute), and no country's series falls
//     below the replay's: rrc00 keeps its routes of the cut (no withdrawal
//     is invented).
func TestServeRISGap(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, replays and follows a scenario")
	}
	split := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	w := newRISWorld(t, split)
	want := w.replayDB()
	at := func(t time.Time) int {
		return sort.Search(len(w.times), func(i int) bool { return w.times[i] >= float64(t.Unix()) })
	}
	cutAt := time.Date(2024, 1, 2, 6, 0, 0, 0, time.UTC)
	pauseAt := cutAt.Add(40 * time.Minute)
	cut, skip := at(cutAt), at(cutAt.Add(time.Minute))-at(cutAt)
	lastBin := w.lastTime().Add(-10 * time.Second).Truncate(bgpwatch.BinStep).Add(-bgpwatch.BinStep)

	// follow runs serve until the bins up to 04:25 are stored, with rrc01
	// in its gap.
	follow := func(t *testing.T, maxWait string) (*served, *store.DB) {
		w.reset(cut, skip)
		w.mu.Lock()
		w.holeColl, w.holeFrom, w.holeTo = "rrc00", cutAt, cutAt.Add(5*time.Minute)
		w.pauseAt, w.unpause = at(pauseAt), make(chan struct{})
		w.extra = "  archive_max_wait: " + maxWait + "\n  gap_hold: 100ms\nsilent_after: 1s\n"
		w.mu.Unlock()
		db := storetest.New(t)
		s := startServe(t, "--db", db.Pool().Config().ConnString(), "--config", w.config(t.TempDir()), "--webhooks=false", "--web=false")
		t.Cleanup(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.unpause != nil {
				close(w.unpause)
				w.unpause = nil
			}
		})
		waitBins(t, db, cutAt.Add(25*time.Minute), s)
		return s, db
	}
	unpause := func() {
		w.mu.Lock()
		close(w.unpause)
		w.unpause = nil
		w.mu.Unlock()
	}
	stop := func(t *testing.T, s *served) {
		s.cancel()
		if code := <-s.done; code != exitOK {
			t.Fatalf("serve exited %d: %s", code, tail(s.stderr.String(), 30))
		}
	}
	// between dumps the series of the bins in [from, to).
	between := func(t *testing.T, db *store.DB, from, to time.Time) string {
		f, e := from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)
		return storetest.Dump(t, db,
			`SELECT country, bin, visible_prefixes, visible_slash24, visible_v6_prefixes, asns FROM country_series WHERE bin >= '`+f+`' AND bin < '`+e+`' ORDER BY 1, 2`,
			`SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series WHERE bin >= '`+f+`' AND bin < '`+e+`' ORDER BY 1, 2`,
			`SELECT bin, full_feed FROM bin_feeds WHERE bin >= '`+f+`' AND bin < '`+e+`' ORDER BY 1`)
	}
	// drops lists the country bins from the cut on whose visible /24s are
	// below the replay's, with the difference.
	drops := func(t *testing.T, db *store.DB) map[string]int {
		t.Helper()
		got := map[string]int{}
		rows, err := db.Pool().Query(context.Background(),
			`SELECT country, bin, visible_slash24 FROM country_series WHERE bin >= $1 AND bin <= $2`, cutAt, lastBin)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var cc string
			var bin time.Time
			var n int
			if err := rows.Scan(&cc, &bin, &n); err != nil {
				t.Fatal(err)
			}
			var r int
			if err := want.Pool().QueryRow(context.Background(),
				`SELECT visible_slash24 FROM country_series WHERE country = $1 AND bin = $2`, cc, bin).Scan(&r); err != nil {
				t.Fatalf("replay has no %s bin %s: %v", cc, bin, err)
			}
			if n < r {
				got[fmt.Sprintf("%s %s", cc, bin.UTC().Format("15:04"))] = r - n
			}
		}
		return got
	}

	t.Run("filled late", func(t *testing.T) {
		s, db := follow(t, "1h")
		// (rrc01 is stale once the stream pauses, silent_after being 1 s.)
		if st := feedStates(t, s); st["rrc00"] != "gap:1" || (st["rrc01"] != "live:1" && st["rrc01"] != "stale:1") {
			t.Fatalf("with bins closed up to 06:25, collectors %v; want rrc00 in its gap, rrc01 past its own", st)
		}
		w.mu.Lock()
		w.holeColl = "" // the archive publishes rrc01's file at last
		w.mu.Unlock()
		// Filled, rrc01 is live, and stale soon after while the stream
		// pauses.
		waitState(t, s, "rrc00", "live:1", "stale:1")
		// The bins from the next full one on are the replay's.
		from := watermark(t, s).Truncate(bgpwatch.BinStep).Add(bgpwatch.BinStep)
		unpause()
		waitBins(t, db, lastBin, s)
		stop(t, s)
		got, exp := between(t, db, from, lastBin.Add(bgpwatch.BinStep)), between(t, want, from, lastBin.Add(bgpwatch.BinStep))
		if got != exp {
			t.Fatalf("series after the late fill differ from the replay's: %s", storetest.FirstDiff(exp, got))
		}
		checkLateEvents(t, db, want, pauseAt)
		gap, wgap := between(t, db, cutAt, from), between(t, want, cutAt, from)
		t.Logf("%d series lines compared from %s; in the gap's bins (%s to %s) %d of %d lines differ from the replay's",
			strings.Count(got, "\n"), from.Format("15:04"), cutAt.Format("15:04"), from.Format("15:04"), lineDiff(gap, wgap), strings.Count(wgap, "\n"))
	})

	t.Run("filled within gap_hold", func(t *testing.T) {
		// The default gap_hold holds every bin from the cut on until the
		// late file comes (well past silent_after): then everything, the
		// event's start included, is the replay's.
		w.reset(cut, skip)
		w.mu.Lock()
		w.holeColl, w.holeFrom, w.holeTo = "rrc00", cutAt, cutAt.Add(5*time.Minute)
		w.extra = "  archive_max_wait: 1h\nsilent_after: 1s\n"
		w.mu.Unlock()
		db := storetest.New(t)
		s := startServe(t, "--db", db.Pool().Config().ConnString(), "--config", w.config(t.TempDir()), "--webhooks=false", "--web=false")
		waitState(t, s, "rrc00", "gap:1")
		time.Sleep(3 * time.Second) // three times silent_after
		var n int
		if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM bin_feeds WHERE bin >= $1`, cutAt).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Fatalf("%d bins from the cut on closed while rrc00 waited for its gap within gap_hold", n)
		}
		w.mu.Lock()
		w.holeColl = ""
		w.mu.Unlock()
		waitState(t, s, "rrc00", "live:1", "stale:1")
		waitBins(t, db, lastBin, s)
		stop(t, s)
		end := lastBin.Add(bgpwatch.BinStep)
		got, exp := compared(t, db, end), compared(t, want, end)
		if got != exp {
			t.Fatalf("a gap filled within gap_hold differs from the replay: %s", storetest.FirstDiff(exp, got))
		}
		t.Logf("%d lines compared", strings.Count(got, "\n"))
	})

	t.Run("never filled", func(t *testing.T) {
		s, db := follow(t, "2s")
		waitState(t, s, "rrc00", "stale:1")
		if _, b := s.get(t, "/metrics"); !strings.Contains(b, `bgpwatch_live_collector_state{collector="rrc00",state="stale"} 1`) {
			t.Errorf("/metrics does not show rrc00 stale")
		}
		unpause()
		waitBins(t, db, lastBin, s)
		if st := feedStates(t, s); st["rrc00"] != "stale:1" {
			t.Errorf("rrc00 is %q at the end, want stale until a RIB dump re-synchronises it", st["rrc00"])
		}
		_, body := s.get(t, "/v1/peers")
		var v struct {
			Peers []struct {
				Collector string `json:"collector"`
				Feed      *struct {
					GapFrom  time.Time `json:"gap_from"`
					Unfilled bool      `json:"unfilled"`
				} `json:"feed"`
			} `json:"peers"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Peers {
			if p.Collector == "rrc00" && p.Feed != nil &&
				(!p.Feed.Unfilled || p.Feed.GapFrom.After(cutAt) || p.Feed.GapFrom.Before(cutAt.Add(-5*time.Minute))) {
				t.Errorf("rrc00's feed says unfilled %v, gap from %s; want true, the last message before the cut at %s", p.Feed.Unfilled, p.Feed.GapFrom, cutAt)
			}
		}
		stop(t, s)
		checkLateEvents(t, db, want, pauseAt)
		d := drops(t, db)
		t.Logf("country bins below the replay's: %v", d)
		if len(d) > 0 {
			t.Errorf("%d country bins below the replay's with rrc00's gap never filled: %v", len(d), d)
		}
	})
}

// lineDiff counts the lines of a not in b.
func lineDiff(a, b string) int {
	in := map[string]int{}
	for _, l := range strings.Split(b, "\n") {
		in[l]++
	}
	n := 0
	for _, l := range strings.Split(a, "\n") {
		if in[l] > 0 {
			in[l]--
			continue
		}
		n++
	}
	return n
}

// checkLateEvents checks that db has the events of the replay want, one
// for one, none else, each with the same end, baseline and minimum, and a
// start no earlier than the replay's and before by (a gap may delay it).
func checkLateEvents(t *testing.T, db, want *store.DB, by time.Time) {
	t.Helper()
	type ev struct {
		key              string
		started          time.Time
		ended            *time.Time
		baseline, minimu int
	}
	read := func(db *store.DB) []ev {
		rows, err := db.Pool().Query(context.Background(),
			`SELECT scope || ' ' || country || ' ' || asn, started_at, ended_at, baseline_slash24, min_slash24 FROM events ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []ev
		for rows.Next() {
			var e ev
			if err := rows.Scan(&e.key, &e.started, &e.ended, &e.baseline, &e.minimu); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	got, exp := read(db), read(want)
	if len(got) != len(exp) || len(exp) == 0 {
		t.Fatalf("events %+v, want one for each of the replay's %+v", got, exp)
	}
	for i, g := range got {
		e := exp[i]
		if g.key != e.key || (g.ended == nil) != (e.ended == nil) || (g.ended != nil && !g.ended.Equal(*e.ended)) ||
			g.baseline != e.baseline || g.minimu != e.minimu || g.started.Before(e.started) || !g.started.Before(by) {
			t.Errorf("event %s from %s to %v (baseline %d, min %d); want the replay's from %s to %v (baseline %d, min %d), started by %s",
				g.key, g.started, g.ended, g.baseline, g.minimu, e.started, e.ended, e.baseline, e.minimu, by)
			continue
		}
		if !g.started.Equal(e.started) {
			t.Logf("event %s starts at %s, %v after the replay's: the gap held its data back", g.key, g.started.Format("15:04"), g.started.Sub(e.started))
		}
	}
}

// watermark reads the live watermark from /metrics.
func watermark(t *testing.T, s *served) time.Time {
	t.Helper()
	_, b := s.get(t, "/metrics")
	for _, l := range strings.Split(b, "\n") {
		if v, ok := strings.CutPrefix(l, "bgpwatch_live_watermark_timestamp_seconds "); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err != nil {
				t.Fatalf("watermark %q: %v", v, err)
			}
			return time.Unix(0, int64(f*1e9)).UTC()
		}
	}
	t.Fatalf("no watermark in /metrics")
	return time.Time{}
}
