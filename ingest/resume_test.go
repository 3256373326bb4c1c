package ingest_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// liveWorld is a small Internet seen by three full-feed peers: two KZ
// networks of 40 /24s each, and DE and US networks of 400 each (so that
// one KZ network is a small part of the whole view).
type liveWorld struct {
	prefixes map[bgpwatch.ASN][]netip.Prefix
	country  map[bgpwatch.ASN]string
	peers    []bgpwatch.Peer
	tune     func(*ingest.Config) // changes the pipelines' configuration, if set
}

const (
	asKZ  bgpwatch.ASN = 9198
	asKZ2 bgpwatch.ASN = 21299
)

func newLiveWorld() *liveWorld {
	w := &liveWorld{
		prefixes: map[bgpwatch.ASN][]netip.Prefix{},
		country:  map[bgpwatch.ASN]string{asKZ: "KZ", asKZ2: "KZ", 3320: "DE", 701: "US"},
	}
	n := map[bgpwatch.ASN]int{asKZ: 10, asKZ2: 10, 3320: 100, 701: 100}
	k := 0
	for _, a := range []bgpwatch.ASN{asKZ, asKZ2, 3320, 701} {
		for range n[a] {
			w.prefixes[a] = append(w.prefixes[a], netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(k >> 6), byte(k << 2), 0}), 22))
			k++
		}
	}
	for i := range 3 {
		w.peers = append(w.peers, bgpwatch.Peer{Collector: "bgp", ASN: bgpwatch.ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})})
	}
	return w
}

// live runs a pipeline as serve does: live source, notices, a flush per bin.
type liveRun struct {
	t   *testing.T
	w   *liveWorld
	p   *ingest.Pipeline
	ctx context.Context
}

func (w *liveWorld) start(t *testing.T, db *store.DB, resume bool) *liveRun {
	cfg := ingest.Config{
		CountryOf: func(a bgpwatch.ASN) string { return w.country[a] },
		Source:    store.SourceLive, Notify: true, FlushBins: 1,
	}
	if resume {
		cfg.History = db
	}
	if w.tune != nil {
		w.tune(&cfg)
	}
	return &liveRun{t: t, w: w, p: ingest.New(cfg, db), ctx: context.Background()}
}

// send announces (or withdraws) the prefixes of the ASNs at every peer.
func (r *liveRun) send(at time.Time, kind bgpwatch.ObservationKind, asns ...bgpwatch.ASN) {
	r.t.Helper()
	r.sendFrom(r.w.peers, at, kind, asns...)
}

// sendFrom announces (or withdraws) the prefixes of the ASNs at the peers.
func (r *liveRun) sendFrom(peers []bgpwatch.Peer, at time.Time, kind bgpwatch.ObservationKind, asns ...bgpwatch.ASN) {
	r.t.Helper()
	for _, peer := range peers {
		for _, a := range asns {
			for _, pf := range r.w.prefixes[a] {
				o := bgpwatch.Observation{Time: at, Kind: kind, Peer: peer, Prefix: pf, Origin: a}
				if err := r.p.Observe(r.ctx, &o); err != nil {
					r.t.Fatal(err)
				}
			}
		}
	}
}

