package store_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

var t0 = time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC)

func TestWriteBinsIdempotent(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	batch := &store.SeriesBatch{
		From: t0, To: t0.Add(10 * time.Minute),
		Countries: []store.CountryPoint{
			{Country: "KZ", Bin: t0, Counts: bgpwatch.Counts{Prefixes: 10, Slash24: 40, V6Prefixes: 2}, ASNs: 3},
			{Country: "KZ", Bin: t0.Add(5 * time.Minute), Counts: bgpwatch.Counts{Prefixes: 9, Slash24: 30}, ASNs: 3},
		},
		ASNs: []store.ASNPoint{
			{ASN: 9198, Bin: t0, Counts: bgpwatch.Counts{Prefixes: 5, Slash24: 20}},
			{ASN: 9198, Bin: t0.Add(10 * time.Minute), Counts: bgpwatch.Counts{}},
		},
	}
	// A month boundary in a second batch exercises partition creation.
	feb := time.Date(2022, 2, 1, 0, 0, 0, 0, time.UTC)
	batch2 := &store.SeriesBatch{From: feb, To: feb, Countries: []store.CountryPoint{{Country: "KZ", Bin: feb, Counts: bgpwatch.Counts{Slash24: 1}}}}
	for i := range 2 {
		if err := db.WriteBins(ctx, batch); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if err := db.WriteBins(ctx, batch2); err != nil {
			t.Fatalf("write feb %d: %v", i, err)
		}
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM country_series`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("country rows = %d, %v; want 3", n, err)
	}
	pts := storetest.CountryRows(t, db, "KZ", t0, t0.Add(time.Hour))
	if len(pts) != 2 || pts[1].Slash24 != 30 || !pts[0].Time.Equal(t0) {
		t.Fatalf("country rows = %+v", pts)
	}
	ap, err := db.Series(ctx, bgpwatch.SeriesQuery{ASN: 9198, From: t0, To: t0.Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{20, 20, 0, 0}
	if len(ap) != len(want) {
		t.Fatalf("ASN series = %+v, want %d points", ap, len(want))
	}
	for i, w := range want {
		if ap[i].Slash24 != w {
			t.Errorf("ASN series[%d] = %d, want %d", i, ap[i].Slash24, w)
		}
	}
	// Rewriting a range with fewer rows removes the old ones.
	if err := db.WriteBins(ctx, &store.SeriesBatch{From: t0, To: t0.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM asn_series`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("asn rows after clear = %d, %v", n, err)
	}
}

