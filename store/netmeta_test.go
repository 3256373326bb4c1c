package store_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/netmeta"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func loadMetaFixtures(t *testing.T) []netmeta.Dataset {
	t.Helper()
	l, err := netmeta.LoadDir(filepath.Join("..", "netmeta", "testdata"))
	if err != nil || len(l.Failed) > 0 {
		t.Fatalf("%v %v", err, l.Failed)
	}
	return l.Datasets
}

func kzRegistry() []bgpwatch.ASNInfo {
	var out []bgpwatch.ASNInfo
	for _, a := range []bgpwatch.ASN{9198, 21299, 206026, 29355, 48503, 35104, 48716, 50482, 203087, 39824} {
		out = append(out, bgpwatch.ASNInfo{ASN: a, Country: "KZ"})
	}
	out[2].Name = "KAR-TEL-MOBILE Kar-Tel LLC"
	return out
}

func TestImportNetworkMeta(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	infos := kzRegistry()
	// The user says AS35104 is fixed: no dataset may change that.
	infos[5].Access = bgpwatch.AccessFixed
	if err := db.UpsertASNs(ctx, infos); err != nil {
		t.Fatal(err)
	}
	res, err := db.ImportNetworkMeta(ctx, loadMetaFixtures(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Imported || r.Rows == 0 {
			t.Errorf("result %+v", r)
		}
	}
	check := func(asn bgpwatch.ASN, acc bgpwatch.Access, src, date string) {
		t.Helper()
		in, err := db.ASNSummary(ctx, asn, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		d := ""
		if !in.AccessDate.IsZero() {
			d = in.AccessDate.Format("2006-01-02")
		}
		if in.Access != acc || in.AccessSource != src || d != date {
			t.Errorf("AS%d: %s from %q (%s), want %s from %q (%s)", asn, in.Access, in.AccessSource, d, acc, src, date)
		}
	}
	check(9198, bgpwatch.AccessFixed, "peeringdb", "2021-11-02")
	check(48503, bgpwatch.AccessMobile, "curated", "2026-12-07")
	check(35104, bgpwatch.AccessFixed, "user", "")
	check(48716, bgpwatch.AccessHosting, "peeringdb", "2021-12-20")
	check(206026, bgpwatch.AccessMobile, "name", "")
	check(203087, bgpwatch.AccessUnknown, "", "")

	sum, err := db.ASNSummary(ctx, 9198, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if u := sum.Users; u == nil || u.Estimate != 5610000 || math.Abs(u.Share-0.3912) > 1e-9 || u.Country != "KZ" || u.Source != "apnic" {
		t.Fatalf("AS9198 users %+v", sum.Users)
	}
	if sum.Name != "JSC Kazakhtelecom" {
		t.Errorf("AS9198 name %q: a metadata name fills an unnamed network", sum.Name)
	}
	sum, _ = db.ASNSummary(ctx, 206026, time.Time{})
	if sum.Name != "KAR-TEL-MOBILE Kar-Tel LLC" {
		t.Errorf("AS206026 name %q: a registry name is never replaced", sum.Name)
	}
	if sum.Users != nil {
		t.Errorf("AS206026 has no APNIC row, users %+v", sum.Users)
	}

	// A truncated PeeringDB dump and an APNIC file that did not parse
	// leave their previous rows; CAIDA refreshes (AS203087 now Content).
	var pdb netmeta.Dataset
	for _, d := range loadMetaFixtures(t) {
		if d.Name == netmeta.DatasetPeeringDB {
			pdb = d
		}
	}
	pdb.Rows = pdb.Rows[:1]
	types := netmeta.Dataset{Name: netmeta.DatasetCAIDATypes, Date: time.Date(2022, 2, 1, 0, 0, 0, 0, time.UTC), Rows: []netmeta.Row{
		{ASN: 9198, Kind: "Transit/Access", Users: -1, Share: -1}, {ASN: 203087, Kind: "Content", Users: -1, Share: -1},
		{ASN: 29355, Kind: "Transit/Access", Users: -1, Share: -1}, {ASN: 21299, Kind: "Transit/Access", Users: -1, Share: -1},
		{ASN: 50482, Kind: "Transit/Access", Users: -1, Share: -1},
	}}
	res, err = db.ImportNetworkMeta(ctx, []netmeta.Dataset{pdb, types},
		map[string]error{netmeta.DatasetAPNIC: netmeta.ErrFormat})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.MetaResult{}
	for _, r := range res {
		got[r.Dataset] = r
	}
	if r := got[netmeta.DatasetPeeringDB]; r.Imported || !strings.Contains(r.Reason, "truncated") || r.Previous != 5 {
		t.Errorf("peeringdb %+v", r)
	}
	if r := got[netmeta.DatasetAPNIC]; r.Imported || !strings.Contains(r.Reason, "previous data kept") {
		t.Errorf("apnic %+v", r)
	}
	if r := got[netmeta.DatasetCAIDATypes]; !r.Imported {
		t.Errorf("caida %+v", r)
	}
	check(48716, bgpwatch.AccessHosting, "peeringdb", "2021-12-20") // kept
	check(203087, bgpwatch.AccessHosting, "caida", "2022-02-01")    // refreshed
	sum, _ = db.ASNSummary(ctx, 9198, time.Time{})
	if sum.Users == nil || sum.Users.Estimate != 5610000 {
		t.Errorf("APNIC data must stay after a failed import: %+v", sum.Users)
	}

	// A recompute with nothing new changes nothing; a new registry name
	// (here one that suggests a mobile network) is picked up by the next.
	if _, err := db.ImportNetworkMeta(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	check(39824, bgpwatch.AccessUnknown, "", "")
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{{ASN: 39824, Name: "SHYMKENT-GSM Shymkent mobile", Country: "KZ"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportNetworkMeta(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	check(39824, bgpwatch.AccessMobile, "name", "")
}

func TestEventUsersAtReadTime(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.UpsertASNs(ctx, kzRegistry()); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2022, 1, 5, 10, 30, 0, 0, time.UTC)
	ev := bgpwatch.Event{
		Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed, StartedAt: start,
		BaselineSlash24: 1400, MinSlash24: 200, DropRatio: 0.857,
		ASNs: []bgpwatch.EventASN{
			{ASN: 9198, BaselineSlash24: 900, MinSlash24: 90}, // lost 90 %
			{ASN: 48503, BaselineSlash24: 70, MinSlash24: 0},  // lost all
			{ASN: 203087, BaselineSlash24: 30, MinSlash24: 0}, // no users data
		},
	}
	id, err := db.SaveEvent(ctx, &ev, store.SourceReplay, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetEvent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Users != nil {
		t.Fatalf("before any metadata: users %+v, want absent", got.Users)
	}
	if got.AccessSources[""] != 1 {
		t.Errorf("access sources %v: all unknown before metadata", got.AccessSources)
	}
	if _, err := db.ImportNetworkMeta(ctx, loadMetaFixtures(t), nil); err != nil {
		t.Fatal(err)
	}
	got, err = db.GetEvent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := int64(5049000) + 1930000 // 90 % of AS9198, all of AS48503
	wantShare := 0.3912*0.9 + 0.1346
	if u := got.Users; u == nil || u.Estimate != wantUsers || math.Abs(u.Share-wantShare) > 1e-9 || u.Source != "apnic" ||
		u.Date.Format("2006-01-02") != "2022-01-04" {
		t.Fatalf("users %+v, want %d (%.4f)", got.Users, wantUsers, wantShare)
	}
	lost := 810.0 + 70 + 30
	want := map[string]float64{"peeringdb": 810 / lost, "curated": 70 / lost, "": 30 / lost}
	for k, v := range want {
		if math.Abs(got.AccessSources[k]-v) > 1e-9 {
			t.Errorf("access sources %v, want %v", got.AccessSources, want)
			break
		}
	}
	for _, a := range got.ASNs {
		if a.ASN == 48503 && (a.Access != bgpwatch.AccessMobile || a.AccessSource != "curated") {
			t.Errorf("AS48503 in the event: %s from %q", a.Access, a.AccessSource)
		}
	}
}

// TestImportNetworkMetaAtomic: an import that fails part-way (here an
// unknown dataset after a good one) changes nothing.
func TestImportNetworkMetaAtomic(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.UpsertASNs(ctx, kzRegistry()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportNetworkMeta(ctx, loadMetaFixtures(t), nil); err != nil {
		t.Fatal(err)
	}
	changed := netmeta.Dataset{Name: netmeta.DatasetPeeringDB, Date: time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC), Rows: []netmeta.Row{
		{ASN: 9198, Kind: "NSP", Users: -1, Share: -1}, {ASN: 35104, Kind: "NSP", Users: -1, Share: -1},
		{ASN: 48503, Kind: "NSP", Users: -1, Share: -1}, {ASN: 48716, Kind: "NSP", Users: -1, Share: -1},
		{ASN: 64999, Kind: "NSP", Users: -1, Share: -1},
	}}
	_, err := db.ImportNetworkMeta(ctx, []netmeta.Dataset{changed, {Name: "bogus", Rows: changed.Rows}}, nil)
	if err == nil {
		t.Fatal("an unknown dataset must fail the import")
	}
	in, err := db.ASNSummary(ctx, 9198, time.Time{})
	if err != nil || in.Access != bgpwatch.AccessFixed || in.AccessSource != "peeringdb" {
		t.Errorf("AS9198 after a failed import: %+v %v, want the previous fixed (peeringdb)", in, err)
	}
	var rows int
	var date time.Time
	if err := db.Pool().QueryRow(ctx, `SELECT rows, data_date FROM meta_datasets WHERE name = $1`, netmeta.DatasetPeeringDB).
		Scan(&rows, &date); err != nil {
		t.Fatal(err)
	}
	if rows != 5 || date.Format("2006-01-02") != "2021-12-20" {
		t.Errorf("peeringdb dataset after a failed import: %d rows of %s, want the previous 5 of 2021-12-20", rows, date.Format("2006-01-02"))
	}
}
