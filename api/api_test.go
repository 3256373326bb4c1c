package api_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch/api"
)

type point struct {
	Time     time.Time `json:"time"`
	Prefixes int       `json:"visible_prefixes"`
	Slash24  int       `json:"visible_slash24"`
	V6       int       `json:"visible_v6_prefixes"`
}

type series struct {
	Country string    `json:"country"`
	ASN     *uint32   `json:"asn"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Step    int       `json:"step"`
	Points  []point   `json:"points"`
}

type event struct {
	ID        int64      `json:"id"`
	Scope     string     `json:"scope"`
	Country   string     `json:"country"`
	ASN       *uint32    `json:"asn"`
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	DropRatio float64    `json:"drop_ratio"`
	ASNs      []struct {
		ASN  uint32 `json:"asn"`
		Name string `json:"name"`
	} `json:"asns"`
	Withdrawn int `json:"withdrawn_prefixes"`
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t, nil)

	t.Run("health", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/health", "")
		h := decode[map[string]any](t, b)
		if res.StatusCode != 200 || h["status"] != "ok" || h["latest_bin"] != "2022-01-10T23:55:00Z" {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	})

	t.Run("countries", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/countries", "")
		v := decode[struct {
			Countries []struct {
				Code     string    `json:"code"`
				Name     string    `json:"name"`
				ASNs     int       `json:"asns"`
				Slash24  int       `json:"visible_slash24"`
				Prefixes int       `json:"visible_prefixes"`
				V6       int       `json:"visible_v6_prefixes"`
				Time     time.Time `json:"time"`
			} `json:"countries"`
		}](t, b)
		if res.StatusCode != 200 || len(v.Countries) != 2 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		kz := v.Countries[0]
		if kz.Code != "KZ" || kz.Name != "Kazakhstan" || kz.ASNs != 100 || kz.Slash24 != 1000 || kz.Prefixes != 500 || kz.V6 != 40 || !kz.Time.Equal(fxEnd) {
			t.Errorf("KZ = %+v", kz)
		}
		if v.Countries[1].Code != "UZ" || v.Countries[1].Slash24 != 800 {
			t.Errorf("UZ = %+v", v.Countries[1])
		}
		if res.Header.Get("ETag") == "" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") ||
			res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("X-Request-Id") == "" {
			t.Errorf("headers %v", res.Header)
		}
		// The Date header comes from a once-a-second cache.
		if d, err := http.ParseTime(res.Header.Get("Date")); err != nil || time.Since(d).Abs() > 2*time.Second {
			t.Errorf("Date %q: %v", res.Header.Get("Date"), err)
		}
	})

	t.Run("country series default window ends at the data", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/countries/kz/series", "")
		s := decode[series](t, b)
		if res.StatusCode != 200 || s.Step != 300 || s.Country != "KZ" {
			t.Fatalf("%d %s", res.StatusCode, b[:min(len(b), 300)])
		}
		// 7 days ending at the last bin: 2016 intervals, 2017 bins.
		if !s.To.Equal(fxEnd) || !s.From.Equal(fxEnd.Add(-7*24*time.Hour)) || len(s.Points) != 2017 {
			t.Fatalf("from %s to %s, %d points", s.From, s.To, len(s.Points))
		}
		for _, p := range s.Points {
			if p.Slash24 != kzCounts(p.Time).Slash24 || p.Prefixes != kzCounts(p.Time).Prefixes || p.V6 != kzCounts(p.Time).V6Prefixes {
				t.Fatalf("point %+v, want %+v", p, kzCounts(p.Time))
			}
		}
	})

	t.Run("country series explicit range and step keeps the drop", func(t *testing.T) {
		_, b := f.do(t, "GET", "/v1/countries/KZ/series?from=2022-01-05T00:00:00Z&to=2022-01-05T23:55:00Z&step=86400", "")
		s := decode[series](t, b)
		if len(s.Points) != 1 || s.Points[0].Slash24 != 100 || s.Step != 86400 {
			t.Fatalf("%s", b)
		}
		_, b = f.do(t, "GET", "/v1/countries/KZ/series?from=2022-01-05T00:00:00Z&to=2022-01-05T23:55:00Z&step=6h", "")
		s = decode[series](t, b)
		want := []int{1000, 100, 1000, 1000}
		if len(s.Points) != 4 {
			t.Fatalf("%s", b)
		}
		for i, p := range s.Points {
			if p.Slash24 != want[i] {
				t.Errorf("point %d = %d, want %d", i, p.Slash24, want[i])
			}
		}
	})

	t.Run("series clipped to stored history", func(t *testing.T) {
		_, b := f.do(t, "GET", "/v1/countries/KZ/series?from=2021-12-31T23:00:00Z&to=2022-01-01T01:00:00Z", "")
		s := decode[series](t, b)
		if len(s.Points) != 13 || !s.Points[0].Time.Equal(fxStart) {
			t.Fatalf("%d points, first %v", len(s.Points), s.Points)
		}
	})

	t.Run("asn series forward-filled from change points", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/asns/AS9198/series?from=2022-01-05T05:00:00Z&to=2022-01-05T13:00:00Z", "")
		s := decode[series](t, b)
		if res.StatusCode != 200 || s.ASN == nil || *s.ASN != 9198 || len(s.Points) != 97 {
			t.Fatalf("%d %s", res.StatusCode, b[:min(len(b), 300)])
		}
		for _, p := range s.Points {
			if p.Slash24 != asnCounts(p.Time).Slash24 || p.Prefixes != asnCounts(p.Time).Prefixes {
				t.Fatalf("point %+v, want %+v", p, asnCounts(p.Time))
			}
		}
	})

	t.Run("asn series default window", func(t *testing.T) {
		_, b := f.do(t, "GET", "/v1/asns/9198/series?step=3600", "")
		s := decode[series](t, b)
		// The ASN's latest row is the key frame of 2022-01-10 00:00.
		if !s.To.Equal(time.Date(2022, 1, 10, 0, 0, 0, 0, time.UTC)) || len(s.Points) != 169 || s.Points[len(s.Points)-1].Slash24 != 500 {
			t.Fatalf("to %s, %d points", s.To, len(s.Points))
		}
	})

	t.Run("series csv", func(t *testing.T) {
		f.csvBoth(t, "/v1/countries/KZ/series?from=2022-01-05T05:50:00Z&to=2022-01-05T06:05:00Z", [][]string{
			{"time", "visible_prefixes", "visible_slash24", "visible_v6_prefixes"},
			{"2022-01-05T05:50:00Z", "500", "1000", "40"}, {"2022-01-05T05:55:00Z", "500", "1000", "40"},
			{"2022-01-05T06:00:00Z", "50", "100", "5"}, {"2022-01-05T06:05:00Z", "50", "100", "5"}})
	})

	t.Run("asn", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/asns/as9198", "")
		v := decode[map[string]any](t, b)
		if res.StatusCode != 200 || v["asn"] != 9198.0 || v["name"] != "KAZTELECOM-AS" || v["country"] != "KZ" ||
			v["access"] != "fixed" || v["visible_slash24"] != 500.0 || v["time"] != "2022-01-10T23:55:00Z" {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		res, b = f.do(t, "GET", "/v1/asns/21299", "")
		v = decode[map[string]any](t, b)
		if res.StatusCode != 200 || v["access"] != "mobile" || v["visible_slash24"] != 0.0 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		res, _ = f.do(t, "GET", "/v1/asns/64512", "")
		if res.StatusCode != 404 {
			t.Errorf("unknown ASN: %d", res.StatusCode)
		}
	})

	t.Run("events list and pagination", func(t *testing.T) {
		_, b := f.do(t, "GET", "/v1/events?limit=3", "")
		v := decode[struct {
			Events []event `json:"events"`
			Next   *string `json:"next_cursor"`
		}](t, b)
		if len(v.Events) != 3 || v.Next == nil || v.Events[0].ID != f.asnEv || v.Events[1].ID != f.countryEv {
			t.Fatalf("%s", b)
		}
		seen := map[int64]bool{}
		for _, e := range v.Events {
			seen[e.ID] = true
		}
		cur := *v.Next
		for page := 0; cur != "" && page < 10; page++ {
			_, b := f.do(t, "GET", "/v1/events?limit=3&cursor="+cur, "")
			w := decode[struct {
				Events []event `json:"events"`
				Next   *string `json:"next_cursor"`
			}](t, b)
			for _, e := range w.Events {
				if seen[e.ID] {
					t.Fatalf("event %d twice", e.ID)
				}
				seen[e.ID] = true
			}
			cur = ""
			if w.Next != nil {
				cur = *w.Next
			}
		}
		if len(seen) != 7 {
			t.Errorf("paged through %d events, want 7", len(seen))
		}
	})

	t.Run("events filters", func(t *testing.T) {
		cases := []struct {
			q    string
			want int
		}{
			{"country=KZ", 2}, {"country=uz", 5}, {"scope=asn", 1}, {"asn=AS21299", 1}, {"asn=9198", 2},
			{"country=KZ&scope=country", 1}, {"from=2022-01-05T00:00:00Z", 2}, {"to=2022-01-01T02:00:00Z", 2},
			{"country=DE", 0},
		}
		for _, c := range cases {
			_, b := f.do(t, "GET", "/v1/events?"+c.q, "")
			v := decode[struct {
				Events []event `json:"events"`
			}](t, b)
			if len(v.Events) != c.want {
				t.Errorf("%s: %d events, want %d", c.q, len(v.Events), c.want)
			}
		}
	})

	t.Run("events csv", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/events?country=KZ&format=csv&limit=1", "")
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil || len(recs) != 2 || recs[1][0] != fmt.Sprint(f.asnEv) || recs[1][3] != "9198" || res.Header.Get("X-Next-Cursor") == "" ||
			!strings.Contains(res.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("%v %q %v", err, recs, res.Header)
		}
	})

	t.Run("event", func(t *testing.T) {
		res, b := f.do(t, "GET", fmt.Sprintf("/v1/events/%d", f.countryEv), "")
		e := decode[event](t, b)
		if res.StatusCode != 200 || e.Scope != "country" || e.Country != "KZ" || e.Status != "ended" || e.EndedAt == nil ||
			!e.EndedAt.Equal(fxDropEnd) || e.DropRatio != 0.9 || len(e.ASNs) != 2 || e.ASNs[0].Name != "KAZTELECOM-AS" || e.Withdrawn != 5 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		res, b = f.do(t, "GET", fmt.Sprintf("/v1/events/%d", f.asnEv), "")
		e = decode[event](t, b)
		if e.ASN == nil || *e.ASN != 9198 || e.Status != "ongoing" || e.EndedAt != nil || !strings.Contains(string(b), `"ended_at":null`) {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		res, _ = f.do(t, "GET", "/v1/events/999999", "")
		if res.StatusCode != 404 {
			t.Errorf("missing event: %d", res.StatusCode)
		}
	})

	t.Run("event prefixes paginated", func(t *testing.T) {
		var got []string
		path := fmt.Sprintf("/v1/events/%d/prefixes?limit=2", f.countryEv)
		for range 5 {
			_, b := f.do(t, "GET", path, "")
			v := decode[struct {
				Prefixes []struct {
					Prefix string `json:"prefix"`
					Origin uint32 `json:"origin_asn"`
				} `json:"prefixes"`
				Next *string `json:"next_cursor"`
			}](t, b)
			for _, p := range v.Prefixes {
				if p.Origin != 9198 {
					t.Errorf("origin %d", p.Origin)
				}
				got = append(got, p.Prefix)
			}
			if v.Next == nil {
				break
			}
			path = fmt.Sprintf("/v1/events/%d/prefixes?limit=2&cursor=%s", f.countryEv, *v.Next)
		}
		if strings.Join(got, " ") != "2.72.0.0/24 2.72.1.0/24 2.72.2.0/24 2.72.3.0/24 2.72.4.0/24" {
			t.Errorf("prefixes %v", got)
		}
	})

	t.Run("event prefixes csv", func(t *testing.T) {
		res, b := f.do(t, "GET", fmt.Sprintf("/v1/events/%d/prefixes?limit=2&format=csv", f.countryEv), "")
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		want := [][]string{{"prefix", "origin_asn", "withdrawn_at"},
			{"2.72.0.0/24", "9198", "2022-01-05T06:00:00Z"}, {"2.72.1.0/24", "9198", "2022-01-05T06:01:00Z"}}
		if err != nil || fmt.Sprint(recs) != fmt.Sprint(want) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Errorf("csv %v (%v), want %v", recs, err, want)
		}
		next := res.Header.Get("X-Next-Cursor")
		if link := res.Header.Get("Link"); next == "" || !strings.Contains(link, "cursor="+next) || !strings.Contains(link, "format=csv") {
			t.Errorf("next page: X-Next-Cursor %q, Link %q", next, link)
		}
	})

	t.Run("etag and 304", func(t *testing.T) {
		res, b := f.do(t, "GET", "/v1/countries/KZ/series", "")
		etag := res.Header.Get("ETag")
		res2, b2 := f.do(t, "GET", "/v1/countries/KZ/series", "", "If-None-Match", etag)
		if etag == "" || res2.StatusCode != http.StatusNotModified || len(b2) != 0 || len(b) == 0 {
			t.Fatalf("etag %q, second %d", etag, res2.StatusCode)
		}
		res3, _ := f.do(t, "GET", "/v1/countries/KZ/series", "", "If-None-Match", `"other"`)
		if res3.StatusCode != 200 {
			t.Errorf("other etag: %d", res3.StatusCode)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/countries/KZ/series", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("no gzip: %v", res.Header)
		}
	})

	t.Run("cors preflight", func(t *testing.T) {
		res, _ := f.do(t, "OPTIONS", "/v1/countries", "", "Origin", "https://news.example", "Access-Control-Request-Method", "GET")
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%d %v", res.StatusCode, res.Header)
		}
		res, _ = f.do(t, "GET", "/v1/webhooks", "", "Origin", "https://news.example", "Authorization", "Bearer "+adminToken)
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("admin endpoint sent CORS headers")
		}
	})

	t.Run("openapi", func(t *testing.T) {
		res, b := f.do(t, "GET", "/openapi.json", "")
		v := decode[map[string]any](t, b)
		if res.StatusCode != 200 || v["openapi"] != "3.1.0" {
			t.Fatalf("%d", res.StatusCode)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		f.metrics.AddObservations("replay", 42)
		f.metrics.SetLastObservation("replay", fxNow.Add(-time.Minute))
		res, b := f.do(t, "GET", "/metrics", "")
		body := string(b)
		for _, want := range []string{
			`bgpwatch_http_requests_total{code="200",method="GET",route="/v1/countries/{cc}/series"}`,
			`bgpwatch_http_request_duration_seconds_bucket{route="/v1/countries"`,
			`bgpwatch_ingest_total{kind="observations",source="replay"} 42`,
			`bgpwatch_last_observation_age_seconds{source="replay"} 60`,
			`bgpwatch_events{scope="country",status="ended"} 6`,
			`bgpwatch_events{scope="asn",status="ongoing"} 1`,
			`bgpwatch_webhook_queue_depth 0`,
			`bgpwatch_database_up 1`,
			`bgpwatch_series_last_bin_age_seconds`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if res.StatusCode != 200 {
			t.Errorf("%d", res.StatusCode)
		}
	})
}

func TestWebhookAdmin(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.WebhooksAllowPrivate = true }) // one receiver is on 127.0.0.1
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}

	res, b := f.do(t, "POST", "/v1/webhooks", `{"url":"https://hooks.example/in","countries":["kz"],"asns":[9198,"AS21299"],"scopes":["country"],"access":["mobile"],"min_drop_ratio":0.5,"format":"slack"}`, auth...)
	created := decode[map[string]any](t, b)
	secret, _ := created["secret"].(string)
	if res.StatusCode != 201 || len(secret) < 16 || created["format"] != "slack" || fmt.Sprint(created["asns"]) != "[9198 21299]" ||
		fmt.Sprint(created["countries"]) != "[KZ]" || res.Header.Get("Location") == "" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	id := int64(created["id"].(float64))
	res, b = f.do(t, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/x","secret":"0123456789abcdefXYZ"}`, auth...)
	if res.StatusCode != 201 || !strings.Contains(string(b), `"secret":"0123456789abcdefXYZ"`) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}

	res, b = f.do(t, "GET", "/v1/webhooks", "", auth...)
	list := decode[struct {
		Webhooks []map[string]any `json:"webhooks"`
	}](t, b)
	if res.StatusCode != 200 || len(list.Webhooks) != 2 || strings.Contains(string(b), "secret") || strings.Contains(string(b), secret) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}

	res, b = f.do(t, "GET", fmt.Sprintf("/v1/webhooks/%d/deliveries", id), "", auth...)
	if res.StatusCode != 200 || !strings.Contains(string(b), `"deliveries":[]`) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	res, _ = f.do(t, "DELETE", fmt.Sprintf("/v1/webhooks/%d", id), "", auth...)
	if res.StatusCode != 204 {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	res, _ = f.do(t, "DELETE", fmt.Sprintf("/v1/webhooks/%d", id), "", auth...)
	if res.StatusCode != 404 {
		t.Fatalf("delete again: %d", res.StatusCode)
	}
	res, _ = f.do(t, "GET", fmt.Sprintf("/v1/webhooks/%d/deliveries", id), "", auth...)
	if res.StatusCode != 404 {
		t.Fatalf("deliveries of deleted: %d", res.StatusCode)
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.AdminToken = "" })
	for _, tok := range []string{"", "Bearer ", "Bearer x"} {
		res, b := f.do(t, "GET", "/v1/webhooks", "", "Authorization", tok)
		if res.StatusCode != 403 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("token %q: %d %s", tok, res.StatusCode, b)
		}
	}
}

