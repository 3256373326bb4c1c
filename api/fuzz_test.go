package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/netguard"
)

// FuzzDecodeWebhook: any body either decodes into a valid subscription or
// is rejected with an error; it never panics.
func FuzzDecodeWebhook(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://hooks.example/in","countries":["kz"],"asns":[9198,"AS21299"],"min_drop_ratio":0.5}`,
		`{"url":"http://127.0.0.1:9/x","secret":"0123456789abcdef","format":"slack","scopes":["asn"],"access":["mobile"]}`,
		`{"url":"http://0x7f.1:5432/"}`, `{"url":"http://[::ffff:169.254.169.254]/"}`,
		`{"url":"ftp://x"}`, `{}`, `[]`, `null`, `{"asns":[1e99]}`, `{"url":"https://x","min_drop_ratio":-0}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sub, err := decodeWebhook(strings.NewReader(body), false)
		if err != nil {
			return
		}
		u, perr := url.Parse(sub.URL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("accepted URL %q", sub.URL)
		}
		if a, ok := netguard.ParseHost(u.Hostname()); ok && netguard.Check(a) != nil {
			t.Fatalf("accepted internal URL %q", sub.URL)
		}
		if sub.Secret != "" && len(sub.Secret) < minSecretLen {
			t.Fatalf("accepted short secret")
		}
		if sub.MinDropRatio < 0 || sub.MinDropRatio > 1 || (sub.Format != "json" && sub.Format != "slack") {
			t.Fatalf("accepted %+v", sub)
		}
		for _, c := range sub.Countries {
			if len(c) != 2 || strings.ToUpper(c) != c {
				t.Fatalf("accepted country %q", c)
			}
		}
		for _, a := range sub.ASNs {
			if a == 0 {
				t.Fatalf("accepted ASN 0")
			}
		}
	})
}

// FuzzQueryParams: the query decoders never panic and what they accept is
// in range.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{"from=2022-01-05T00:00:00Z&to=2022-01-06T00:00:00Z&step=3600",
		"step=1h", "limit=10&cursor=MTY0MTM2MTIwMDAwMDAwMC4x", "step=-300", "from=9999-12-31T23:59:59Z", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{Path: "/x", RawQuery: raw}, Header: http.Header{}}
		v, err := query(r, "from", "to", "step", "limit", "cursor", "format")
		if err != nil {
			return
		}
		if st, err := parseStep(v.Get("step")); err == nil && (st <= 0 || st%(5*time.Minute) != 0 || st > maxRange) {
			t.Fatalf("step %s accepted", st)
		}
		if n, err := parseLimit(v.Get("limit"), 100, maxLimit); err == nil && (n < 1 || n > maxLimit) {
			t.Fatalf("limit %d accepted", n)
		}
		if c, err := parseCursor(v.Get("cursor")); err == nil && len(c) > maxCursorLen {
			t.Fatalf("cursor accepted")
		}
		for _, k := range []string{"from", "to"} {
			if tm, err := parseTime(k, v.Get(k)); err == nil && !tm.IsZero() && (tm.Year() < 1990 || tm.Location() != time.UTC) {
				t.Fatalf("%s %v accepted", k, tm)
			}
		}
	})
}
