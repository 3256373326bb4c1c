package detect

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/bgpwatch/bgpwatch"
)

const (
	kzFixed  bgpwatch.ASN = 9198
	kzOther  bgpwatch.ASN = 21299
	kzMobA   bgpwatch.ASN = 48503
	kzMobB   bgpwatch.ASN = 206026
	tinyASN  bgpwatch.ASN = 64512
	otherASN bgpwatch.ASN = 3320
)

func TestSpans(t *testing.T) {
	// A German network that never changes, present in every case so that
	// the country/ASN maps are never trivially small.
	de := simASN{asn: otherASN, cc: "DE", access: bgpwatch.AccessFixed, size: 300}
	tests := []struct {
		name string
		sim  sim
		want []span
	}{
		{
			name: "clean outage",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 20, [2]int{72, 132})},
				{asn: kzOther, cc: "KZ", access: bgpwatch.AccessFixed, size: 200},
			}},
			want: []span{
				{bgpwatch.ScopeASN, "KZ", kzFixed, 72, 132},
				{bgpwatch.ScopeCountry, "KZ", 0, 72, 132},
			},
		},
		{
			// 75 % of the baseline is the ASN recovery level: a value exactly
			// there has recovered (it took until the full return before).
			name: "recovery exactly at the ASN level",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: steps(400, [3]int{72, 84, 10}, [3]int{84, 120, 300})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 72, 84}},
		},
		{
			// 85 % is the country level (1-0.15 is not 0.85 in binary).
			name: "recovery exactly at the country level",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", size: 400, count: steps(400, [3]int{72, 84, 10}, [3]int{84, 120, 340})},
			}},
			want: []span{
				{bgpwatch.ScopeASN, "KZ", kzFixed, 72, 84},
				{bgpwatch.ScopeCountry, "KZ", 0, 72, 84},
			},
		},
		{
			// 50 % and 70 % are the start levels: exactly there starts.
			name: "drop exactly to the start levels",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: steps(400, [3]int{72, 84, 200})},
				{asn: kzOther, cc: "KZ", size: 400, count: steps(400, [3]int{72, 84, 280})},
			}},
			want: []span{
				{bgpwatch.ScopeASN, "", kzFixed, 72, 84},
				{bgpwatch.ScopeCountry, "KZ", 0, 72, 84},
			},
		},
		{
			// The network doubled 146 bins before the cut, so the median of
			// the last 24 h doubled between two ticks: the cut is a drop from
			// the current median, not from the one cached at the last tick
			// (with which it was missed altogether).
			name: "drop soon after the network grew",
			sim: sim{n: 500, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: steps(400, [3]int{0, 288, 200}, [3]int{434, 446, 180})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 434, 446}},
		},
		{
			name: "one-bin dip",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", size: 400, count: outage(400, 0, [2]int{72, 73})},
			}},
		},
		{
			name: "two-bin dip",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", size: 400, count: outage(400, 0, [2]int{72, 74})},
			}},
		},
		{
			name: "restoration of one hour splits",
			sim: sim{n: 250, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: outage(400, 10, [2]int{72, 120}, [2]int{132, 180})},
			}},
			want: []span{
				{bgpwatch.ScopeASN, "", kzFixed, 72, 120},
				{bgpwatch.ScopeASN, "", kzFixed, 132, 180},
			},
		},
		{
			name: "5-minute blip does not split",
			sim: sim{n: 250, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: outage(400, 10, [2]int{72, 120}, [2]int{121, 180})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 72, 180}},
		},
		{
			name: "25-minute restoration does not split",
			sim: sim{n: 250, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: outage(400, 10, [2]int{72, 120}, [2]int{125, 180})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 72, 180}},
		},
		{
			name: "partial recovery below the recovery level goes on",
			sim: sim{n: 250, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: func(i int) int {
					switch {
					case i >= 72 && i < 100:
						return 10
					case i >= 100 && i < 150:
						return 280 // 70 %: above the drop level, below recovery (75 %)
					}
					return 400
				}},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 72, 150}},
		},
		{
			name: "gradual decline",
			sim: sim{n: 250, asns: []simASN{de,
				// 400 until bin 72, then -10 per bin to 0 at bin 112, back at 150.
				{asn: kzFixed, size: 400, count: func(i int) int {
					switch {
					case i < 72 || i >= 150:
						return 400
					case i >= 112:
						return 0
					}
					return 400 - 10*(i-72)
				}},
			}},
			// 400-10k <= 200 first at k=20.
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 92, 150}},
		},
		{
			name: "short history: outage during warm-up",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", size: 400, count: outage(400, 0, [2]int{12, 60})},
			}},
		},
		{
			name: "history of exactly two hours is enough",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{24, 60})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 24, 60}},
		},
		{
			name: "below minimum size",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: tinyASN, cc: "TV", size: 10, count: outage(10, 0, [2]int{72, 132})},
			}},
		},
		{
			name: "collector outage: FullFeed collapse",
			sim: sim{n: 200,
				feed: func(i int) int {
					if i >= 72 && i < 81 {
						return 3
					}
					return 20
				},
				asns: []simASN{de,
					{asn: kzFixed, cc: "KZ", size: 400, count: outage(400, 0, [2]int{72, 81})},
				}},
		},
		{
			name: "no data yet: FullFeed zero",
			sim: sim{n: 200,
				feed: func(i int) int {
					if i < 40 || (i >= 72 && i < 90) {
						return 0
					}
					return 20
				},
				asns: []simASN{de,
					{asn: kzFixed, cc: "KZ", size: 400, count: func(i int) int {
						if i < 40 || (i >= 72 && i < 90) {
							return 0
						}
						return 400
					}},
				}},
		},
		{
			name: "missing bins do not end an event",
			sim: sim{n: 250,
				drop: func(i int) bool { return i >= 100 && i < 140 },
				asns: []simASN{de,
					{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{72, 160})},
				}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 72, 160}},
		},
		{
			name: "missing bins do not start an event",
			sim: sim{n: 250,
				drop: func(i int) bool { return i >= 100 && i < 140 },
				asns: []simASN{de,
					{asn: kzFixed, size: 400},
				}},
		},
		{
			name: "de-aggregation",
			sim: sim{n: 200,
				deagg: func(i int) bool { return i >= 72 },
				asns: []simASN{de,
					{asn: kzFixed, cc: "KZ", size: 400},
				}},
		},
		{
			name: "mobile-only shutdown: ASN events, no country event",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400},
				{asn: kzMobA, cc: "KZ", access: bgpwatch.AccessMobile, size: 40, count: outage(40, 0, [2]int{72, 132})},
				{asn: kzMobB, cc: "KZ", access: bgpwatch.AccessMobile, size: 30, count: outage(30, 0, [2]int{72, 132})},
			}},
			want: []span{
				{bgpwatch.ScopeASN, "KZ", kzMobA, 72, 132},
				{bgpwatch.ScopeASN, "KZ", kzMobB, 72, 132},
			},
		},
		{
			name: "ongoing at the end",
			sim: sim{n: 200, asns: []simASN{de,
				{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{150, 1000})},
			}},
			want: []span{{bgpwatch.ScopeASN, "", kzFixed, 150, -1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := tc.sim.run(DefaultConfig())
			got := spans(final(tr))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestCountryEvent(t *testing.T) {
	tests := []struct {
		name       string
		asns       []simASN
		wantAccess bgpwatch.Access
		wantASNs   []bgpwatch.EventASN
		wantMin    int
	}{
		{
			name: "fixed and mobile down: mixed",
			asns: []simASN{
				{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 100, [2]int{72, 132})},
				{asn: kzMobA, cc: "KZ", access: bgpwatch.AccessMobile, size: 100, count: outage(100, 0, [2]int{72, 132})},
				{asn: kzOther, cc: "KZ", access: bgpwatch.AccessTransit, size: 50},
				{asn: 65001, cc: "KZ", access: bgpwatch.AccessFixed, size: 3, count: outage(3, 0, [2]int{72, 132})},
			},
			wantAccess: bgpwatch.AccessMixed,
			wantMin:    150,
			wantASNs: []bgpwatch.EventASN{
				{ASN: kzFixed, Name: "NET-9198", Access: bgpwatch.AccessFixed, BaselineSlash24: 400, MinSlash24: 100},
				{ASN: kzMobA, Name: "NET-48503", Access: bgpwatch.AccessMobile, BaselineSlash24: 100, MinSlash24: 0},
			},
		},
		{
			name: "fixed down, small mobile and hosting: fixed",
			asns: []simASN{
				{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 20, [2]int{72, 132})},
				{asn: kzMobA, cc: "KZ", access: bgpwatch.AccessMobile, size: 20, count: outage(20, 0, [2]int{72, 132})},
				{asn: kzOther, cc: "KZ", access: bgpwatch.AccessHosting, size: 50, count: outage(50, 0, [2]int{72, 132})},
				{asn: kzMobB, cc: "KZ", access: bgpwatch.AccessMobile, size: 80, count: outage(80, 70, [2]int{72, 132})},
			},
			wantAccess: bgpwatch.AccessFixed,
			wantMin:    90,
			wantASNs: []bgpwatch.EventASN{
				{ASN: kzFixed, Name: "NET-9198", Access: bgpwatch.AccessFixed, BaselineSlash24: 400, MinSlash24: 20},
				{ASN: kzOther, Name: "NET-21299", Access: bgpwatch.AccessHosting, BaselineSlash24: 50, MinSlash24: 0},
				{ASN: kzMobA, Name: "NET-48503", Access: bgpwatch.AccessMobile, BaselineSlash24: 20, MinSlash24: 0},
			},
		},
		{
			name: "only hosting down: unknown",
			asns: []simASN{
				{asn: kzOther, cc: "KZ", access: bgpwatch.AccessHosting, size: 300, count: outage(300, 0, [2]int{72, 132})},
				{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 100},
			},
			wantAccess: bgpwatch.AccessUnknown,
			wantMin:    100,
			wantASNs: []bgpwatch.EventASN{
				{ASN: kzOther, Name: "NET-21299", Access: bgpwatch.AccessHosting, BaselineSlash24: 300, MinSlash24: 0},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sim{n: 200, asns: tc.asns}
			tr, _ := s.run(DefaultConfig())
			var ce *bgpwatch.Event
			for _, e := range final(tr) {
				if e.Scope == bgpwatch.ScopeCountry {
					e := e
					if ce != nil {
						t.Fatalf("two country events: %+v and %+v", *ce, e)
					}
					ce = &e
				}
			}
			if ce == nil {
				t.Fatalf("no country event; transitions %+v", tr)
			}
			if ce.Country != "KZ" || !ce.StartedAt.Equal(at(72)) || !ce.EndedAt.Equal(at(132)) {
				t.Errorf("event %s %v–%v, want KZ %v–%v", ce.Country, ce.StartedAt, ce.EndedAt, at(72), at(132))
			}
			if ce.Access != tc.wantAccess {
				t.Errorf("access %q, want %q", ce.Access, tc.wantAccess)
			}
			if ce.MinSlash24 != tc.wantMin {
				t.Errorf("min %d, want %d", ce.MinSlash24, tc.wantMin)
			}
			if !reflect.DeepEqual(ce.ASNs, tc.wantASNs) {
				t.Errorf("ASNs:\n got %+v\nwant %+v", ce.ASNs, tc.wantASNs)
			}
			wantDrop := 1 - float64(ce.MinSlash24)/float64(ce.BaselineSlash24)
			if ce.DropRatio != wantDrop || ce.DropRatio <= 0.30 {
				t.Errorf("drop ratio %v, want %v", ce.DropRatio, wantDrop)
			}
			// 60 bins at (base-min)/base, 5 min each.
			wantArea := wantDrop * 60 * bgpwatch.BinStep.Hours()
			if diff := ce.AlertArea - wantArea; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("alert area %v, want %v", ce.AlertArea, wantArea)
			}
		})
	}
}