// TestWebhookSecretValidation: a secret must be 16 to 256 bytes of valid
// UTF-8 without control characters, else 400 naming the field (a NUL byte
// used to reach the database and give 500; invalid UTF-8 used to be stored
// as U+FFFD, so that no signature could verify).
func TestWebhookSecretValidation(t *testing.T) {
	f := newFixture(t, nil)
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	body := func(secretJSON string) string {
		return `{"url":"https://hooks.example/in","secret":` + secretJSON + `}`
	}
	good := "0123456789abcdef"
	for _, tc := range []struct {
		name, body, detail string
	}{
		{"NUL escaped", body(`"` + good + `\u0000"`), "secret: control character U+0000"},
		{"NUL raw", body("\"" + good + "\x00\""), "body:"}, // raw NUL is not valid JSON
		{"newline", body(`"` + good + `\n"`), "secret: control character U+000A"},
		{"tab", body(`"` + good + `\t"`), "secret: control character U+0009"},
		{"DEL", body(`"` + good + "\x7f\""), "secret: control character U+007F"},
		{"C1 control", body(`"` + good + `\u0085"`), "secret: control character U+0085"},
		{"invalid UTF-8", body("\"" + good + "\xff\xfe\""), "secret: not valid UTF-8"},
		{"lone surrogate", body(`"` + good + `\ud800"`), "secret: not valid UTF-8"},
		{"too short", body(`"short"`), "secret: want at least 16 bytes"},
		{"too long", body(`"` + strings.Repeat("s", 257) + `"`), "secret: longer than 256 bytes"},
		{"not a string", body(`12345678901234567890`), "secret: want a string"},
		{"invalid UTF-8 elsewhere", `{"url":"https://hooks.example/in` + "\xff" + `","secret":"` + good + `"}`, "body: not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b := f.do(t, "POST", "/v1/webhooks", tc.body, auth...)
			p := decode[api.Problem](t, b)
			if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.HasPrefix(p.Detail, "invalid "+tc.detail) {
				t.Fatalf("%d %s; want 400 with detail %q...", res.StatusCode, b, tc.detail)
			}
		})
	}
	// Printable non-ASCII is a fine secret, kept byte for byte.
	res, b := f.do(t, "POST", "/v1/webhooks", body(`"geheimnis-schlüssel-ü€"`), auth...)
	if res.StatusCode != 201 || !strings.Contains(string(b), `"secret":"geheimnis-schlüssel-ü€"`) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

