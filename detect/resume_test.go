package detect

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// historyOf builds the History a store would give for bins (values as
// steps) and the stored events that overlap them.
func historyOf(bins []*bgpwatch.Bin, stored []bgpwatch.Event) *History {
	h := &History{ASNs: map[bgpwatch.ASN][]Step{}, Countries: map[string][]Step{}}
	lastA := map[bgpwatch.ASN]int32{}
	lastC := map[string]int32{}
	for i, b := range bins {
		h.Bins = append(h.Bins, b.Start)
		h.FullFeed = append(h.FullFeed, b.FullFeed)
		for a, c := range b.ASNs {
			if v := int32(c.Slash24); v != lastA[a] {
				h.ASNs[a] = append(h.ASNs[a], Step{At: int32(i), Slash24: v})
				lastA[a] = v
			}
		}
		for a, v := range lastA {
			if _, ok := b.ASNs[a]; !ok && v != 0 {
				h.ASNs[a] = append(h.ASNs[a], Step{At: int32(i)})
				lastA[a] = 0
			}
		}
		for cc, c := range b.Countries {
			if v := int32(c.Slash24); v != lastC[cc] {
				h.Countries[cc] = append(h.Countries[cc], Step{At: int32(i), Slash24: v})
				lastC[cc] = v
			}
		}
	}
	first := bins[0].Start
	for _, e := range stored {
		if e.EndedAt.IsZero() || !e.EndedAt.Before(first) {
			h.Events = append(h.Events, e)
		}
	}
	return h
}

// restart runs bins[:split] on one detector, "stores" the events it saved
// up to bin savedUpTo (a crash may lose the last saves), resumes a second
// detector from the last window bins before split and feeds it the rest.
// It returns the transitions of both runs in order, and the resumed
// detector's catch-up transitions.
func restart(cfg Config, s *sim, bins []*bgpwatch.Bin, split, savedUpTo, window int) (all, catchUp []Transition, b *Detector) {
	a := New(cfg, s.info)
	var saved []Transition
	for i, bin := range bins[:split] {
		tr := a.Observe(bin)
		all = append(all, tr...)
		if i < savedUpTo {
			saved = append(saved, tr...)
		}
	}
	from := max(0, split-window)
	b = New(cfg, s.info)
	catchUp = b.Resume(historyOf(bins[from:split], final(saved)))
	all = append(all[:len(saved)], catchUp...)
	for _, bin := range bins[split:] {
		all = append(all, b.Observe(bin)...)
	}
	return all, catchUp, b
}

// feedWindow returns the full-feed window oldest first.
func feedWindow(d *Detector) []int {
	return append(slices.Clone(d.feed[d.feedPos:]), d.feed[:d.feedPos]...)
}

// chrono returns a history's values oldest first.
func chrono(h *history) []int32 {
	if len(h.ring) < h.size {
		return append([]int32(nil), h.ring...)
	}
	return append(append([]int32(nil), h.ring[h.pos:]...), h.ring[:h.pos]...)
}

// brief renders an event without its evidence list.
func brief(e bgpwatch.Event) string {
	return fmt.Sprintf("%s %s AS%d %s..%s base %d min %d area %.4f asns %+v withdrawn %d",
		e.Scope, e.Country, e.ASN, e.StartedAt.Format(time.RFC3339), e.EndedAt.Format(time.RFC3339),
		e.BaselineSlash24, e.MinSlash24, e.AlertArea, e.ASNs, len(e.Withdrawn))
}