func TestEvidence(t *testing.T) {
	const n = 100
	s := sim{n: 200, asns: []simASN{
		{asn: otherASN, cc: "DE", size: 50},
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: n, vis: func(i, j int) bool {
			if i >= 100 {
				return j != 99 // all back, except the long-gone prefix 99
			}
			switch {
			case j == 99: // gone from bin 30: outside the 2 h look-back
				return i < 30
			case j == 98: // gone in bins 60–61, back before the start
				return i < 60 || i >= 62
			case j >= 90: // gone from bin 66, 30 min before the start
				return i < 66
			case j == 10: // gone during the event
				return i < 80
			}
			return i < 72
		}},
	}}
	tr, d := s.run(DefaultConfig())
	var want []bgpwatch.WithdrawnPrefix
	add := func(bin int, js ...int) {
		for _, j := range js {
			want = append(want, bgpwatch.WithdrawnPrefix{Prefix: simPrefix(1, j), Origin: kzFixed, WithdrawnAt: at(bin).Add(60e9)})
		}
	}
	add(66, 90, 91, 92, 93, 94, 95, 96, 97) // 98 was back before the start
	for j := 0; j < 90; j++ {
		if j != 10 {
			add(72, j)
		}
	}
	add(80, 10)

	var kinds []TransitionKind
	var last bgpwatch.Event
	for _, x := range tr {
		if x.Event.Scope == bgpwatch.ScopeASN {
			kinds = append(kinds, x.Kind)
			last = x.Event
		}
	}
	if !slices.Equal(kinds, []TransitionKind{Started, Updated, Ended}) {
		t.Errorf("transitions %v, want started, updated, ended", kinds)
	}
	if !last.StartedAt.Equal(at(72)) || !last.EndedAt.Equal(at(100)) {
		t.Errorf("event %v–%v, want %v–%v", last.StartedAt, last.EndedAt, at(72), at(100))
	}
	if !reflect.DeepEqual(last.Withdrawn, want) {
		t.Errorf("withdrawn: got %d prefixes, want %d\n got %v\nwant %v", len(last.Withdrawn), len(want), last.Withdrawn, want)
	}
	if len(d.Ongoing()) != 0 {
		t.Errorf("ongoing after the end: %v", d.Ongoing())
	}
}