// TestCSVOnEveryReadEndpoint: every data read endpoint answers CSV both to
// ?format=csv and to Accept: text/csv. The router is walked so that a new
// read route without CSV fails here.
func TestCSVOnEveryReadEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	ev := fmt.Sprint(f.countryEv)
	paths := map[string]string{
		"/v1/countries":                "/v1/countries",
		"/v1/countries/{cc}/series":    "/v1/countries/KZ/series?from=2022-01-05T05:50:00Z&to=2022-01-05T06:05:00Z",
		"/v1/countries/{cc}/asns":      "/v1/countries/KZ/asns",
		"/v1/asns/{asn}":               "/v1/asns/9198",
		"/v1/asns/{asn}/series":        "/v1/asns/9198/series?from=2022-01-05T05:50:00Z&to=2022-01-05T06:05:00Z",
		"/v1/events":                   "/v1/events",
		"/v1/events/{id}":              "/v1/events/" + ev,
		"/v1/events/{id}/prefixes":     "/v1/events/" + ev + "/prefixes",
		"/v1/health":                   "", // status, not data
		"/v1/peers":                    "",
		"/v1/webhooks":                 "", // admin
		"/v1/webhooks/{id}/deliveries": "",
		"/v1/countries/{cc}/chart.svg": "", // images
		"/v1/asns/{asn}/chart.svg":     "",
	}
	err := chi.Walk(f.api.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != "GET" || !strings.HasPrefix(route, "/v1/") {
			return nil
		}
		if _, ok := paths[route]; !ok {
			t.Errorf("read route %s: not in this test; add it with a sample path if it serves data", route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for route, path := range paths {
		if path == "" {
			continue
		}
		t.Run(route, func(t *testing.T) {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			for _, how := range []struct {
				path string
				hdr  []string
			}{{path + sep + "format=csv", nil}, {path, []string{"Accept", "text/csv"}}} {
				res, b := f.do(t, "GET", how.path, "", how.hdr...)
				recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
				if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || err != nil || len(recs) < 2 {
					t.Errorf("%s %v: %d %s, %d records (%v): %.200s", how.path, how.hdr, res.StatusCode, res.Header.Get("Content-Type"), len(recs), err, b)
				}
			}
		})
	}
	// The single-object endpoints: one row with the JSON's values; an
	// event's row is its row of /v1/events.
	res, b := f.do(t, "GET", "/v1/asns/9198?format=csv", "")
	if want := "asn,name,country,access,time,visible_prefixes,visible_slash24,visible_v6_prefixes\n" +
		"9198,KAZTELECOM-AS,KZ,fixed,2022-01-10T23:55:00Z,250,500,20\n"; res.StatusCode != 200 || string(b) != want {
		t.Errorf("/v1/asns/9198 CSV:\n%s\nwant:\n%s", b, want)
	}
	_, one := f.do(t, "GET", "/v1/events/"+ev+"?format=csv", "")
	_, all := f.do(t, "GET", "/v1/events?format=csv", "")
	lines := strings.Split(string(one), "\n")
	if len(lines) != 3 || lines[2] != "" || !strings.HasPrefix(string(all), lines[0]+"\n") || !strings.Contains(string(all), "\n"+lines[1]+"\n") ||
		!strings.HasPrefix(lines[1], ev+",country,KZ,") {
		t.Errorf("/v1/events/%s CSV:\n%s\nnot a row of /v1/events:\n%s", ev, one, all)
	}
}

// TestCacheByteBudget: clients asking for series with a different from=
// each must not grow the response cache past its byte budget (they used
// to, up to 4096 entries of whatever size). Measured with the cache's own
// accounting, which /metrics reports.
func TestCacheByteBudget(t *testing.T) {
	const budget = 128 << 10
	f := newFixture(t, func(c *api.Config) { c.CacheTTL = time.Hour; c.CacheMaxBytes = budget })
	from := fxStart
	var total int
	for i := range 40 {
		fr := from.Add(time.Duration(i) * 5 * time.Minute)
		path := "/v1/countries/KZ/series?from=" + fr.Format(time.RFC3339) + "&to=" + fr.Add(24*time.Hour).Format(time.RFC3339)
		hdr := []string{}
		if i%2 == 1 {
			hdr = []string{"Accept-Encoding", "gzip"}
		}
		res, b := f.do(t, "GET", path, "", hdr...)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		total += len(b)
		if st := f.api.CacheStats(); st.Bytes > budget || st.Entries == 0 {
			t.Fatalf("after %d requests (%d bytes of bodies): cache %+v, budget %d", i+1, total, st, budget)
		}
	}
	st := f.api.CacheStats()
	if total < 4*budget || st.Evictions == 0 || st.Bytes < budget/2 {
		t.Errorf("%d bytes of bodies through a %d-byte cache: %+v", total, budget, st)
	}
	// The same numbers in /metrics.
	_, b := f.do(t, "GET", "/metrics", "")
	for _, m := range []string{
		"bgpwatch_api_cache_bytes " + strconv.FormatInt(f.api.CacheStats().Bytes, 10),
		"bgpwatch_api_cache_max_bytes 131072",
		"bgpwatch_api_cache_entries ",
		"bgpwatch_api_cache_evictions_total ",
	} {
		if !strings.Contains(string(b), "\n"+m) {
			t.Errorf("/metrics has no %q", m)
		}
	}
}

// TestWebhookInternalURLRefused: a webhook URL whose host is an internal
// IP address, in any spelling a resolver accepts, is refused with 400
// unless private receivers are allowed. (Names are checked when delivery
// dials them: see package webhook.)
func TestWebhookInternalURLRefused(t *testing.T) {
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	urls := map[string]string{
		"http://127.0.0.1:5432/":                  "loopback",
		"http://[::1]/x":                          "loopback",
		"http://169.254.169.254/latest/meta-data": "link-local",
		"http://2130706433/":                      "loopback",
		"http://0x7f000001/":                      "loopback",
		"http://0177.0.0.1/":                      "loopback",
		"http://127.1:8080/":                      "loopback",
		"https://10.0.0.5/hook":                   "private",
		"http://172.16.3.4/":                      "private",
		"http://192.168.1.1/":                     "private",
		"http://[fd00::1]/":                       "unique-local",
		"http://[fe80::1]/":                       "link-local",
		"http://224.0.0.1/":                       "multicast",
		"http://0.0.0.0:8080/":                    "unspecified",
		"http://[::]/":                            "unspecified",
		"http://100.64.0.1/":                      "carrier-grade NAT",
		"http://[::ffff:127.0.0.1]/":              "loopback",
		"http://[::ffff:a9fe:a9fe]/":              "link-local",
	}
	f := newFixture(t, nil)
	for u, rng := range urls {
		res, b := f.do(t, "POST", "/v1/webhooks", `{"url":"`+u+`"}`, auth...)
		p := decode[api.Problem](t, b)
		if res.StatusCode != 400 || !strings.HasPrefix(p.Detail, "invalid url: host ") || !strings.Contains(p.Detail, rng) ||
			!strings.Contains(p.Detail, "internal addresses are refused") {
			t.Errorf("%s: %d %s", u, res.StatusCode, b)
		}
	}
	// Public addresses and names are accepted.
	for _, u := range []string{"https://hooks.example/in", "http://8.8.8.8/", "http://[2001:4860::1]/", "http://localhost.example/"} {
		if res, b := f.do(t, "POST", "/v1/webhooks", `{"url":"`+u+`"}`, auth...); res.StatusCode != 201 {
			t.Errorf("%s: %d %s", u, res.StatusCode, b)
		}
	}
	// The opt-in accepts them all.
	f = newFixture(t, func(c *api.Config) { c.WebhooksAllowPrivate = true })
	for u := range urls {
		if res, b := f.do(t, "POST", "/v1/webhooks", `{"url":"`+u+`"}`, auth...); res.StatusCode != 201 {
			t.Errorf("allowed %s: %d %s", u, res.StatusCode, b)
		}
	}
}
