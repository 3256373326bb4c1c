package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/web"
)

// TestHostileInput sends malformed and malicious requests: each must get a
// 4xx application/problem+json answer, never a 5xx.
func TestHostileInput(t *testing.T) {
	f := newFixture(t, nil)
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"country too long", "GET", "/v1/countries/KAZ/series", "", nil, 400},
		{"country digits", "GET", "/v1/countries/K1/series", "", nil, 400},
		{"country sql", "GET", "/v1/countries/'%3B%20DROP%20TABLE%20events%3B--/series", "", nil, 400},
		{"country unicode", "GET", "/v1/countries/%C3%A9%C3%A9/series", "", nil, 400},
		{"asn not a number", "GET", "/v1/asns/ASX/series", "", nil, 400},
		{"asn too big", "GET", "/v1/asns/4294967296", "", nil, 400},
		{"asn negative", "GET", "/v1/asns/-1/series", "", nil, 400},
		{"asn zero", "GET", "/v1/asns/0", "", nil, 400},
		{"asn sql", "GET", "/v1/asns/1%20OR%201=1", "", nil, 400},
		{"from not a time", "GET", "/v1/countries/KZ/series?from=yesterday", "", nil, 400},
		{"from without zone", "GET", "/v1/countries/KZ/series?from=2022-01-05T00:00:00", "", nil, 400},
		{"from after to", "GET", "/v1/countries/KZ/series?from=2022-01-06T00:00:00Z&to=2022-01-05T00:00:00Z", "", nil, 400},
		{"from equals to", "GET", "/v1/countries/KZ/series?from=2022-01-06T00:00:00Z&to=2022-01-06T00:00:00Z", "", nil, 400},
		{"huge range", "GET", "/v1/countries/KZ/series?from=2000-01-01T00:00:00Z&to=2022-01-05T00:00:00Z", "", nil, 400},
		{"too many points", "GET", "/v1/countries/KZ/series?from=2021-01-01T00:00:00Z&to=2022-01-05T00:00:00Z", "", nil, 400},
		{"year 0", "GET", "/v1/countries/KZ/series?from=0000-01-01T00:00:00Z", "", nil, 400},
		{"step not multiple", "GET", "/v1/countries/KZ/series?step=299", "", nil, 400},
		{"step negative", "GET", "/v1/countries/KZ/series?step=-300", "", nil, 400},
		{"step zero", "GET", "/v1/countries/KZ/series?step=0", "", nil, 400},
		{"step overflow", "GET", "/v1/countries/KZ/series?step=99999999999999999999", "", nil, 400},
		{"unknown parameter", "GET", "/v1/countries/KZ/series?form=2022-01-05T00:00:00Z", "", nil, 400},
		{"repeated parameter", "GET", "/v1/events?country=KZ&country=UZ", "", nil, 400},
		{"networks country digits", "GET", "/v1/countries/K1/asns", "", nil, 400},
		{"networks country script", "GET", "/v1/countries/%3Cscript%3E/asns", "", nil, 400},
		{"networks country sql", "GET", "/v1/countries/K'%3B%20DROP%20TABLE%20asns%3B--/asns", "", nil, 400},
		{"networks unknown country", "GET", "/v1/countries/ZZ/asns", "", nil, 404},
		{"networks at not a time", "GET", "/v1/countries/KZ/asns?at=yesterday", "", nil, 400},
		{"networks limit zero", "GET", "/v1/countries/KZ/asns?limit=0", "", nil, 400},
		{"networks limit negative", "GET", "/v1/countries/KZ/asns?limit=-5", "", nil, 400},
		{"networks limit too big", "GET", "/v1/countries/KZ/asns?limit=100001", "", nil, 400},
		{"networks limit not a number", "GET", "/v1/countries/KZ/asns?limit=1e3", "", nil, 400},
		{"networks limit twice", "GET", "/v1/countries/KZ/asns?limit=1&limit=2", "", nil, 400},
		{"networks at without zone", "GET", "/v1/countries/KZ/asns?at=2022-01-05T00:00:00", "", nil, 400},
		{"networks at year 9999", "GET", "/v1/countries/KZ/asns?at=9999-12-31T23:59:59Z", "", nil, 400},
		{"networks at repeated", "GET", "/v1/countries/KZ/asns?at=2022-01-05T00:00:00Z&at=2022-01-06T00:00:00Z", "", nil, 400},
		{"networks unknown parameter", "GET", "/v1/countries/KZ/asns?cursor=abc", "", nil, 400},
		{"networks wrong method", "POST", "/v1/countries/KZ/asns", "", nil, 405},
		{"bad escape", "GET", "/v1/events?country=%zz", "", nil, 400},
		{"events bad country", "GET", "/v1/events?country=Kazakhstan", "", nil, 400},
		{"events bad scope", "GET", "/v1/events?scope=planet", "", nil, 400},
		{"events negative limit", "GET", "/v1/events?limit=-1", "", nil, 400},
		{"events zero limit", "GET", "/v1/events?limit=0", "", nil, 400},
		{"events huge limit", "GET", "/v1/events?limit=1000000", "", nil, 400},
		{"events limit text", "GET", "/v1/events?limit=ten", "", nil, 400},
		{"cursor garbage", "GET", "/v1/events?cursor=!!!", "", nil, 400},
		{"cursor base64 of junk", "GET", "/v1/events?cursor=aGVsbG8", "", nil, 400},
		{"cursor sql", "GET", "/v1/events?cursor=%27%20OR%201%3D1--", "", nil, 400},
		{"cursor too long", "GET", "/v1/events?cursor=" + strings.Repeat("A", 600), "", nil, 400},
		{"prefix cursor junk", "GET", "/v1/events/1/prefixes?cursor=Zm9vYmFy", "", nil, 400},
		{"event id text", "GET", "/v1/events/abc", "", nil, 400},
		{"event id negative", "GET", "/v1/events/-5", "", nil, 400},
		{"event id overflow", "GET", "/v1/events/99999999999999999999", "", nil, 400},
		{"event missing", "GET", "/v1/events/424242", "", nil, 404},
		{"prefixes of missing event", "GET", "/v1/events/424242/prefixes", "", nil, 404},
		{"overlong path", "GET", "/v1/countries/" + long, "", nil, 404},
		{"overlong query", "GET", "/v1/events?country=" + long, "", nil, 400},
		{"unknown route", "GET", "/v2/countries", "", nil, 404},
		{"path traversal", "GET", "/v1/../../etc/passwd", "", nil, 404},
		{"wrong method on series", "POST", "/v1/countries/KZ/series", "", nil, 405},
		{"wrong method on events", "DELETE", "/v1/events/1", "", nil, 405},
		{"wrong method on health", "PUT", "/v1/health", "", nil, 405},
		{"admin without token", "GET", "/v1/webhooks", "", nil, 401},
		{"admin wrong token", "GET", "/v1/webhooks", "", []string{"Authorization", "Bearer wrong"}, 401},
		{"admin basic auth", "GET", "/v1/webhooks", "", []string{"Authorization", "Basic " + adminToken}, 401},
		{"admin token prefix", "GET", "/v1/webhooks", "", []string{"Authorization", "Bearer " + adminToken[:10]}, 401},
		{"delete without token", "DELETE", "/v1/webhooks/1", "", nil, 401},
		{"post without token", "POST", "/v1/webhooks", `{"url":"https://x.example"}`, nil, 401},
		{"body not json", "POST", "/v1/webhooks", `url=https://x.example`, auth, 400},
		{"body empty", "POST", "/v1/webhooks", ``, auth, 400},
		{"body truncated", "POST", "/v1/webhooks", `{"url":"https://x.example"`, auth, 400},
		{"body two values", "POST", "/v1/webhooks", `{"url":"https://x.example"}{}`, auth, 400},
		{"body unknown field", "POST", "/v1/webhooks", `{"url":"https://x.example","evil":1}`, auth, 400},
		{"body wrong types", "POST", "/v1/webhooks", `{"url":123}`, auth, 400},
		{"url ftp", "POST", "/v1/webhooks", `{"url":"ftp://x.example/"}`, auth, 400},
		{"url relative", "POST", "/v1/webhooks", `{"url":"/hook"}`, auth, 400},
		{"url javascript", "POST", "/v1/webhooks", `{"url":"javascript:alert(1)"}`, auth, 400},
		{"url credentials", "POST", "/v1/webhooks", `{"url":"https://u:p@x.example/"}`, auth, 400},
		{"secret short", "POST", "/v1/webhooks", `{"url":"https://x.example","secret":"short"}`, auth, 400},
		{"bad country filter", "POST", "/v1/webhooks", `{"url":"https://x.example","countries":["KAZ"]}`, auth, 400},
		{"bad asn filter", "POST", "/v1/webhooks", `{"url":"https://x.example","asns":[-1]}`, auth, 400},
		{"fractional asn", "POST", "/v1/webhooks", `{"url":"https://x.example","asns":[1.5]}`, auth, 400},
		{"bad scope filter", "POST", "/v1/webhooks", `{"url":"https://x.example","scopes":["galaxy"]}`, auth, 400},
		{"bad access filter", "POST", "/v1/webhooks", `{"url":"https://x.example","access":["satellite"]}`, auth, 400},
		{"drop ratio above 1", "POST", "/v1/webhooks", `{"url":"https://x.example","min_drop_ratio":2}`, auth, 400},
		{"bad format", "POST", "/v1/webhooks", `{"url":"https://x.example","format":"xml"}`, auth, 400},
		{"wrong content type", "POST", "/v1/webhooks", `{"url":"https://x.example"}`, []string{"Authorization", "Bearer " + adminToken, "Content-Type", "text/plain"}, 400},
		{"body too large", "POST", "/v1/webhooks", `{"url":"https://x.example","secret":"` + strings.Repeat("s", 100<<10) + `"}`, auth, 413},
		{"delete bad id", "DELETE", "/v1/webhooks/abc", "", auth, 400},
		{"delete missing", "DELETE", "/v1/webhooks/999", "", auth, 404},
		{"deliveries bad cursor", "GET", "/v1/webhooks/1/deliveries?cursor=-1", "", auth, 400},
		{"deliveries bad limit", "GET", "/v1/webhooks/1/deliveries?limit=5000", "", auth, 400},
		{"peers without live", "GET", "/v1/peers", "", nil, 503},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, b := f.do(t, c.method, c.path, c.body, c.hdr...)
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			if res.StatusCode >= 500 && c.status < 500 {
				t.Errorf("server error")
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Status != res.StatusCode || p.Type == "" || p.Title == "" {
				t.Errorf("problem %s (%v)", b, err)
			}
		})
	}
	// The database survived.
	res, b := f.do(t, "GET", "/v1/events?country=KZ", "")
	if res.StatusCode != 200 || !strings.Contains(string(b), `"country":"KZ"`) {
		t.Fatalf("after hostile input: %d %s", res.StatusCode, b)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.RateLimit = 3 })
	var codes []int
	for range 5 {
		res, _ := f.do(t, "GET", "/v1/health", "")
		codes = append(codes, res.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Errorf("codes %v", codes)
	}
}

// TestOpenAPIMatchesRoutes checks that every route is documented and
// every documented path is routed, with the same methods.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv := api.New(api.Config{Now: func() time.Time { return fxNow },
		Mount: func(r chi.Router, we func(http.ResponseWriter, *http.Request, error)) {
			web.New(nil, nil, web.WithErrorWriter(we)).Mount(r)
		}})
	res := newRecorder()
	srv.ServeHTTP(res, mustRequest(t, "GET", "/openapi.json"))
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(res.body.Bytes(), &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	param := regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`)
	err := chi.Walk(srv.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.Replace(param.ReplaceAllString(route, "{$1}"), "/*", "/{path}", 1)
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which is not routed", d)
		}
	}
	if len(routed) < 18 {
		t.Errorf("only %d routes", len(routed))
	}
}
