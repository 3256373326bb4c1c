package risfeed

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/synth"
)

// sink records what a Collector sends.
type sink struct {
	mu   sync.Mutex
	obs  []bgpwatch.Observation
	live []bool // live state at each observation
	on   bool
}

func (s *sink) Send(_ context.Context, obs []bgpwatch.Observation, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range obs {
		s.obs = append(s.obs, o)
		s.live = append(s.live, s.on)
	}
	return nil
}

func (s *sink) SetLive(on bool) { s.mu.Lock(); s.on = on; s.mu.Unlock() }

func (s *sink) snapshot() []bgpwatch.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bgpwatch.Observation(nil), s.obs...)
}

var fileRE = regexp.MustCompile(`^(bview|updates)\.(\d{8}\.\d{4})\.gz$`)

// archiveServer serves dir as the RIS archive, files named before
// published only, with index pages.
func archiveServer(t *testing.T, dir string, published *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(path.Clean(r.URL.Path), "/")))
		st, err := os.Stat(local)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ok := func(name string) bool {
			m := fileRE.FindStringSubmatch(name)
			if m == nil {
				return false
			}
			tt, err := time.Parse("20060102.1504", m[2])
			return err == nil && tt.Unix() < published.Load()
		}
		if st.IsDir() {
			ents, _ := os.ReadDir(local)
			for _, e := range ents {
				if ok(e.Name()) {
					fmt.Fprintf(w, "<a href=\"%s\">%s</a>\n", e.Name(), e.Name())
				}
			}
			return
		}
		if !ok(st.Name()) {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, local)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestCollectorBootstrapAndResync bootstraps rrc00 of a generated archive
// up to a stream message at 01:00:30, waiting for the updates file holding
// it to be published, hands over to the stream, and re-reads the tables
// when the 08:00 bview is published, then sends the stream's
// observations since 08:00 again.
func TestCollectorBootstrapAndResync(t *testing.T) {
	dir, t0 := rrc00Archive(t, 9)
	var published atomic.Int64
	published.Store(t0.Add(time.Hour).Unix()) // updates up to 00:55
	srv := archiveServer(t, dir, &published)
	var now atomic.Int64
	now.Store(t0.Add(time.Hour).UnixNano())
	snk := &sink{}
	c := New(Config{
		Name: "rrc00", Archive: fetch.Options{RISURL: srv.URL, CacheDir: t.TempDir()},
		Poll: 20 * time.Millisecond, FirstWait: 5 * time.Second, StaleAfter: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() },
	}, snk)
	runCollector(t, c)

	peer := bgpwatch.Peer{Collector: "rrc00", ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")}
	first := bgpwatch.Observation{Time: t0.Add(time.Hour + 30*time.Second), Kind: bgpwatch.Announce, Peer: peer,
		Prefix: netip.MustParsePrefix("203.0.113.0/24"), Origin: 64501}
	c.Stream([]bgpwatch.Observation{first})
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, c, what, cond, nil) }
	// The file holding 01:00:30 is not published: the collector waits.
	wait("catching up", func() bool { return c.Status().State == StateCatchingUp && c.Status().FilesDone > 0 })
	time.Sleep(100 * time.Millisecond)
	if st := c.Status(); st.State != StateCatchingUp {
		t.Fatalf("state %s before the 01:00 file is published, want %s", st.State, StateCatchingUp)
	}
	published.Store(t0.Add(time.Hour + 5*time.Minute).Unix())
	wait("live", func() bool { return c.Status().State == StateLive })
	got := snk.snapshot()
	if got[0].Kind != bgpwatch.TableStart || !got[0].Time.Equal(t0) {
		t.Fatalf("first observation %+v, want the 00:00 bview's table start", got[0])
	}
	last := got[len(got)-1]
	if last != first {
		t.Fatalf("last observation %+v, want the stream's first message after the archive", last)
	}
	cutoff := first.Time.Truncate(time.Second).Add(time.Second)
	for i, o := range got[:len(got)-1] {
		if !o.Time.Before(cutoff) {
			t.Fatalf("archive observation %d at %s, after the stream's first message's second", i, o.Time)
		}
		if snk.live[i] {
			t.Fatalf("archive observation %d sent while live", i)
		}
	}
	if got[len(got)-2].Time.Before(t0.Add(time.Hour)) {
		t.Errorf("the archive stops at %s: the 01:00 file was not read", got[len(got)-2].Time)
	}
	n := len(got)

	// Later: a stream message at 08:20, then the 08:00 bview and the
	// updates files up to 08:15 are published.
	later := first
	later.Time = t0.Add(8*time.Hour + 20*time.Minute)
	c.Stream([]bgpwatch.Observation{later})
	wait("the 08:20 message", func() bool { return len(snk.snapshot()) == n+1 })
	now.Store(t0.Add(8*time.Hour + 25*time.Minute).UnixNano())
	published.Store(t0.Add(8*time.Hour + 15*time.Minute).Unix())
	wait("resync", func() bool { return c.Status().RIB.Equal(t0.Add(8 * time.Hour)) })
	wait("resent", func() bool { o := snk.snapshot(); return len(o) > n+2 && o[len(o)-1] == later })
	got = snk.snapshot()[n+1:]
	end, updates := -1, 0
	for i, o := range got {
		switch {
		case o.Kind == bgpwatch.TableEnd:
			end = i
		case end >= 0 && i < len(got)-1:
			updates++
			if o.Time.Before(t0.Add(8*time.Hour)) || !o.Time.Before(t0.Add(8*time.Hour+15*time.Minute)) {
				t.Errorf("resync update at %s, want 08:00 to 08:15", o.Time)
			}
		}
	}
	if got[0].Kind != bgpwatch.TableStart || !got[0].Time.Equal(t0.Add(8*time.Hour)) || end < 0 || updates == 0 {
		t.Errorf("resync sent %d observations from %+v, table end at %d, %d updates; want the 08:00 bview, the updates files to 08:15, then the stream since",
			len(got), got[0], end, updates)
	}
}

