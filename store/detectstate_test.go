package store_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// stepValue is the value of steps at bin i.
func stepValue(steps []detect.Step, i int) int {
	v := 0
	for _, s := range steps {
		if int(s.At) > i {
			break
		}
		v = int(s.Slash24)
	}
	return v
}

func TestDetectorHistory(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	day0 := time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC) // D-1
	dayD := day0.Add(24 * time.Hour)
	before := dayD.Add(12 * time.Hour)
	span := 26 * time.Hour
	from := before.Add(-span) // D-1 10:00
	gapFrom, gapTo := dayD.Add(3*time.Hour), dayD.Add(4*time.Hour)
	h := func(d time.Time, hours float64) time.Time { return d.Add(time.Duration(hours * float64(time.Hour))) }
	cnt := func(s int) bgpwatch.Counts { return bgpwatch.Counts{Prefixes: s / 2, Slash24: s, V6Prefixes: 1} }

	// Country rows every bin (KZ from D-4, DE from D-1), none in the gap.
	b := store.SeriesBatch{From: day0.Add(-72 * time.Hour), To: before.Add(-bgpwatch.BinStep)}
	for t := b.From; !t.After(b.To); t = t.Add(bgpwatch.BinStep) {
		if !t.Before(gapFrom) && t.Before(gapTo) {
			continue
		}
		b.Countries = append(b.Countries, store.CountryPoint{Country: "KZ", Bin: t, Counts: cnt(100 + int(t.Sub(b.From)/time.Hour))})
		if !t.Before(day0) {
			b.Countries = append(b.Countries, store.CountryPoint{Country: "DE", Bin: t, Counts: cnt(500)})
		}
	}
	// ASN change points and key frames.
	pt := func(a bgpwatch.ASN, t time.Time, s int) {
		c := cnt(s)
		if s == 0 {
			c = bgpwatch.Counts{}
		}
		b.ASNs = append(b.ASNs, store.ASNPoint{ASN: a, Bin: t, Counts: c})
	}
	pt(100, day0, 50)
	pt(100, h(day0, 9), 40) // before the span, same day: its value at the span's start
	pt(100, dayD, 40)
	pt(100, h(dayD, 5), 0) // gone
	pt(200, day0, 30)      // no key frame on D: zero from D 00:00
	pt(300, h(dayD, 6), 20)
	pt(400, h(day0, 8), 70)
	pt(400, dayD, 70)
	for d := b.From; d.Before(before); d = d.Add(24 * time.Hour) {
		v := 80
		if d.After(day0.Add(-48 * time.Hour)) {
			v = 5
		}
		pt(500, d, v) // in an event since D-3 12:00
	}
	pt(500, h(day0.Add(-48*time.Hour), 12), 5)
	if err := db.WriteBins(ctx, &b); err != nil {
		t.Fatal(err)
	}

	// Events.
	save := func(ev bgpwatch.Event, source string) int64 {
		t.Helper()
		id, err := db.SaveEvent(ctx, &ev, source, false)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	wd := []bgpwatch.WithdrawnPrefix{
		{Prefix: netip.MustParsePrefix("2.72.0.0/16"), Origin: 100, WithdrawnAt: h(dayD, 5.01)},
		{Prefix: netip.MustParsePrefix("2.73.0.0/16"), Origin: 100, WithdrawnAt: h(dayD, 5.02)},
	}
	asnEv := func(a bgpwatch.ASN, start, end time.Time) bgpwatch.Event {
		return bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: a, StartedAt: start, EndedAt: end,
			BaselineSlash24: 40, MinSlash24: 0, DropRatio: 1, ASNs: []bgpwatch.EventASN{{ASN: a, BaselineSlash24: 40}}}
	}
	ongoing := asnEv(100, h(dayD, 5), time.Time{})
	ongoing.Withdrawn = wd
	idOngoing := save(ongoing, store.SourceLive)
	ended := bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "KZ", StartedAt: h(day0, 12), EndedAt: h(day0, 14),
		BaselineSlash24: 120, MinSlash24: 60, DropRatio: 0.5, Withdrawn: wd}
	idEnded := save(ended, store.SourceLive)
	save(asnEv(300, h(dayD, 7), time.Time{}), store.SourceReplay) // other source
	save(asnEv(400, h(day0, 1), h(day0, 2)), store.SourceLive)    // before the span
	long := asnEv(500, h(day0.Add(-48*time.Hour), 12), time.Time{})
	long.BaselineSlash24 = 80
	idLong := save(long, store.SourceLive)

	got, err := db.DetectorHistory(ctx, store.HistoryQuery{Before: before, Span: span, Source: store.SourceLive, Open: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	// Bins: the written ones, back to Span before the long event's start.
	if want := long.StartedAt.Add(-span); !got.Bins[0].Equal(want) {
		t.Errorf("first bin %s, want %s (Span before the long event)", got.Bins[0], want)
	}
	if last := got.Bins[len(got.Bins)-1]; !last.Equal(before.Add(-bgpwatch.BinStep)) {
		t.Errorf("last bin %s", last)
	}
	inSpan := 0
	for i, bin := range got.Bins {
		if i > 0 && !bin.After(got.Bins[i-1]) {
			t.Fatalf("bins not ascending at %d", i)
		}
		if !bin.Before(gapFrom) && bin.Before(gapTo) {
			t.Errorf("bin %s in the gap", bin)
		}
		if !bin.Before(from) {
			inSpan++
		}
	}
	if want := int(span/bgpwatch.BinStep) - 12; inSpan != want {
		t.Errorf("%d bins in the span, want %d", inSpan, want)
	}

	// Values: the same as Series reads, bin by bin, from the span on (and
	// for the long event's ASN and country over the whole history).
	check := func(name string, q bgpwatch.SeriesQuery, steps []detect.Step, whole bool) {
		t.Helper()
		bad := 0
		for i, bin := range got.Bins {
			if bin.Before(from) && !whole {
				if v := stepValue(steps, i); v != 0 {
					t.Errorf("%s: %d at %s, before the span", name, v, bin)
					return
				}
				continue
			}
			q.From, q.To = bin, bin
			pts, err := db.Series(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if v := stepValue(steps, i); len(pts) != 1 || pts[0].Slash24 != v {
				if bad++; bad <= 3 {
					t.Errorf("%s at %s: history %d, Series %+v", name, bin, v, pts)
				}
			}
		}
	}
	for _, a := range []bgpwatch.ASN{100, 200, 300, 400} {
		check("AS"+a.String(), bgpwatch.SeriesQuery{ASN: a}, got.ASNs[a], false)
	}
	check("AS500", bgpwatch.SeriesQuery{ASN: 500}, got.ASNs[500], true)
	check("DE", bgpwatch.SeriesQuery{Country: "DE"}, got.Countries["DE"], false)
	check("KZ", bgpwatch.SeriesQuery{Country: "KZ"}, got.Countries["KZ"], false)
	if len(got.LastASNs) != 3 || got.LastASNs[300] != cnt(20) || got.LastASNs[400] != cnt(70) || got.LastASNs[500] != cnt(5) {
		t.Errorf("LastASNs %v, want 300, 400 and 500", got.LastASNs)
	}

	// Events: live ones overlapping the history; evidence of the open ones.
	byID := map[int64]bgpwatch.Event{}
	for _, ev := range got.Events {
		byID[ev.ID] = ev
	}
	if len(got.Events) != 3 || byID[idOngoing].ID == 0 || byID[idEnded].ID == 0 || byID[idLong].ID == 0 {
		t.Fatalf("events %+v, want the ongoing, the ended and the long one", got.Events)
	}
	if ev := byID[idOngoing]; len(ev.Withdrawn) != 2 || ev.Withdrawn[0].Origin != 100 || len(ev.ASNs) != 1 || !ev.EndedAt.IsZero() {
		t.Errorf("ongoing event %+v", ev)
	}
	if ev := byID[idEnded]; len(ev.Withdrawn) != 0 || ev.EndedAt.IsZero() {
		t.Errorf("ended event: %d withdrawn (want none: it ended long before), ended %s", len(ev.Withdrawn), ev.EndedAt)
	}

	// Nothing stored before: an empty history.
	empty, err := db.DetectorHistory(ctx, store.HistoryQuery{Before: b.From, Span: span, Source: store.SourceLive})
	if err != nil || len(empty.Bins) != 0 || len(empty.ASNs) != 0 {
		t.Errorf("history before the first bin: %+v, %v", empty, err)
	}
}

func TestBinFeeds(t *testing.T) {
	// FullFeed is stored per source and bin with the series, replaced with
	// them, and read back aligned with the history's bins.
	ctx := context.Background()
	db := storetest.New(t)
	t0 := time.Date(2022, 1, 31, 23, 45, 0, 0, time.UTC) // the batch spans a month boundary
	bin := func(i int) time.Time { return t0.Add(time.Duration(i) * bgpwatch.BinStep) }
	batch := func(source string, ff ...int) *store.SeriesBatch {
		b := &store.SeriesBatch{From: bin(0), To: bin(4), Source: source}
		for i := range 5 {
			b.Countries = append(b.Countries, store.CountryPoint{Country: "KZ", Bin: bin(i), Counts: bgpwatch.Counts{Slash24: 100}})
			if i < len(ff) && ff[i] > 0 {
				b.Feeds = append(b.Feeds, store.FeedPoint{Bin: bin(i), FullFeed: ff[i]})
			}
		}
		return b
	}
	type row struct {
		source string
		bin    time.Time
		ff     int
	}
	rows := func() []row {
		t.Helper()
		rs, err := db.Pool().Query(ctx, `SELECT source, bin, full_feed FROM bin_feeds ORDER BY source, bin`)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		var r row
		if _, err := pgx.ForEachRow(rs, []any{&r.source, &r.bin, &r.ff}, func() error {
			r.bin = r.bin.UTC()
			out = append(out, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	history := func(source string) []int {
		t.Helper()
		h, err := db.DetectorHistory(ctx, store.HistoryQuery{Before: bin(5), Span: time.Hour, Source: source})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Bins) != 5 || len(h.FullFeed) != len(h.Bins) {
			t.Fatalf("%s history: %d bins, %d FullFeed values; want 5 and 5", source, len(h.Bins), len(h.FullFeed))
		}
		return h.FullFeed
	}

	// Written twice (a replay run again over the same range): the same rows.
	for range 2 {
		for _, b := range []*store.SeriesBatch{batch(store.SourceLive, 40, 40, 41, 42), batch(store.SourceReplay, 7, 7, 7, 7, 8)} {
			if err := db.WriteBins(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []row{
		{"live", bin(0), 40}, {"live", bin(1), 40}, {"live", bin(2), 41}, {"live", bin(3), 42},
		{"replay", bin(0), 7}, {"replay", bin(1), 7}, {"replay", bin(2), 7}, {"replay", bin(3), 7}, {"replay", bin(4), 8},
	}
	if got := rows(); !slices.Equal(got, want) {
		t.Fatalf("bin_feeds after two writes:\n got %v\nwant %v", got, want)
	}
	if got, want := history(store.SourceLive), []int{40, 40, 41, 42, 0}; !slices.Equal(got, want) {
		t.Errorf("live FullFeed %v, want %v (0: none stored)", got, want)
	}
	if got, want := history(store.SourceReplay), []int{7, 7, 7, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("replay FullFeed %v, want %v", got, want)
	}

	// A rewrite of the range replaces the source's rows, the other
	// source's stay; a batch without a source leaves them all alone.
	if err := db.WriteBins(ctx, batch(store.SourceLive, 0, 30, 0, 31, 32)); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteBins(ctx, batch("")); err != nil {
		t.Fatal(err)
	}
	if got, want := history(store.SourceLive), []int{0, 30, 0, 31, 32}; !slices.Equal(got, want) {
		t.Errorf("live FullFeed after a rewrite %v, want %v", got, want)
	}
	if got, want := history(store.SourceReplay), []int{7, 7, 7, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("replay FullFeed after the live rewrite %v, want %v", got, want)
	}
	if got := rows(); len(got) != 8 {
		t.Errorf("%d bin_feeds rows, want 8: %v", len(got), got)
	}

	// An exclusive write refuses bins another source wrote (live has rows
	// for bins 1, 3 and 4 now), names them and changes nothing; bins only
	// its own source wrote it replaces.
	excl := batch(store.SourceReplay, 9, 9, 9, 9, 9)
	excl.Exclusive = true
	for i := range excl.Countries {
		excl.Countries[i].Slash24 = 1
	}
	err := db.WriteBins(ctx, excl)
	var ose *store.OtherSourceError
	if !errors.As(err, &ose) || !errors.Is(err, store.ErrOtherSource) || ose.Source != store.SourceLive ||
		ose.Bins != 3 || !ose.From.Equal(bin(1)) || !ose.To.Equal(bin(4)) ||
		!strings.Contains(err.Error(), "3 bins from 2022-01-31T23:50:00Z to 2022-02-01T00:05:00Z were written by live ingest") {
		t.Fatalf("exclusive write over live bins: %v (%+v)", err, ose)
	}
	if got, want := history(store.SourceReplay), []int{7, 7, 7, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("replay FullFeed after a refused write %v, want %v", got, want)
	}
	var kz int
	if err := db.Pool().QueryRow(ctx, `SELECT sum(visible_slash24) FROM country_series WHERE country = 'KZ'`).Scan(&kz); err != nil || kz != 500 {
		t.Errorf("KZ series after a refused write: sum %d (%v), want 500", kz, err)
	}
	own := &store.SeriesBatch{From: bin(10), To: bin(11), Source: store.SourceReplay, Exclusive: true,
		Feeds: []store.FeedPoint{{Bin: bin(10), FullFeed: 3}, {Bin: bin(11), FullFeed: 3}}}
	for range 2 { // its own bins, written again
		if err := db.WriteBins(ctx, own); err != nil {
			t.Fatalf("exclusive write of its own bins: %v", err)
		}
	}
	excl.Exclusive = false
	if err := db.WriteBins(ctx, excl); err != nil {
		t.Fatalf("non-exclusive write over live bins: %v", err)
	}

	// A bin the series do not have is not in the history, whatever its FullFeed.
	lone := &store.SeriesBatch{From: bin(-3), To: bin(-3), Source: store.SourceLive, Feeds: []store.FeedPoint{{Bin: bin(-3), FullFeed: 5}}}
	if err := db.WriteBins(ctx, lone); err != nil {
		t.Fatal(err)
	}
	if got, want := history(store.SourceLive), []int{0, 30, 0, 31, 32}; !slices.Equal(got, want) {
		t.Errorf("FullFeed %v, want %v: a bin without series rows leaked into the history", got, want)
	}
}