// run advances the wall clock bin by bin to end, as ingest.Live's ticks do.
func (r *liveRun) run(from, end time.Time) {
	r.t.Helper()
	for t := from; !t.After(end); t = t.Add(bgpwatch.BinStep) {
		if err := r.p.Advance(r.ctx, t); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *liveRun) stop() {
	r.t.Helper()
	if err := r.p.Close(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

var all = []bgpwatch.ASN{asKZ, asKZ2, 3320, 701}

type storedEvent struct {
	id               int64
	scope            string
	asn              int64
	started          time.Time
	ended            *time.Time
	started_, ended_ int // notices
}

func (e storedEvent) String() string {
	end := "ongoing"
	if e.ended != nil {
		end = e.ended.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("#%d %s AS%d %s..%s notices %d/%d", e.id, e.scope, e.asn, e.started.Format(time.RFC3339), end, e.started_, e.ended_)
}

func storedEvents(t *testing.T, db *store.DB) []storedEvent {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `
		SELECT e.id, e.scope, e.asn, e.started_at, e.ended_at,
		       (SELECT count(*) FROM event_notices n WHERE n.event_id = e.id AND n.type = 'event.started'),
		       (SELECT count(*) FROM event_notices n WHERE n.event_id = e.id AND n.type = 'event.ended')
		FROM events e ORDER BY e.scope, e.asn, e.started_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.id, &e.scope, &e.asn, &e.started, &e.ended, &e.started_, &e.ended_); err != nil {
			t.Fatal(err)
		}
		e.started = e.started.UTC()
		out = append(out, e)
	}
	return out
}

// TestResumeLiveDropAfterRestart: four hours of live ingest, a restart ten
// minutes later, and a KZ network going dark ten minutes after that. The
// resumed detector finds it within MinDuration; a cold one (two hours of
// warm-up) does not.
func TestResumeLiveDropAfterRestart(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	restart := t0.Add(4*time.Hour + 10*time.Minute)
	drop := restart.Add(10 * time.Minute)
	for _, resume := range []bool{true, false} {
		name := "cold"
		if resume {
			name = "resumed"
		}
		t.Run(name, func(t *testing.T) {
			db := storetest.New(t)
			w := newLiveWorld()
			first := w.start(t, db, false)
			first.send(t0, bgpwatch.Announce, all...)
			first.run(t0, t0.Add(4*time.Hour))
			first.stop()

			second := w.start(t, db, resume)
			second.send(restart.Add(time.Second), bgpwatch.Announce, all...)
			second.run(restart, drop)
			second.send(drop.Add(time.Minute), bgpwatch.Withdraw, asKZ)
			second.run(drop, drop.Add(40*time.Minute))
			second.stop()

			evs := storedEvents(t, db)
			if !resume {
				if len(evs) != 0 {
					t.Fatalf("a cold detector found %+v within its warm-up: the control proves nothing", evs)
				}
				return
			}
			if st := second.p.Stats(); st.ResumedBins != 48 || st.ResumeDropped {
				t.Errorf("stats %+v: want the 48 bins of the first run resumed", st)
			}
			if len(evs) != 2 {
				t.Fatalf("events %+v, want the ASN and the KZ country event", evs)
			}
			for _, e := range evs {
				if !e.started.Equal(drop) || e.ended != nil || e.started_ != 1 || e.ended_ != 0 {
					t.Errorf("event %+v: want started at %s, ongoing, one started notice", e, drop)
				}
			}
		})
	}
}

// TestResumeLiveOngoingEvent: a KZ network is dark across a restart and
// comes back after it. The event started before the restart ends once,
// under its id, with one started and one ended notice.
func TestResumeLiveOngoingEvent(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	down := t0.Add(3*time.Hour + 30*time.Minute)
	restart := t0.Add(4*time.Hour + 10*time.Minute)
	back := restart.Add(30 * time.Minute)
	for _, resume := range []bool{true, false} {
		name := "cold"
		if resume {
			name = "resumed"
		}
		t.Run(name, func(t *testing.T) {
			db := storetest.New(t)
			w := newLiveWorld()
			first := w.start(t, db, false)
			first.send(t0, bgpwatch.Announce, all...)
			first.run(t0, down)
			first.send(down.Add(time.Minute), bgpwatch.Withdraw, asKZ)
			first.run(down, t0.Add(4*time.Hour))
			first.stop()
			before := storedEvents(t, db)
			if len(before) != 2 || before[0].ended != nil || before[0].started_ != 1 {
				t.Fatalf("before the restart: %+v, want two ongoing events with a started notice", before)
			}

			second := w.start(t, db, resume)
			second.send(restart.Add(time.Second), bgpwatch.Announce, asKZ2, 3320, 701)
			second.run(restart, back)
			second.send(back.Add(time.Minute), bgpwatch.Announce, asKZ)
			second.run(back, back.Add(90*time.Minute))
			second.stop()

			after := storedEvents(t, db)
			if !resume {
				if len(after) == 2 && after[0].ended == nil {
					return // the control: nobody ends the event
				}
				t.Fatalf("cold restart: %+v; want the events left ongoing (the control proves nothing)", after)
			}
			if len(after) != 2 {
				t.Fatalf("after the restart: %+v, want the same two events", after)
			}
			for i, e := range after {
				b := before[i]
				if e.id != b.id || !e.started.Equal(down) {
					t.Errorf("event %+v: want id %d started %s", e, b.id, down)
				}
				if e.ended == nil || !e.ended.Equal(back) {
					t.Errorf("event %d ended %v, want %s", e.id, e.ended, back)
				}
				if e.started_ != 1 || e.ended_ != 1 {
					t.Errorf("event %d: %d started and %d ended notices, want one each", e.id, e.started_, e.ended_)
				}
			}
			// The evidence saved before the restart is kept at the end.
			var n int
			if err := db.Pool().QueryRow(context.Background(),
				`SELECT count(*) FROM event_prefixes WHERE event_id = $1`, after[0].id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 10 {
				t.Errorf("ASN event lists %d withdrawn prefixes after its end, want 10", n)
			}
		})
	}
}

// TestResumeFeedCollapseAfterRestart: forty full-feed peers for four
// hours; after the restart only ten of them come back at first, for four
// bins, and those ten do not see a KZ network. That is a collector outage
// (FullFeed 10 against 40 before), not a KZ outage: the detector, resumed
// with the FullFeed stored with the bins, skips those bins. The control is
// a database without stored FullFeed (as before bin_feeds): its resumed
// detector takes the first bins after the restart for normal and reports
// the KZ network and KZ as down.
func TestResumeFeedCollapseAfterRestart(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	restart := t0.Add(4*time.Hour + 10*time.Minute)
	back := restart.Add(20 * time.Minute) // the thirty others are back
	for _, stored := range []bool{true, false} {
		name := "FullFeed stored"
		if !stored {
			name = "no FullFeed stored"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.New(t)
			w := newLiveWorld()
			w.peers = nil
			for i := range 40 {
				w.peers = append(w.peers, bgpwatch.Peer{Collector: "bgp", ASN: bgpwatch.ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})})
			}
			few, others := w.peers[:10], w.peers[10:]
			w.tune = func(c *ingest.Config) { // serve's settings (a zero FeedCollapse turns the check off)
				c.Detect = detect.DefaultConfig()
				c.Visibility = visibility.DefaultConfig()
			}

			first := w.start(t, db, false)
			first.send(t0, bgpwatch.Announce, all...)
			first.run(t0, t0.Add(4*time.Hour))
			first.stop()
			var n, lo, hi int
			if err := db.Pool().QueryRow(ctx, `SELECT count(*), min(full_feed), max(full_feed) FROM bin_feeds WHERE source = 'live'`).Scan(&n, &lo, &hi); err != nil {
				t.Fatal(err)
			}
			if n != 48 || lo != 40 || hi != 40 {
				t.Fatalf("bin_feeds: %d rows, FullFeed %d..%d; want 48 rows of 40", n, lo, hi)
			}
			if !stored {
				if _, err := db.Pool().Exec(ctx, `DELETE FROM bin_feeds`); err != nil {
					t.Fatal(err)
				}
			}

			second := w.start(t, db, true)
			second.sendFrom(few, restart.Add(time.Second), bgpwatch.Announce, asKZ2, 3320, 701)
			second.run(restart, back)
			second.sendFrom(few, back.Add(time.Second), bgpwatch.Announce, asKZ)
			second.sendFrom(others, back.Add(time.Second), bgpwatch.Announce, all...)
			second.run(back, back.Add(time.Hour))
			second.stop()

			if st := second.p.Stats(); st.ResumedBins != 48 || st.ResumeDropped {
				t.Errorf("stats %+v: want the 48 bins of the first run resumed", st)
			}
			var ff int
			if err := db.Pool().QueryRow(ctx, `SELECT full_feed FROM bin_feeds WHERE source = 'live' AND bin = $1`, restart).Scan(&ff); err != nil || ff != 10 {
				t.Errorf("FullFeed of the first bin after the restart: %d, %v; want 10", ff, err)
			}
			evs := storedEvents(t, db)
			if stored {
				if len(evs) != 0 {
					t.Errorf("events %+v from a collector outage right after the restart", evs)
				}
				return
			}
			if len(evs) != 2 || !evs[0].started.Equal(restart) || !evs[1].started.Equal(restart) {
				t.Fatalf("without stored FullFeed: events %+v; want the KZ network and KZ from %s (the control proves nothing)", evs, restart)
			}
		})
	}
}