func TestResumeMatchesContinuous(t *testing.T) {
	// DE varies a little: never near a drop, so it is resumed on its own.
	de := simASN{asn: otherASN, cc: "DE", access: bgpwatch.AccessFixed, size: 300, count: func(i int) int { return 300 - (i*7)%13 }}
	kz := func(count func(int) int) sim {
		return sim{n: 520, asns: []simASN{de,
			{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: count},
			{asn: kzMobA, cc: "KZ", access: bgpwatch.AccessMobile, size: 100, count: func(i int) int {
				if i%50 < 2 { // short dips: pending starts that abort
					return 20
				}
				return 100
			}},
		}}
	}
	window := 288 + 24
	tests := []struct {
		name      string
		sim       sim
		split     int
		savedUpTo int // transitions of bins before this index were saved
		want      []span
	}{
		{
			name: "event ongoing at the restart",
			sim:  kz(outage(400, 30, [2]int{300, 420})), split: 340, savedUpTo: 340,
			want: []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 300, 420}, {bgpwatch.ScopeCountry, "KZ", 0, 300, 420}},
		},
		{
			name: "drop right after the restart",
			sim:  kz(outage(400, 0, [2]int{342, 400})), split: 340, savedUpTo: 340,
			// The mobile ASN's dip at 400-401 keeps the country below its recovery level.
			want: []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 342, 400}, {bgpwatch.ScopeCountry, "KZ", 0, 342, 402}},
		},
		{
			name: "earlier event and a restart in its recovery",
			sim:  kz(outage(400, 10, [2]int{100, 160}, [2]int{300, 336})), split: 340, savedUpTo: 340,
			want: []span{
				{bgpwatch.ScopeASN, "KZ", kzFixed, 100, 160}, {bgpwatch.ScopeCountry, "KZ", 0, 100, 160},
				{bgpwatch.ScopeASN, "KZ", kzFixed, 300, 336}, {bgpwatch.ScopeCountry, "KZ", 0, 300, 336},
			},
		},
		{
			name: "crash lost the saves of the last bins",
			sim:  kz(outage(400, 10, [2]int{300, 325})), split: 340, savedUpTo: 320,
			want: []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 300, 325}, {bgpwatch.ScopeCountry, "KZ", 0, 300, 325}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bins := tt.sim.bins()
			full, _ := tt.sim.run(DefaultConfig())
			want := final(full)
			if got := spans(want); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("continuous run: %+v, want %+v", got, tt.want)
			}
			all, _, resumed := restart(DefaultConfig(), &tt.sim, bins, tt.split, tt.savedUpTo, window)
			// Every ASN's history (and its cached median) is the continuous
			// run's, whether it was stepped or replayed on its own.
			_, cont := tt.sim.run(DefaultConfig())
			for _, a := range cont.asns {
				r := resumed.asnIdx[a.asn]
				if r == nil {
					t.Errorf("AS%d not tracked after the restart", a.asn)
					continue
				}
				if g, w := chrono(&r.hist), chrono(&a.hist); !reflect.DeepEqual(g, w) || r.hist.median != a.hist.median || r.hist.dirty != a.hist.dirty {
					t.Errorf("AS%d history differs: median %d/%d dirty %v/%v, %d/%d values", a.asn,
						r.hist.median, a.hist.median, r.hist.dirty, a.hist.dirty, len(g), len(w))
				}
			}
			if got := final(all); !reflect.DeepEqual(got, want) {
				t.Errorf("with a restart at bin %d:\n got %+v\nwant %+v", tt.split, spans(got), spans(want))
				for i := range min(len(got), len(want)) {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Errorf("first difference:\n got %s\nwant %s", brief(got[i]), brief(want[i]))
						break
					}
				}
			}
			// Every event starts once and ends at most once.
			n := map[string]int{}
			for _, x := range all {
				n[x.Kind.String()+string(x.Event.Scope)+x.Event.StartedAt.String()]++
			}
			for k, c := range n {
				if c > 1 && k[:5] != "updat" {
					t.Errorf("%s reported %d times", k, c)
				}
			}
		})
	}
}

