package api_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/netmeta"
)

// TestNetworkProvenance imports the metadata fixtures into the API
// fixture's database and reads access sources and users over HTTP: the
// user's CSV keeps AS9198 fixed (source user); AS21299 is the user's too;
// the users estimates come from APNIC at read time, also for the stored
// country event.
func TestNetworkProvenance(t *testing.T) {
	f := newFixture(t, nil)
	l, err := netmeta.LoadDir(filepath.Join("..", "netmeta", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ImportNetworkMeta(context.Background(), l.Datasets, l.Failed); err != nil {
		t.Fatal(err)
	}
	type asnBody struct {
		Access        string   `json:"access"`
		AccessSource  *string  `json:"access_source"`
		AccessDate    *string  `json:"access_date"`
		UsersEstimate *int64   `json:"users_estimate"`
		UsersShare    *float64 `json:"users_share"`
		UsersDate     string   `json:"users_date"`
	}
	res, b := f.do(t, "GET", "/v1/asns/9198", "")
	a := decode[asnBody](t, b)
	if res.StatusCode != http.StatusOK || a.Access != "fixed" || a.AccessSource == nil || *a.AccessSource != "user" ||
		a.UsersEstimate == nil || *a.UsersEstimate != 5610000 || a.UsersShare == nil || *a.UsersShare != 0.3912 || a.UsersDate != "2022-01-04" {
		t.Errorf("AS9198: %d %s", res.StatusCode, b)
	}
	res, b = f.do(t, "GET", "/v1/asns/48503", "")
	a = decode[asnBody](t, b)
	if res.StatusCode != http.StatusOK || a.Access != "mobile" || a.AccessSource == nil || *a.AccessSource != "curated" ||
		a.AccessDate == nil || *a.AccessDate == "" {
		t.Errorf("AS48503: %d %s", res.StatusCode, b)
	}
	res, b = f.do(t, "GET", "/v1/asns/35104", "")
	a = decode[asnBody](t, b)
	if res.StatusCode != http.StatusOK || a.Access != "transit" || a.UsersEstimate != nil || a.UsersShare != nil {
		t.Errorf("AS35104 (no APNIC row): users must be absent: %d %s", res.StatusCode, b)
	}

	type eventBody struct {
		UsersEstimate *int64             `json:"users_estimate"`
		UsersShare    *float64           `json:"users_share"`
		UsersNote     string             `json:"users_note"`
		AccessSources map[string]float64 `json:"access_sources"`
		ASNs          []struct {
			ASN          uint32  `json:"asn"`
			AccessSource *string `json:"access_source"`
		} `json:"asns"`
	}
	res, b = f.do(t, "GET", fmt.Sprintf("/v1/events/%d", f.countryEv), "")
	ev := decode[eventBody](t, b)
	// AS9198 lost 90 % of its /24s, AS21299 90 %: 0.9 × (5.61M + 3.21M).
	if res.StatusCode != http.StatusOK || ev.UsersEstimate == nil || *ev.UsersEstimate != 7938000 ||
		ev.UsersShare == nil || *ev.UsersShare != 0.5535 || ev.AccessSources["user"] != 1 {
		t.Fatalf("country event: %d %s", res.StatusCode, b)
	}
	if want := "networks serving about 55 % of Kazakhstan's Internet users (APNIC estimate, 2022-01-04)"; ev.UsersNote != want {
		t.Errorf("note %q, want %q", ev.UsersNote, want)
	}
	for _, a := range ev.ASNs {
		if a.AccessSource == nil || *a.AccessSource != "user" {
			t.Errorf("AS%d access source %v", a.ASN, a.AccessSource)
		}
	}
	// The CSV has the same figures in its last columns.
	res, b = f.do(t, "GET", "/v1/events?country=KZ&scope=country&format=csv", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), ",access_sources,users_estimate,users_share,users_date,time_zone") ||
		!strings.Contains(string(b), ",user:1,7938000,0.5535,2022-01-04,Asia/Almaty") {
		t.Errorf("events CSV:\n%s", b)
	}
	// An event without any estimate has no users fields at all.
	res, b = f.do(t, "GET", "/v1/events?country=UZ&limit=1", "")
	if res.StatusCode != http.StatusOK || strings.Contains(string(b), "users_estimate") || strings.Contains(string(b), "users_share") {
		t.Errorf("UZ events: %s", b)
	}
}