func TestDeterminism(t *testing.T) {
	var asns []simASN
	ccs := []string{"KZ", "IR", "MM", "DE", "SY"}
	for k := 0; k < 60; k++ {
		cc := ccs[k%len(ccs)]
		acc := []bgpwatch.Access{bgpwatch.AccessFixed, bgpwatch.AccessMobile, bgpwatch.AccessMixed, bgpwatch.AccessTransit}[k%4]
		size := 20 + 3*k
		a := simASN{asn: bgpwatch.ASN(1000 + k), cc: cc, access: acc, size: size}
		if cc != "DE" {
			start := 60 + 3*(k%5)
			a.count = outage(size, size/10, [2]int{start, start + 40 + k%7}, [2]int{start + 70, start + 90})
		}
		asns = append(asns, a)
	}
	s := sim{n: 220, asns: asns}
	bins := s.bins()
	runOnce := func() ([]Transition, *Detector) {
		d := New(DefaultConfig(), s.info)
		var tr []Transition
		for _, b := range bins {
			tr = append(tr, d.Observe(b)...)
		}
		return tr, d
	}
	first, d1 := runOnce()
	second, d2 := runOnce()
	if len(first) < 20 {
		t.Fatalf("only %d transitions; the test needs events", len(first))
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two runs over the same bins differ")
	}
	if !reflect.DeepEqual(d1.Ongoing(), d2.Ongoing()) {
		t.Errorf("ongoing events differ")
	}
	// Within one bin, ASN events come first (by ASN), then countries (by code).
	d := New(DefaultConfig(), s.info)
	for _, b := range bins {
		tr := d.Observe(b)
		ok := slices.IsSortedFunc(tr, func(p, q Transition) int {
			if p.Event.Scope != q.Event.Scope {
				if p.Event.Scope == bgpwatch.ScopeASN {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(p.Event.ASN, q.Event.ASN); c != 0 {
				return c
			}
			return cmp.Compare(p.Event.Country, q.Event.Country)
		})
		if !ok {
			t.Errorf("bin %v: transitions out of order", b.Start)
		}
	}
}

func TestOngoingAndCopies(t *testing.T) {
	s := sim{n: 120, asns: []simASN{
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{72, 1000})},
	}}
	d := New(DefaultConfig(), s.info)
	var started *Transition
	for _, b := range s.bins() {
		for _, x := range d.Observe(b) {
			if x.Kind == Started && x.Event.Scope == bgpwatch.ScopeASN {
				x := x
				started = &x
			}
		}
	}
	if started == nil {
		t.Fatal("no event started")
	}
	if got := started.Event.ASNs[0].Name; got != "NET-9198" {
		t.Errorf("name %q", got)
	}
	on := d.Ongoing()
	if len(on) != 2 || on[0].Scope != bgpwatch.ScopeASN || on[1].Scope != bgpwatch.ScopeCountry {
		t.Fatalf("ongoing %+v, want the ASN and the country event", on)
	}
	for _, e := range on {
		if !e.Ongoing() || !e.StartedAt.Equal(at(72)) || e.MinSlash24 != 0 || e.DropRatio != 1 {
			t.Errorf("ongoing event %+v", e)
		}
		if len(e.Withdrawn) != 400 {
			t.Errorf("%s event: %d withdrawn prefixes, want 400", e.Scope, len(e.Withdrawn))
		}
	}
	// The returned events are copies.
	on[0].ASNs[0].Name = "changed"
	on[0].Withdrawn[0].Origin = 1
	again := d.Ongoing()
	if again[0].ASNs[0].Name != "NET-9198" || again[0].Withdrawn[0].Origin != kzFixed {
		t.Errorf("Ongoing shares memory with the detector")
	}
	// A bin that is not later than the last one is ignored.
	old := s.bins()[10]
	if tr := d.Observe(old); tr != nil {
		t.Errorf("old bin gave transitions %v", tr)
	}
	if tr := d.Observe(nil); tr != nil {
		t.Errorf("nil bin gave transitions %v", tr)
	}
}