func TestResumeWithoutWarmUp(t *testing.T) {
	s := sim{n: 420, asns: []simASN{
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{342, 400})},
	}}
	bins := s.bins()
	// Cold, the detector cannot see a drop in its first two hours.
	cold := New(DefaultConfig(), s.info)
	var tr []Transition
	for _, b := range bins[340:] {
		tr = append(tr, cold.Observe(b)...)
	}
	if len(tr) != 0 {
		t.Fatalf("a cold detector found %+v during its warm-up", spans(final(tr)))
	}
	all, catchUp, d := restart(DefaultConfig(), &s, bins, 340, 340, 312)
	if len(catchUp) != 0 {
		t.Errorf("catch-up %+v, want none", catchUp)
	}
	want := []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 342, 400}, {bgpwatch.ScopeCountry, "KZ", 0, 342, 400}}
	if got := spans(final(all)); !reflect.DeepEqual(got, want) {
		t.Errorf("resumed: %+v, want %+v", got, want)
	}
	if r, checking := d.Resumed(); !r || checking || d.ResumeDropped() {
		t.Errorf("Resumed() = %v, %v; dropped %v", r, checking, d.ResumeDropped())
	}
}

func TestResumeFeedWindow(t *testing.T) {
	// The collector loses three quarters of its full-feed peers right at
	// the restart, for four bins, and the few left do not see a KZ network.
	// A detector that ran on skips those bins (FeedCollapse); so must the
	// resumed one, whose full-feed window comes from the history.
	s := sim{n: 380, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 10000}, // the KZ network is 4 % of the view: the resume guard passes
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{340, 344})},
	}, feed: func(i int) int {
		if i >= 340 && i < 344 {
			return 10
		}
		return 38 + i%5 // varied, so that the window's order shows
	}}
	bins := s.bins()
	tests := []struct {
		name string
		feed bool // the history carries FullFeed
		want []span
	}{
		{"FullFeed stored", true, nil},
		// What a restart did before FullFeed was stored (and still does
		// on a history without it): the window starts with the collapsed
		// bins, so they pass for normal.
		{"no FullFeed stored", false, []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 340, 344}, {bgpwatch.ScopeCountry, "KZ", 0, 340, 344}}},
	}
	full, _ := s.run(DefaultConfig())
	if len(full) != 0 {
		t.Fatalf("a detector that ran on reported %+v", spans(final(full)))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := historyOf(bins[28:340], nil)
			if !tt.feed {
				h.FullFeed = nil
			}
			d := New(DefaultConfig(), s.info)
			tr := d.Resume(h)
			if tt.feed {
				ran := New(DefaultConfig(), s.info)
				for _, b := range bins[:340] {
					ran.Observe(b)
				}
				if got, want := feedWindow(d), feedWindow(ran); !slices.Equal(got, want) {
					t.Errorf("full-feed window after Resume %v, want %v (as after observing the bins)", got, want)
				}
			}
			for _, b := range bins[340:] {
				tr = append(tr, d.Observe(b)...)
			}
			if got := spans(final(tr)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %+v, want %+v", got, tt.want)
			}
			if r, checking := d.Resumed(); !r || checking || d.ResumeDropped() {
				t.Errorf("Resumed() = %v, %v; dropped %v", r, checking, d.ResumeDropped())
			}
		})
	}
}

// TestResumeSkipsCollapsedHistory: the history ends in six bins (30 min,
// twice MinDuration) whose full-feed peers collapsed (a collector outage)
// and whose KZ network the few peers left did not see. A detector that ran
// on skipped them and saw no event; the resumed one must skip them too,
// not report the outage as an ongoing shutdown.
func TestResumeSkipsCollapsedHistory(t *testing.T) {
	s := sim{n: 360, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 10000},
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{334, 340})},
	}, feed: func(i int) int {
		if i >= 334 && i < 340 {
			return 10
		}
		return 38 + i%5
	}}
	bins := s.bins()
	if full, _ := s.run(DefaultConfig()); len(full) != 0 {
		t.Fatalf("a detector that ran on reported %+v", spans(final(full)))
	}
	d := New(DefaultConfig(), s.info)
	tr := d.Resume(historyOf(bins[28:340], nil))
	for _, b := range bins[340:] {
		tr = append(tr, d.Observe(b)...)
	}
	if len(tr) != 0 {
		t.Errorf("resumed on a history ending in a collector outage: %+v, want no event", spans(final(tr)))
	}
}