// TestCollectorBufferFull holds a collector's stream in a buffer of two
// observations while its archive lags: the buffer overflows, and what it
// held is read from the archive instead, as after a disconnect.
func TestCollectorBufferFull(t *testing.T) {
	dir, t0 := rrc00Archive(t, 2)
	var published atomic.Int64
	published.Store(t0.Add(30 * time.Minute).Unix())
	srv := archiveServer(t, dir, &published)
	snk := &sink{}
	c := New(Config{
		Name: "rrc00", Archive: fetch.Options{RISURL: srv.URL, CacheDir: t.TempDir()},
		Poll: 20 * time.Millisecond, FirstWait: 5 * time.Second, MaxBuffered: 2, NoResync: true,
		Now: func() time.Time { return t0.Add(2 * time.Hour) },
	}, snk)
	runCollector(t, c)
	peer := bgpwatch.Peer{Collector: "rrc00", ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")}
	msg := func(at time.Duration, k int) []bgpwatch.Observation {
		return []bgpwatch.Observation{{Time: t0.Add(at), Kind: bgpwatch.Announce, Peer: peer,
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(k)}), 32), Origin: 64501}}
	}
	// Three messages while the archive is published only to 00:30: the
	// third overflows the buffer.
	for k, at := range []time.Duration{40 * time.Minute, 41 * time.Minute, 42 * time.Minute} {
		c.Stream(msg(at, k))
	}
	if st := c.Status(); st.Dropped != 1 || st.Buffered != 1 {
		t.Fatalf("status %+v: want one drop and the last message held", st)
	}
	published.Store(t0.Add(time.Hour).Unix())
	for deadline := time.Now().Add(30 * time.Second); c.Status().State != StateLive || c.Status().Gaps != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state %+v: want live after one gap filled", c.Status())
		}
	}
	got := snk.snapshot()
	if last := got[len(got)-1]; last != msg(42*time.Minute, 2)[0] {
		t.Fatalf("last observation %+v, want the message held", last)
	}
	// The archive's observations up to 00:42 came before it, the dropped
	// ones' period (from 00:40) included.
	var from40 int
	for _, o := range got[:len(got)-1] {
		if !o.Time.Before(t0.Add(40*time.Minute)) && o.Time.Before(t0.Add(42*time.Minute+time.Second)) {
			from40++
		}
	}
	if from40 == 0 {
		t.Errorf("no archive observation between 00:40 and 00:42: the dropped period was not read from the archive")
	}
}

