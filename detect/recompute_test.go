package detect

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bgpwatch/bgpwatch"
)

// finalEvents collapses transitions into each event's last state, without
// evidence (which the stored series cannot give).
func finalEvents(trs []Transition) []string {
	last := map[string]bgpwatch.Event{}
	var order []string
	for _, tr := range trs {
		ev := tr.Event
		k := fmt.Sprintf("%s %s %d %s", ev.Scope, ev.Country, ev.ASN, ev.StartedAt)
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = ev
	}
	var out []string
	for _, k := range order {
		ev := last[k]
		ev.Withdrawn = nil
		out = append(out, fmt.Sprintf("%+v", ev))
	}
	slices.Sort(out)
	return out
}

// TestRecomputeMatchesObserve: the events recomputed from the stored
// values of bins are those observing the bins gave (but for evidence),
// with outages, a collector outage (skipped bins), quiet networks and a
// country event with contributors.
func TestRecomputeMatchesObserve(t *testing.T) {
	s := sim{n: 700, asns: []simASN{
		{asn: 100, cc: "KZ", access: bgpwatch.AccessFixed, size: 400, count: outage(400, 40, [2]int{300, 360}, [2]int{500, 520})},
		{asn: 101, cc: "KZ", access: bgpwatch.AccessMobile, size: 200, count: outage(200, 20, [2]int{300, 340})},
		{asn: 102, cc: "KZ", size: 60, count: outage(60, 50, [2]int{300, 340})},
		{asn: 200, cc: "DE", size: 300, count: steps(300, [3]int{400, 460, 100}, [3]int{610, 640, 0})},
		{asn: 201, cc: "DE", size: 500, count: outage(500, 0, [2]int{200, 204})}, // with the collector outage
		{asn: 300, size: 30, count: outage(30, 0, [2]int{450, 470})},
	}, feed: func(i int) int {
		if i >= 200 && i < 204 { // a collector outage: skipped bins
			return 3
		}
		return 20
	}}
	for _, cfg := range []Config{DefaultConfig(), func() Config {
		c := DefaultConfig()
		c.Country.Drop, c.ASN.Drop, c.MinDuration, c.FeedCollapse = 0.2, 0.3, 10*bgpwatch.BinStep, 0
		return c
	}()} {
		bins := s.bins()
		d := New(cfg, s.info)
		var observed []Transition
		for _, b := range bins {
			observed = append(observed, d.Observe(b)...)
		}
		r := New(cfg, s.info)
		recomputed := r.Recompute(historyOf(bins, nil))
		want, got := finalEvents(observed), finalEvents(recomputed)
		if len(want) < 3 {
			t.Fatalf("only %d events observed: the test shows nothing", len(want))
		}
		if !slices.Equal(want, got) {
			t.Errorf("recomputed events differ:\n got %q\nwant %q", got, want)
		}
	}
}