func TestResumeLateEvent(t *testing.T) {
	// The outage began long before the history's first bin: the stored
	// event goes on with its baseline and evidence and ends once.
	s := sim{n: 520, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 300},
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 40, [2]int{40, 460})},
	}}
	bins := s.bins()
	full, _ := s.run(DefaultConfig())
	all, catchUp, _ := restart(DefaultConfig(), &s, bins, 420, 420, 312)
	if len(catchUp) != 0 {
		t.Errorf("catch-up %+v, want none", catchUp)
	}
	want, got := final(full), final(all)
	if !reflect.DeepEqual(spans(got), spans(want)) {
		t.Fatalf("events %+v, want %+v", spans(got), spans(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.BaselineSlash24 != w.BaselineSlash24 || g.MinSlash24 != w.MinSlash24 || len(g.Withdrawn) != len(w.Withdrawn) ||
			!reflect.DeepEqual(g.ASNs, w.ASNs) {
			t.Errorf("%s event:\n got base %d min %d withdrawn %d asns %+v\nwant base %d min %d withdrawn %d asns %+v", w.Scope,
				g.BaselineSlash24, g.MinSlash24, len(g.Withdrawn), g.ASNs, w.BaselineSlash24, w.MinSlash24, len(w.Withdrawn), w.ASNs)
		}
		// The area counts from the history's first bin (bin 108) on.
		if from := float64(460-108) * 0.9 / 12; g.AlertArea < from-1e-9 || g.AlertArea > w.AlertArea {
			t.Errorf("%s event: alert area %.2f, want %.2f..%.2f", w.Scope, g.AlertArea, from, w.AlertArea)
		}
	}
	var ended int
	for _, x := range all {
		if x.Kind == Ended {
			ended++
		}
	}
	if ended != 2 {
		t.Errorf("%d ends, want 2 (ASN and country)", ended)
	}
}

func TestResumeGuard(t *testing.T) {
	s := sim{n: 400, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 300},
		{asn: kzFixed, cc: "KZ", size: 400},
	}}
	bins := s.bins()
	tests := []struct {
		name    string
		short   int // bins after the restart with a quarter of the space
		dropped bool
	}{
		{"view complete at once", 0, false},
		{"two short bins are skipped", 2, false},
		{"a lasting short view drops the history", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(DefaultConfig(), s.info)
			d.Resume(historyOf(bins[20:340], nil))
			var tr []Transition
			for i, b := range bins[340:] {
				if i < tt.short {
					q := *b
					q.ASNs = map[bgpwatch.ASN]bgpwatch.Counts{otherASN: {Slash24: 75}, kzFixed: {Slash24: 100}}
					q.Countries = map[string]bgpwatch.Counts{"DE": {Slash24: 75}, "KZ": {Slash24: 100}}
					b = &q
				}
				tr = append(tr, d.Observe(b)...)
			}
			if len(tr) != 0 {
				t.Errorf("events from an incomplete view: %+v", spans(final(tr)))
			}
			if d.ResumeDropped() != tt.dropped {
				t.Errorf("dropped = %v, want %v", d.ResumeDropped(), tt.dropped)
			}
			if r, checking := d.Resumed(); r == tt.dropped || checking {
				t.Errorf("Resumed() = %v, %v", r, checking)
			}
		})
	}
}

func TestResumeReplayedChanges(t *testing.T) {
	// A replay of a later period starts from a RIB before the history's
	// end: those bins only add their withdrawals, so an event starting
	// soon after still lists the prefixes withdrawn before the restart.
	s := sim{n: 420, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 3000},
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: func(i int) int {
			switch {
			case i >= 335 && i < 345:
				return 300 // a quarter gone before the restart: no event yet
			case i >= 345 && i < 400:
				return 0
			}
			return 400
		}},
	}}
	bins := s.bins()
	full, _ := s.run(DefaultConfig())
	d := New(DefaultConfig(), s.info)
	d.Resume(historyOf(bins[28:340], nil))
	var tr []Transition
	for _, b := range bins[330:] { // from an earlier "RIB"
		tr = append(tr, d.Observe(b)...)
	}
	want, got := final(full), final(tr)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", spans(got), spans(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("\n got %s\nwant %s", brief(got[i]), brief(want[i]))
		}
	}
	if len(want[0].Withdrawn) != 400 {
		t.Errorf("continuous run lists %d withdrawn prefixes, want 400", len(want[0].Withdrawn))
	}
}