// TestCollectorGapNotFilled cuts the stream of a live collector and never
// publishes the updates files of the gap: the collector is "gap" while it
// waits for them, its feed stays live meanwhile (so that the runner does
// not hold the other collectors' bins for it beyond silent_after), and
// after MaxWait it goes on "stale" with the stream held, sending no
// withdrawal of its own; it stays stale while the stream flows, and the
// next RIB dump re-synchronises it to live.
func TestCollectorGapNotFilled(t *testing.T) {
	dir, t0 := rrc00Archive(t, 9)
	var published atomic.Int64
	published.Store(t0.Add(time.Hour + 5*time.Minute).Unix()) // updates up to the 01:00 file
	srv := archiveServer(t, dir, &published)
	var now atomic.Int64
	now.Store(t0.Add(time.Hour).UnixNano())
	snk := &sink{}
	c := New(Config{
		Name: "rrc00", Archive: fetch.Options{RISURL: srv.URL, CacheDir: t.TempDir()},
		Poll: 20 * time.Millisecond, FirstWait: 5 * time.Second, StaleAfter: 24 * time.Hour, MaxWait: 10 * time.Minute,
		GapHold: 5 * time.Minute,
		Now:     func() time.Time { return time.Unix(0, now.Load()).UTC() },
	}, snk)
	runCollector(t, c)
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, c, what, cond, nil) }
	peer := bgpwatch.Peer{Collector: "rrc00", ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")}
	msg := func(at time.Duration, k int) bgpwatch.Observation {
		return bgpwatch.Observation{Time: t0.Add(at), Kind: bgpwatch.Announce, Peer: peer,
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(k)}), 32), Origin: 64501}
	}
	c.Stream([]bgpwatch.Observation{msg(time.Hour+30*time.Second, 1)})
	wait("live", func() bool { return c.Status().State == StateLive && len(snk.snapshot()) > 0 })

	// The cut; the stream goes on at 01:20, the archive stays at 01:05.
	c.Disconnected()
	n := len(snk.snapshot())
	post := msg(time.Hour+20*time.Minute, 2)
	c.Stream([]bgpwatch.Observation{post})
	wait("gap", func() bool { return c.Status().State == StateGap })
	live := func() bool {
		snk.mu.Lock()
		defer snk.mu.Unlock()
		return snk.on
	}
	time.Sleep(100 * time.Millisecond)
	if live() {
		t.Errorf("the feed is live at the start of the gap: it does not hold the bins for GapHold while the archive may fill it")
	}
	// Past GapHold the feed is live again, still in its gap: silent, it
	// no longer holds every collector's bins.
	now.Store(t0.Add(time.Hour + 6*time.Minute).UnixNano())
	wait("live past gap_hold", live)
	if st := c.Status(); st.State != StateGap {
		t.Fatalf("state %s past gap_hold, want gap until the archive fills it or MaxWait", st.State)
	}
	for _, o := range snk.snapshot()[n:] {
		if o == post || !o.Time.Before(t0.Add(time.Hour+5*time.Minute)) {
			t.Fatalf("sent %+v during the gap: only the archive's observations of the 01:00 file may come", o)
		}
	}
	if st := c.Status(); st.Gaps != 1 || !st.GapFrom.Equal(t0.Add(time.Hour+30*time.Second)) || st.Unfilled {
		t.Fatalf("status during the gap %+v: want one gap from 01:00:30, not yet unfilled", st)
	}

	// The archive never fills it: past MaxWait the collector goes on, stale.
	now.Store(t0.Add(time.Hour + 15*time.Minute).UnixNano())
	wait("stale", func() bool { st := c.Status(); return st.State == StateStale && st.Unfilled })
	wait("the held message", func() bool { o := snk.snapshot(); return o[len(o)-1] == post })
	next := msg(time.Hour+21*time.Minute, 3)
	c.Stream([]bgpwatch.Observation{next})
	wait("the next message", func() bool { o := snk.snapshot(); return o[len(o)-1] == next })
	time.Sleep(50 * time.Millisecond)
	if st := c.Status(); st.State != StateStale {
		t.Fatalf("state %s after a stream message, want stale until the next RIB dump", st.State)
	}

	// The 08:00 RIB dump heals it.
	m := len(snk.snapshot())
	now.Store(t0.Add(8*time.Hour + 25*time.Minute).UnixNano())
	published.Store(t0.Add(8*time.Hour + 15*time.Minute).Unix())
	wait("healed", func() bool {
		st := c.Status()
		return st.State == StateLive && !st.Unfilled && st.RIB.Equal(t0.Add(8*time.Hour))
	})
	got := snk.snapshot()[m:]
	if len(got) == 0 || got[0].Kind != bgpwatch.TableStart || !got[0].Time.Equal(t0.Add(8*time.Hour)) {
		t.Fatalf("healing sent %d observations, want the 08:00 RIB dump first", len(got))
	}
}

