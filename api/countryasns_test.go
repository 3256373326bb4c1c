package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

type countryASNs struct {
	Country      string     `json:"country"`
	Name         string     `json:"name"`
	Time         *time.Time `json:"time"`
	BaselineFrom *time.Time `json:"baseline_from"`
	Total        int        `json:"total"`
	ASNs         []struct {
		ASN      uint32 `json:"asn"`
		Name     string `json:"name"`
		Access   string `json:"access"`
		Slash24  int    `json:"visible_slash24"`
		Baseline *int   `json:"baseline_slash24"`
		Prefixes int    `json:"visible_prefixes"`
		V6       int    `json:"visible_v6_prefixes"`
		EventID  *int64 `json:"event_id"`
	} `json:"asns"`
}

// TestCountryASNs reads the networks of Kazakhstan in the fixture over
// HTTP: AS9198 (series; its own event ongoing from 06:05 on 5 January, as
// stored) and AS21299 (registered, no series).
func TestCountryASNs(t *testing.T) {
	f := newFixture(t, nil)
	str := func(p *int) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	id := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	// One line per network: asn name access /24s baseline prefixes v6 event.
	line := func(v countryASNs) string {
		var b strings.Builder
		for _, a := range v.ASNs {
			fmt.Fprintf(&b, "%d %s %s %d %s %d %d %d\n", a.ASN, a.Name, a.Access, a.Slash24, str(a.Baseline), a.Prefixes, a.V6, id(a.EventID))
		}
		return b.String()
	}
	ev := f.asnEv
	cases := []struct {
		name, query string
		time        time.Time // zero: null
		from        time.Time
		want        string
	}{
		{"latest", "", fxEnd, fxEnd.Add(-24 * time.Hour),
			fmt.Sprintf("9198 KAZTELECOM-AS fixed 500 500 250 20 %d\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n", ev)},
		{"in the shutdown: the event's baseline", "?at=2022-01-05T09:00:00Z", fxDropStart.Add(3 * time.Hour), fxDropStart.Add(-21 * time.Hour),
			fmt.Sprintf("9198 KAZTELECOM-AS fixed 50 500 25 2 %d\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n", ev)},
		{"first bin of the drop, before the event: median of the day", "?at=2022-01-05T06:02:30%2B00:00", fxDropStart, fxDropStart.Add(-24 * time.Hour),
			"9198 KAZTELECOM-AS fixed 50 500 25 2 0\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n"},
		{"window cut to the history", "?at=2022-01-01T02:00:00Z", fxStart.Add(2 * time.Hour), fxStart,
			"9198 KAZTELECOM-AS fixed 500 500 250 20 0\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n"},
		{"first stored bin: no baseline", "?at=2022-01-01T00:00:00Z", fxStart, fxStart,
			"9198 KAZTELECOM-AS fixed 500 null 250 20 0\n21299 KAR-TEL-AS mobile 0 null 0 0 0\n"},
		{"after the history: the latest", "?at=2030-01-01T00:00:00Z", fxEnd, fxEnd.Add(-24 * time.Hour),
			fmt.Sprintf("9198 KAZTELECOM-AS fixed 500 500 250 20 %d\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n", ev)},
		{"before the history: registry only", "?at=2021-06-01T00:00:00Z", time.Time{}, time.Time{},
			"9198 KAZTELECOM-AS fixed 0 null 0 0 0\n21299 KAR-TEL-AS mobile 0 null 0 0 0\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, b := f.do(t, "GET", "/v1/countries/kz/asns"+tc.query, "")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), b)
			}
			v := decode[countryASNs](t, b)
			if v.Country != "KZ" || v.Name != "Kazakhstan" {
				t.Errorf("country %q %q", v.Country, v.Name)
			}
			if tc.time.IsZero() != (v.Time == nil) || v.Time != nil && !v.Time.Equal(tc.time) {
				t.Errorf("time %v, want %v", v.Time, tc.time)
			}
			if tc.from.IsZero() != (v.BaselineFrom == nil) || v.BaselineFrom != nil && !v.BaselineFrom.Equal(tc.from) {
				t.Errorf("baseline_from %v, want %v", v.BaselineFrom, tc.from)
			}
			if got := line(v); got != tc.want {
				t.Errorf("networks:\n%s\nwant:\n%s", got, tc.want)
			}
			if v.Total != 2 {
				t.Errorf("total %d, want 2", v.Total)
			}
		})
	}

	t.Run("limit keeps the largest", func(t *testing.T) {
		for _, tc := range []struct {
			query, want string
		}{
			{"?limit=1", fmt.Sprintf("9198 KAZTELECOM-AS fixed 500 500 250 20 %d\n", ev)},
			{"?limit=2", fmt.Sprintf("9198 KAZTELECOM-AS fixed 500 500 250 20 %d\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n", ev)},
			{"?limit=100000", fmt.Sprintf("9198 KAZTELECOM-AS fixed 500 500 250 20 %d\n21299 KAR-TEL-AS mobile 0 0 0 0 0\n", ev)},
		} {
			res, b := f.do(t, "GET", "/v1/countries/KZ/asns"+tc.query, "")
			v := decode[countryASNs](t, b)
			if res.StatusCode != http.StatusOK || v.Total != 2 || line(v) != tc.want {
				t.Errorf("%s: %d total %d networks:\n%s\nwant:\n%s", tc.query, res.StatusCode, v.Total, line(v), tc.want)
			}
		}
		f.csvBoth(t, "/v1/countries/KZ/asns?at=2022-01-05T09:00:00Z&limit=1", [][]string{
			{"asn", "name", "access", "visible_slash24", "baseline_slash24", "visible_prefixes", "visible_v6_prefixes", "event_id",
				"access_source", "access_date", "users_estimate", "users_share"},
			{"9198", "KAZTELECOM-AS", "fixed", "50", "500", "25", "2", fmt.Sprint(ev), "user", "", "", ""},
		})
	})

	t.Run("csv", func(t *testing.T) {
		f.csvBoth(t, "/v1/countries/KZ/asns?at=2022-01-05T09:00:00Z", [][]string{
			{"asn", "name", "access", "visible_slash24", "baseline_slash24", "visible_prefixes", "visible_v6_prefixes", "event_id",
				"access_source", "access_date", "users_estimate", "users_share"},
			{"9198", "KAZTELECOM-AS", "fixed", "50", "500", "25", "2", fmt.Sprint(ev), "user", "", "", ""},
			{"21299", "KAR-TEL-AS", "mobile", "0", "0", "0", "0", "", "user", "", "", ""},
		})
	})

	t.Run("a known country without networks", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/countries/DE/asns", "")
		v := decode[countryASNs](t, b)
		if res.StatusCode != http.StatusOK || v.Name != "Germany" || v.ASNs == nil || len(v.ASNs) != 0 || v.Total != 0 {
			t.Errorf("%d %s", res.StatusCode, b)
		}
	})

	t.Run("etag and 304", func(t *testing.T) {
		res, _ := f.do(t, "GET", "/v1/countries/KZ/asns", "")
		etag := res.Header.Get("ETag")
		res2, b2 := f.do(t, "GET", "/v1/countries/KZ/asns", "", "If-None-Match", etag)
		if etag == "" || res2.StatusCode != http.StatusNotModified || len(b2) != 0 || !strings.Contains(res.Header.Get("Cache-Control"), "max-age=") {
			t.Errorf("etag %q, second %d, Cache-Control %q", etag, res2.StatusCode, res.Header.Get("Cache-Control"))
		}
	})
}

