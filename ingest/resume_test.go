package ingest_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// liveWorld is a small Internet seen by three full-feed peers: two KZ
// networks of 40 /24s each, and DE and US networks of 400 each (so that
// one KZ network is a small part of the whole view).
type liveWorld struct {
	prefixes map[bgpwatch.ASN][]netip.Prefix
	country  map[bgpwatch.ASN]string
	peers    []bgpwatch.Peer
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
	return &liveRun{t: t, w: w, p: ingest.New(cfg, db), ctx: context.Background()}
}

// send announces (or withdraws) the prefixes of the ASNs at every peer.
func (r *liveRun) send(at time.Time, kind bgpwatch.ObservationKind, asns ...bgpwatch.ASN) {
	r.t.Helper()
	for _, peer := range r.w.peers {
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

// run advances the wall clock bin by bin to end, as live.Run's ticks do.
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
