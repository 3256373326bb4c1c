package bgpwatch

import (
	"math"
	"testing"
	"time"
)

func TestEventImpact(t *testing.T) {
	day := time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)
	older := day.AddDate(0, 0, -7)
	kz := func(n int64, share float64, d time.Time) *Users {
		return &Users{Estimate: n, Share: share, Country: "KZ", Source: "apnic", Date: d}
	}
	ev := Event{Country: "KZ", ASNs: []EventASN{
		{ASN: 1, Access: AccessFixed, AccessSource: AccessSourcePeeringDB, BaselineSlash24: 100, MinSlash24: 50, Users: kz(1000, 0.4, day)},
		{ASN: 2, Access: AccessMobile, AccessSource: AccessSourceCurated, BaselineSlash24: 50, MinSlash24: 0, Users: kz(500, 0.2, older)},
		{ASN: 3, Access: AccessUnknown, BaselineSlash24: 50, MinSlash24: 0}, // no estimate
		{ASN: 4, Access: AccessFixed, AccessSource: AccessSourceCAIDA, BaselineSlash24: 10, MinSlash24: 10,
			Users: kz(9999, 0.3, day)}, // lost nothing
		{ASN: 5, Access: AccessFixed, AccessSource: AccessSourceName, BaselineSlash24: 40, MinSlash24: 20,
			Users: &Users{Estimate: 800, Share: 0.5, Country: "KG", Source: "apnic", Date: day}}, // users in another country
	}}
	ev.Impact()
	u := ev.Users
	if u == nil || u.Estimate != 500+500 || math.Abs(u.Share-(0.2+0.2)) > 1e-12 || !u.Date.Equal(older) || u.Country != "KZ" {
		t.Fatalf("users %+v: want 1000 users, 0.4, the older date", u)
	}
	lost := 50.0 + 50 + 50 + 20
	want := map[string]float64{AccessSourcePeeringDB: 50 / lost, AccessSourceCurated: 50 / lost, "": 50 / lost, AccessSourceName: 20 / lost}
	if len(ev.AccessSources) != len(want) {
		t.Fatalf("access sources %v, want %v", ev.AccessSources, want)
	}
	for k, v := range want {
		if math.Abs(ev.AccessSources[k]-v) > 1e-12 {
			t.Errorf("access sources %v, want %v", ev.AccessSources, want)
		}
	}

	// No estimate anywhere: absent, not zero; nothing lost: no split.
	none := Event{Country: "KZ", ASNs: []EventASN{{ASN: 3, BaselineSlash24: 10, MinSlash24: 10}}}
	none.Impact()
	if none.Users != nil || none.AccessSources != nil {
		t.Errorf("users %+v, sources %v: want both absent", none.Users, none.AccessSources)
	}
}