// TestCollectorHandOffNotCovered: the archive never reaches the stream's
// first message (its updates files stop at 01:05, the stream starts at
// 01:20). Past MaxWait the collector goes on with the stream, but says
// what it misses: stale, one unfilled gap from where the archive ends,
// until the next RIB dump re-synchronises it.
func TestCollectorHandOffNotCovered(t *testing.T) {
	dir, t0 := rrc00Archive(t, 9)
	var published atomic.Int64
	published.Store(t0.Add(time.Hour + 5*time.Minute).Unix()) // updates up to the 01:00 file
	srv := archiveServer(t, dir, &published)
	var now atomic.Int64
	now.Store(t0.Add(time.Hour + 21*time.Minute).UnixNano())
	snk := &sink{}
	c := New(Config{
		Name: "rrc00", Archive: fetch.Options{RISURL: srv.URL, CacheDir: t.TempDir()},
		Poll: 20 * time.Millisecond, FirstWait: 5 * time.Second, StaleAfter: 24 * time.Hour, MaxWait: 10 * time.Minute,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() },
	}, snk)
	runCollector(t, c)
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, c, what, cond, nil) }
	first := bgpwatch.Observation{Time: t0.Add(time.Hour + 20*time.Minute), Kind: bgpwatch.Announce,
		Peer:   bgpwatch.Peer{Collector: "rrc00", ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")},
		Prefix: netip.MustParsePrefix("203.0.113.0/24"), Origin: 64501}
	c.Stream([]bgpwatch.Observation{first})
	wait("catching up", func() bool { return c.Status().State == StateCatchingUp && c.Status().FilesDone > 0 })
	time.Sleep(100 * time.Millisecond)
	if st := c.Status(); st.State != StateCatchingUp || st.Unfilled {
		t.Fatalf("status %+v within MaxWait, want catching-up", st)
	}
	now.Store(t0.Add(time.Hour + 32*time.Minute).UnixNano()) // past MaxWait
	wait("stale", func() bool { return c.Status().State == StateStale })
	wait("the stream", func() bool { o := snk.snapshot(); return len(o) > 0 && o[len(o)-1] == first })
	if st := c.Status(); !st.Unfilled || st.Gaps != 1 || !st.GapFrom.Equal(t0.Add(time.Hour+5*time.Minute)) {
		t.Errorf("status %+v, want one unfilled gap from 01:05, where the archive ends", st)
	}
	// The 08:00 RIB dump heals it.
	now.Store(t0.Add(8*time.Hour + 25*time.Minute).UnixNano())
	published.Store(t0.Add(8*time.Hour + 15*time.Minute).Unix())
	wait("healed", func() bool {
		st := c.Status()
		return st.State == StateLive && !st.Unfilled && st.RIB.Equal(t0.Add(8*time.Hour))
	})
}

// TestCollectorArchiveDownLoggedOnce: a live collector polls the archive
// for new RIB dumps; while the archive answers 503 that is logged once
// (not at every poll), and once when it answers again.
func TestCollectorArchiveDownLoggedOnce(t *testing.T) {
	dir, t0 := rrc00Archive(t, 2)
	var published atomic.Int64
	published.Store(t0.Add(time.Hour + 5*time.Minute).Unix())
	arch := archiveServer(t, dir, &published)
	target, _ := url.Parse(arch.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var logs syncbuf.Buffer
	c := New(Config{
		Name: "rrc00", Archive: fetch.Options{RISURL: srv.URL, CacheDir: t.TempDir()},
		Poll: 10 * time.Millisecond, FirstWait: 5 * time.Second, StaleAfter: 24 * time.Hour,
		Now:    func() time.Time { return t0.Add(time.Hour + 2*time.Minute) },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, &sink{})
	runCollector(t, c)
	c.Stream([]bgpwatch.Observation{{Time: t0.Add(time.Hour + 30*time.Second), Kind: bgpwatch.Announce,
		Peer:   bgpwatch.Peer{Collector: "rrc00", ASN: 64500, Addr: netip.MustParseAddr("192.0.2.1")},
		Prefix: netip.MustParsePrefix("203.0.113.0/24"), Origin: 64501}})
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, c, what, cond, &logs) }
	wait("live", func() bool { return c.Status().State == StateLive })
	down.Store(true)
	time.Sleep(300 * time.Millisecond) // about 30 polls
	if n := strings.Count(logs.String(), `msg="looking for a new RIB dump in the archive: failing"`); n != 1 {
		t.Errorf("%d failure lines while the archive is down, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings while the archive is down, want 1:\n%s", n, logs.String())
	}
	down.Store(false)
	wait("recovered", func() bool {
		return strings.Contains(logs.String(), `msg="looking for a new RIB dump in the archive: recovered"`)
	})
}

// rrc00Archive generates hours of the small scenario's rrc00 (RIB dumps
// at 00:00 and 08:00, updates files every 5 minutes) and returns its
// directory and start.
func rrc00Archive(t *testing.T, hours int) (string, time.Time) {
	t.Helper()
	sc, err := synth.Builtin("small")
	if err != nil {
		t.Fatal(err)
	}
	sc.End = sc.Start.Add(time.Duration(hours) * time.Hour)
	sc.Happenings, sc.Expect = nil, nil
	sc.Collectors = sc.Collectors[:1] // rrc00
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), sc, dir, synth.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	return dir, sc.Start
}

// waitFor polls cond for up to 30 s, then fails naming what it waited for,
// the collector's state and, with logs, its log.
func waitFor(t *testing.T, c *Collector, what string, cond func() bool, logs *syncbuf.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			l := ""
			if logs != nil {
				l = "\n" + logs.String()
			}
			t.Fatalf("timed out waiting for %s; state %+v%s", what, c.Status(), l)
		}
	}
}

// runCollector runs c until the test ends.
func runCollector(t *testing.T, c *Collector) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