// TestCSVFormulaInjection: network names are chosen by the networks
// themselves; one that is a spreadsheet formula must reach a newsroom
// spreadsheet as text (prefixed with a single quote and quoted).
func TestCSVFormulaInjection(t *testing.T) {
	f := newFixture(t, nil)
	const evil = `=HYPERLINK("http://x","y")`
	if err := f.db.UpsertASNs(context.Background(), []bgpwatch.ASNInfo{
		{ASN: 9198, Name: evil, Country: "KZ", Access: bgpwatch.AccessFixed},
		{ASN: 21299, Name: "@SUM(1+1)", Country: "KZ", Access: bgpwatch.AccessMobile},
	}); err != nil {
		t.Fatal(err)
	}
	res, b := f.do(t, "GET", "/v1/countries/KZ/asns?at=2022-01-05T09:00:00Z&format=csv", "")
	body := string(b)
	if res.StatusCode != 200 || !strings.Contains(body, `"'=HYPERLINK(""http://x"",""y"")"`) || !strings.Contains(body, `"'@SUM(1+1)"`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs[1:] {
		names = append(names, r[1])
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{"'" + evil, "'@SUM(1+1)"}) {
		t.Errorf("names %q", names)
	}
	// JSON is not a spreadsheet: the name is given as it is.
	_, b = f.do(t, "GET", "/v1/countries/KZ/asns?at=2022-01-05T09:00:00Z", "")
	if !strings.Contains(string(b), `"name":"=HYPERLINK(\"http://x\",\"y\")"`) {
		t.Errorf("JSON: %s", b)
	}
}