func TestSanitize(t *testing.T) {
	// A zero Config must work like the defaults rather than panic.
	s := sim{n: 200, asns: []simASN{{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{72, 132})}}}
	a, _ := s.run(Config{})
	b, _ := s.run(DefaultConfig())
	if !reflect.DeepEqual(spans(final(a)), spans(final(b))) || len(a) == 0 {
		t.Errorf("zero config: %+v, defaults: %+v", spans(final(a)), spans(final(b)))
	}
}

func TestFeedChangeAcceptedAfterAnHour(t *testing.T) {
	// The peer set shrinks for good at bin 72 (FullFeed 20 → 8): skipped
	// at first, accepted as normal within about an hour, so an outage at
	// bin 150 is still found.
	s := sim{n: 250,
		feed: func(i int) int {
			if i >= 72 {
				return 8
			}
			return 20
		},
		asns: []simASN{{asn: kzFixed, size: 400, count: outage(400, 0, [2]int{150, 200})}},
	}
	tr, _ := s.run(DefaultConfig())
	want := []span{{bgpwatch.ScopeASN, "", kzFixed, 150, 200}}
	if got := spans(final(tr)); !reflect.DeepEqual(got, want) {
		t.Errorf("events %+v, want %+v", got, want)
	}
}

func TestContributorJoinsLater(t *testing.T) {
	s := sim{n: 200, asns: []simASN{
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{72, 132})},
		{asn: kzMobA, cc: "KZ", access: bgpwatch.AccessMobile, size: 200, count: outage(200, 0, [2]int{90, 132})},
		{asn: kzOther, cc: "KZ", access: bgpwatch.AccessFixed, size: 100},
	}}
	tr, _ := s.run(DefaultConfig())
	var got []string
	for _, x := range tr {
		if x.Event.Scope != bgpwatch.ScopeCountry {
			continue
		}
		var asns []bgpwatch.ASN
		for _, a := range x.Event.ASNs {
			asns = append(asns, a.ASN)
		}
		got = append(got, x.Kind.String()+" "+string(x.Event.Access)+" "+fmt.Sprint(asns))
	}
	want := []string{
		"started fixed [9198]",
		"updated mixed [9198 48503]",
		"ended mixed [9198 48503]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("country transitions:\n got %q\nwant %q", got, want)
	}
}

func TestOneBinMinDuration(t *testing.T) {
	// With MinDuration of one bin the first bin below the level starts the
	// event, and the country event still lists its contributors.
	cfg := DefaultConfig()
	cfg.MinDuration = bgpwatch.BinStep
	s := sim{n: 200, asns: []simASN{
		{asn: kzFixed, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 0, [2]int{72, 73})},
	}}
	tr, _ := s.run(cfg)
	evs := final(tr)
	want := []span{{bgpwatch.ScopeASN, "KZ", kzFixed, 72, 73}, {bgpwatch.ScopeCountry, "KZ", 0, 72, 73}}
	if got := spans(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	if len(evs[1].ASNs) != 1 || evs[1].ASNs[0].ASN != kzFixed || evs[1].Access != bgpwatch.AccessFixed {
		t.Errorf("country event ASNs %+v access %q", evs[1].ASNs, evs[1].Access)
	}
}