func TestTicksOnTheClock(t *testing.T) {
	d := New(DefaultConfig(), nil)
	base := time.Date(2022, 1, 5, 0, 50, 0, 0, time.UTC)
	var ticks []int
	for i := range 30 {
		d.accepted++
		if d.tick(base.Add(time.Duration(i) * bgpwatch.BinStep)) {
			ticks = append(ticks, i)
		}
	}
	// First bin, then 01:00 (bin 2) and 02:00 (bin 14) and 03:00 (bin 26).
	if want := []int{0, 2, 14, 26}; !reflect.DeepEqual(ticks, want) {
		t.Errorf("ticks at %v, want %v", ticks, want)
	}
}

func TestReplayQuietMatchesStep(t *testing.T) {
	// A small window makes the median move with every value.
	cfg := DefaultConfig()
	cfg.Window, cfg.MinHistory = time.Hour, 15*time.Minute
	vals := make([]int32, 200)
	var steps []Step
	for i := range vals {
		vals[i] = int32(90 + (i*37)%11)
		steps = append(steps, Step{At: int32(i), Slash24: vals[i]})
	}
	if !quiet(steps, len(vals), cfg.ASN.Drop) {
		t.Fatal("series not quiet")
	}
	allTicks := []int32{0, 7, 19, 31, 43, 55, 67, 79, 91, 103, 115, 127, 139, 151, 163, 175, 187}
	// Every bin accepted, or every 13th skipped (a collector outage, as
	// Recompute skips it).
	for _, holes := range []bool{false, true} {
		for _, from := range []int32{0, 7, 100, 180, 190, 198} {
			for _, n := range []int32{199, 200} {
				var acc, ticks []int32
				for j := int32(0); j < n; j++ {
					if holes && j%13 == 5 && j != from && j != n-1 {
						continue
					}
					acc = append(acc, j)
					if slices.Contains(allTicks, j) {
						ticks = append(ticks, j)
					}
				}
				a := New(cfg, nil)
				stepped := a.addASN(1)
				for _, j := range acc {
					if j < from {
						continue
					}
					tick := slices.Contains(ticks, j)
					if a.step(&stepped.tracker, vals[j], at(int(j)), cfg.ASN, tick) != actNone {
						t.Fatal("a quiet series started something")
					}
				}
				b := New(cfg, nil)
				replayed := b.addASN(1)
				replayed.seed = &cursor{steps: steps, from: from}
				b.replayQuiet(replayed, ticks, acc)
				s, r := &stepped.hist, &replayed.hist
				if !reflect.DeepEqual(chrono(s), chrono(r)) || s.median != r.median || s.dirty != r.dirty || s.hi != r.hi || replayed.last != vals[n-1] {
					t.Errorf("holes %v from %d to %d: stepped median %d dirty %v, replayed median %d dirty %v", holes, from, n, s.median, s.dirty, r.median, r.dirty)
				}
			}
		}
	}
}

func TestEvidenceWithoutLookback(t *testing.T) {
	// With Lookback 0 the evidence still lists every prefix withdrawn in
	// the event's first bin, whatever the order of their flip times.
	s := sim{n: 120, asns: []simASN{
		{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{72, 1000})},
	}}
	bins := s.bins()
	for k := range bins[72].Changes {
		bins[72].Changes[k].Time = bins[72].Changes[k].Time.Add(time.Duration(k%97) * time.Second)
	}
	cfg := DefaultConfig()
	cfg.Lookback = 0
	d := New(cfg, s.info)
	for _, b := range bins {
		d.Observe(b)
	}
	on := d.Ongoing()
	if len(on) != 1 || len(on[0].Withdrawn) != 400 {
		n := -1
		if len(on) > 0 {
			n = len(on[0].Withdrawn)
		}
		t.Fatalf("%d ongoing events, %d withdrawn prefixes; want 1 with 400", len(on), n)
	}
}