func TestUpsertASNs(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{
		{ASN: 9198, Name: "KAZTELECOM", Country: "KZ", Access: bgpwatch.AccessFixed},
		{ASN: 21299, Country: "KZ"},
	}); err != nil {
		t.Fatal(err)
	}
	// Empty values never erase known ones.
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{{ASN: 9198, Country: "KZ"}, {ASN: 21299, Name: "Kar-Tel"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		asn  bgpwatch.ASN
		want bgpwatch.ASNInfo
	}{
		{9198, bgpwatch.ASNInfo{ASN: 9198, Name: "KAZTELECOM", Country: "KZ", Access: bgpwatch.AccessFixed, AccessSource: bgpwatch.AccessSourceUser}},
		{21299, bgpwatch.ASNInfo{ASN: 21299, Name: "Kar-Tel", Country: "KZ", Access: bgpwatch.AccessUnknown}},
	}
	for _, tt := range tests {
		t.Run(tt.asn.String(), func(t *testing.T) {
			got, err := db.ASNSummary(ctx, tt.asn, time.Time{})
			if err != nil || got.ASNInfo != tt.want || !got.Known {
				t.Fatalf("ASNSummary = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := db.ASNSummary(ctx, 1, time.Time{}); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Fatalf("ASNSummary(1) err = %v, want ErrNotFound", err)
	}
}

func countNotices(t *testing.T, db *store.DB, id int64) map[string]int {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `SELECT type, count(*) FROM event_notices WHERE event_id = $1 GROUP BY type`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

func TestSaveEvent(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{{ASN: 9198, Name: "KAZTELECOM", Country: "KZ", Access: bgpwatch.AccessFixed}}); err != nil {
		t.Fatal(err)
	}
	ev := bgpwatch.Event{
		Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessFixed,
		StartedAt: t0, BaselineSlash24: 100, MinSlash24: 20, DropRatio: 0.8,
		ASNs: []bgpwatch.EventASN{{ASN: 9198, BaselineSlash24: 80, MinSlash24: 10}, {ASN: 48503, BaselineSlash24: 20, MinSlash24: 10}},
		Withdrawn: []bgpwatch.WithdrawnPrefix{
			{Prefix: netip.MustParsePrefix("2.72.0.0/16"), Origin: 9198, WithdrawnAt: t0},
			{Prefix: netip.MustParsePrefix("2.72.0.0/16"), Origin: 9198, WithdrawnAt: t0},
			{Prefix: netip.MustParsePrefix("95.56.0.1/16"), Origin: 9198, WithdrawnAt: t0.Add(time.Minute)},
		},
	}
	id, err := db.SaveEvent(ctx, &ev, store.SourceReplay, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := countNotices(t, db, id); got[bgpwatch.NoticeStarted] != 1 || got[bgpwatch.NoticeEnded] != 0 {
		t.Fatalf("notices after start = %v", got)
	}
	ev.EndedAt = t0.Add(time.Hour)
	ev.Withdrawn = ev.Withdrawn[:1]
	id2, err := db.SaveEvent(ctx, &ev, store.SourceReplay, true)
	if err != nil || id2 != id {
		t.Fatalf("second save id = %d, %v; want %d", id2, err, id)
	}
	if _, err := db.SaveEvent(ctx, &ev, store.SourceReplay, true); err != nil {
		t.Fatal(err)
	}
	if got := countNotices(t, db, id); got[bgpwatch.NoticeStarted] != 1 || got[bgpwatch.NoticeEnded] != 1 {
		t.Fatalf("notices after end = %v", got)
	}
	got, err := db.GetEvent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EndedAt.Equal(ev.EndedAt) || got.WithdrawnCount != 1 || len(got.ASNs) != 2 ||
		got.ASNs[0].Name != "KAZTELECOM" || got.ASNs[0].Access != bgpwatch.AccessFixed || got.ASNs[1].Access != bgpwatch.AccessUnknown {
		t.Fatalf("GetEvent = %+v", got)
	}
	if _, err := db.GetEvent(ctx, id+100); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Fatalf("GetEvent(missing) err = %v", err)
	}
	// Without notify no notices are written.
	ev2 := bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: 9198, StartedAt: t0, EndedAt: t0.Add(time.Hour), BaselineSlash24: 80}
	id3, err := db.SaveEvent(ctx, &ev2, store.SourceReplay, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := countNotices(t, db, id3); len(got) != 0 {
		t.Fatalf("notices without notify = %v", got)
	}
	pf, next, err := db.EventPrefixes(ctx, id, 10, "")
	if err != nil || len(pf) != 1 || next != "" {
		t.Fatalf("EventPrefixes = %v, %q, %v", pf, next, err)
	}
}

func TestListEvents(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	for i := range 5 {
		ev := bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "KZ", ASN: bgpwatch.ASN(100 + i%2),
			StartedAt: t0.Add(time.Duration(i) * time.Hour), EndedAt: t0.Add(time.Duration(i)*time.Hour + 30*time.Minute),
			BaselineSlash24: 50, MinSlash24: 1, DropRatio: 0.98,
			ASNs: []bgpwatch.EventASN{{ASN: bgpwatch.ASN(100 + i%2), BaselineSlash24: 50, MinSlash24: 1}}}
		if _, err := db.SaveEvent(ctx, &ev, store.SourceReplay, false); err != nil {
			t.Fatal(err)
		}
	}
	ev := bgpwatch.Event{Scope: bgpwatch.ScopeCountry, Country: "IR", StartedAt: t0.Add(2 * time.Hour), BaselineSlash24: 50}
	if _, err := db.SaveEvent(ctx, &ev, store.SourceReplay, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    bgpwatch.EventFilter
		want int
	}{
		{"all", bgpwatch.EventFilter{}, 6},
		{"country", bgpwatch.EventFilter{Country: "KZ"}, 5},
		{"asn", bgpwatch.EventFilter{ASN: 101}, 2},
		{"scope", bgpwatch.EventFilter{Scope: bgpwatch.ScopeCountry}, 1},
		{"window", bgpwatch.EventFilter{From: t0.Add(105 * time.Minute), To: t0.Add(3 * time.Hour)}, 2}, // 2h KZ, 2h IR (ongoing)
		{"paged", bgpwatch.EventFilter{Limit: 2}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []bgpwatch.Event
			f := tt.f
			for range 10 {
				evs, next, err := db.ListEvents(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, evs...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if len(all) != tt.want {
				t.Fatalf("got %d events, want %d", len(all), tt.want)
			}
			for i := 1; i < len(all); i++ {
				a, b := all[i-1], all[i]
				if a.StartedAt.Before(b.StartedAt) || (a.StartedAt.Equal(b.StartedAt) && a.ID < b.ID) {
					t.Fatalf("order broken at %d", i)
				}
			}
		})
	}
	if _, _, err := db.ListEvents(ctx, bgpwatch.EventFilter{Cursor: "!!"}); !errors.Is(err, bgpwatch.ErrInvalid) {
		t.Fatalf("bad cursor err = %v", err)
	}
}
