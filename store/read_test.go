package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func c(n int) bgpwatch.Counts {
	return bgpwatch.Counts{Prefixes: n, Slash24: 10 * n, V6Prefixes: n / 2}
}

// TestSeries checks the forward fill of change points over the bin grid:
// the value at a bin is the latest row at or before it since the bin's
// UTC day start; none is zero.
func TestSeries(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	d0 := time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return d0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	b := &store.SeriesBatch{From: d0, To: d0.Add(72 * time.Hour), ASNs: []store.ASNPoint{
		{ASN: 9198, Bin: at(0, 0), Counts: c(10)},  // key frame day 1
		{ASN: 9198, Bin: at(1, 0), Counts: c(5)},   // drop
		{ASN: 9198, Bin: at(2, 0), Counts: c(10)},  // recovery
		{ASN: 9198, Bin: at(24, 0), Counts: c(10)}, // key frame day 2
		{ASN: 9198, Bin: at(30, 0), Counts: c(0)},  // to zero: no key frame on day 3
		{ASN: 7, Bin: at(23, 55), Counts: c(3)},    // a change late on day 1, no key frame after
	}, Countries: []store.CountryPoint{
		{Country: "KZ", Bin: at(0, 0), Counts: c(100)}, {Country: "KZ", Bin: at(0, 5), Counts: c(90)},
	}}
	if err := db.WriteBins(ctx, b); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    bgpwatch.SeriesQuery
		want []int // Prefixes per point
	}{
		{"fill from an earlier row", bgpwatch.SeriesQuery{ASN: 9198, From: at(0, 50), To: at(1, 10)}, []int{10, 10, 5, 5, 5}},
		{"from not on the grid", bgpwatch.SeriesQuery{ASN: 9198, From: at(0, 52), To: at(0, 55)}, []int{10, 10}},
		{"step takes the minimum", bgpwatch.SeriesQuery{ASN: 9198, From: at(0, 0), To: at(2, 55), Step: time.Hour}, []int{10, 5, 10}},
		{"next day key frame", bgpwatch.SeriesQuery{ASN: 9198, From: at(23, 55), To: at(24, 5)}, []int{10, 10, 10}},
		{"no key frame: zero", bgpwatch.SeriesQuery{ASN: 9198, From: at(47, 55), To: at(48, 5)}, []int{0, 0, 0}},
		{"never further back than the day start", bgpwatch.SeriesQuery{ASN: 7, From: at(23, 50), To: at(24, 0)}, []int{0, 3, 0}},
		{"unknown entity", bgpwatch.SeriesQuery{ASN: 1, From: at(0, 0), To: at(0, 10)}, []int{0, 0, 0}},
		{"country", bgpwatch.SeriesQuery{Country: "KZ", From: at(0, 0), To: at(0, 10)}, []int{100, 90, 90}},
		{"to before from", bgpwatch.SeriesQuery{Country: "KZ", From: at(1, 0), To: at(0, 0)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pts, err := db.Series(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i, p := range pts {
				got = append(got, p.Prefixes)
				if p.Slash24 != 10*p.Prefixes {
					t.Errorf("point %d: %+v", i, p)
				}
				step := tc.q.Step
				if step == 0 {
					step = bgpwatch.BinStep
				}
				if want := tc.q.From.Truncate(bgpwatch.BinStep).Add(time.Duration(i) * step); !p.Time.Equal(want) {
					t.Errorf("point %d at %s, want %s", i, p.Time, want)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if _, err := db.Series(ctx, bgpwatch.SeriesQuery{ASN: 1, From: at(0, 0), To: at(1, 0), Step: 7 * time.Minute}); !errors.Is(err, bgpwatch.ErrInvalid) {
		t.Errorf("bad step: %v", err)
	}

	ext, err := db.SeriesExtent(ctx)
	if err != nil || !ext.OK || !ext.First.Equal(at(0, 0)) || !ext.Last.Equal(at(0, 5)) {
		t.Errorf("extent %+v %v", ext, err)
	}
	latest, err := db.LatestCountries(ctx)
	if err != nil || len(latest) != 1 || latest[0].Prefixes != 90 || !latest[0].Bin.Equal(at(0, 5)) {
		t.Errorf("latest %+v %v", latest, err)
	}
	if bin, ok, err := db.LatestBin(ctx, "", 9198); err != nil || !ok || !bin.Equal(at(30, 0)) {
		t.Errorf("latest bin %s %v %v", bin, ok, err)
	}
	if _, ok, err := db.LatestBin(ctx, "DE", 0); err != nil || ok {
		t.Errorf("latest bin of DE: %v %v", ok, err)
	}
	sum, err := db.ASNSummary(ctx, 9198, at(1, 30))
	if err != nil || sum.Prefixes != 5 || !sum.At.Equal(at(1, 30)) || sum.Known {
		t.Errorf("summary %+v %v", sum, err)
	}
	if _, err := db.ASNSummary(ctx, 1, at(1, 30)); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Errorf("unknown ASN: %v", err)
	}
}

func TestSeriesExtentEmpty(t *testing.T) {
	db := storetest.New(t)
	ext, err := db.SeriesExtent(context.Background())
	if err != nil || ext.OK {
		t.Fatalf("%+v %v", ext, err)
	}
	st, err := db.Stats(context.Background())
	if err != nil || len(st.Events) != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestCountryASNs checks the networks of a country: registry rows only,
// counts at a bin, the baseline as the detector's (lower median of the
// window without the network's own event bins; an ongoing event's own
// baseline), and the order by size.
func TestCountryASNs(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	d0 := time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return d0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{
		{ASN: 100, Name: "FIXED-AS", Country: "KZ", Access: bgpwatch.AccessFixed},
		{ASN: 200, Name: "MOBILE-AS", Country: "KZ", Access: bgpwatch.AccessMobile},
		{ASN: 300, Name: "DARK-AS", Country: "KZ"},
		{ASN: 400, Name: "ELSEWHERE", Country: "UZ"},
	}); err != nil {
		t.Fatal(err)
	}
	b := &store.SeriesBatch{From: d0, To: at(47, 55), ASNs: []store.ASNPoint{
		{ASN: 100, Bin: at(0, 0), Counts: c(10)}, {ASN: 100, Bin: at(24, 0), Counts: c(10)},
		{ASN: 100, Bin: at(30, 0), Counts: c(1)}, // its own event from here on
		{ASN: 200, Bin: at(0, 0), Counts: c(5)},
		{ASN: 200, Bin: at(12, 0), Counts: c(1)}, // its own event, 12:00-20:00
		{ASN: 200, Bin: at(20, 0), Counts: c(5)},
		{ASN: 200, Bin: at(24, 0), Counts: c(5)},
		{ASN: 200, Bin: at(27, 0), Counts: c(8)},
		{ASN: 400, Bin: at(0, 0), Counts: c(99)},
	}, Countries: []store.CountryPoint{{Country: "KZ", Bin: d0, Counts: c(15)}}}
	if err := db.WriteBins(ctx, b); err != nil {
		t.Fatal(err)
	}
	ended := at(20, 0)
	var ongoing int64
	for _, ev := range []bgpwatch.Event{
		{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: 200, StartedAt: at(12, 0), EndedAt: ended, BaselineSlash24: 50, MinSlash24: 10, DropRatio: 0.8},
		{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: 100, StartedAt: at(30, 0), BaselineSlash24: 100, MinSlash24: 10, DropRatio: 0.9},
	} {
		id, err := db.SaveEvent(ctx, &ev, store.SourceReplay, false)
		if err != nil {
			t.Fatal(err)
		}
		ongoing = id // the last one
	}
	type row struct {
		asn                     bgpwatch.ASN
		slash24, prefixes, base int
		hasBase                 bool
		event                   int64
	}
	got := func(q bgpwatch.CountryASNsQuery) []row {
		t.Helper()
		ns, err := db.CountryASNs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, n := range ns {
			if n.Country != "KZ" || n.Name == "" {
				t.Errorf("AS%d: country %q name %q", n.ASN, n.Country, n.Name)
			}
			out = append(out, row{n.ASN, n.Slash24, n.Prefixes, n.Baseline, n.HasBaseline, n.EventID})
		}
		return out
	}
	cases := []struct {
		name string
		q    bgpwatch.CountryASNsQuery
		want []row
	}{
		// AS200's window (12:00 day 1 .. 11:55 day 2): 96 bins at 10 in its
		// event (left out), 84 at 50, 108 at 80: median 80 (50 with them).
		{"at noon of day 2", bgpwatch.CountryASNsQuery{Country: "KZ", At: at(36, 0), BaselineFrom: at(12, 0)}, []row{
			{200, 80, 8, 80, true, 0}, {100, 10, 1, 100, true, ongoing}, {300, 0, 0, 0, true, 0}}},
		{"before the events", bgpwatch.CountryASNsQuery{Country: "KZ", At: at(11, 0), BaselineFrom: at(0, 0)}, []row{
			{100, 100, 10, 100, true, 0}, {200, 50, 5, 50, true, 0}, {300, 0, 0, 0, true, 0}}},
		{"off the grid, empty window", bgpwatch.CountryASNsQuery{Country: "KZ", At: at(11, 3), BaselineFrom: at(11, 4)}, []row{
			{100, 100, 10, 0, false, 0}, {200, 50, 5, 0, false, 0}, {300, 0, 0, 0, false, 0}}},
		{"registry only", bgpwatch.CountryASNsQuery{Country: "KZ"}, []row{
			{100, 0, 0, 0, false, 0}, {200, 0, 0, 0, false, 0}, {300, 0, 0, 0, false, 0}}},
		{"no key frame on day 3: zero", bgpwatch.CountryASNsQuery{Country: "KZ", At: at(48, 0), BaselineFrom: at(24, 0)}, []row{
			{100, 0, 0, 100, true, ongoing}, {200, 0, 0, 80, true, 0}, {300, 0, 0, 0, true, 0}}},
		// AS200's window: 96 bins at 80 on day 2, then day 3 without a key
		// frame (192 bins at zero).
		{"a day without rows counts as zero", bgpwatch.CountryASNsQuery{Country: "KZ", At: at(64, 0), BaselineFrom: at(40, 0)}, []row{
			{100, 0, 0, 100, true, ongoing}, {200, 0, 0, 0, true, 0}, {300, 0, 0, 0, true, 0}}},
		{"no networks", bgpwatch.CountryASNsQuery{Country: "DE", At: at(36, 0), BaselineFrom: at(12, 0)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if g := got(tc.q); !slices.Equal(g, tc.want) {
				t.Errorf("got  %+v\nwant %+v", g, tc.want)
			}
		})
	}
}
