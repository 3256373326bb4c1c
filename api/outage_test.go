package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store"
)

// outageAPI is an API server over a database that a test takes away
// (stopped, or hung), and a client that sends the admin token.
type outageAPI struct {
	t      *testing.T
	url    string
	client *http.Client
	// paths are the endpoints that read the database, one of each.
	paths []string
}

// answer is one response as the outage tests look at it.
type answer struct {
	code  int
	ctype string
	body  []byte
	took  time.Duration
}

// startOutageAPI fills db with the fixture and serves it; timeout is
// Config.QueryTimeout (0: the default).
func startOutageAPI(t *testing.T, db *store.DB, log *slog.Logger, timeout time.Duration) *outageAPI {
	t.Helper()
	countryEv, _ := fill(t, db)
	srv := httptest.NewServer(api.New(api.Config{
		Store: db, Webhooks: db, AdminToken: adminToken, Now: func() time.Time { return fxNow },
		Logger: log, Version: "test", QueryTimeout: timeout,
		// A mounted route (as the web page's charts are) that reads the
		// database in the request.
		Mount: func(r chi.Router, writeError func(http.ResponseWriter, *http.Request, error)) {
			r.Get("/test/mounted", func(w http.ResponseWriter, r *http.Request) {
				if err := db.Ping(r.Context()); err != nil {
					writeError(w, r, err)
					return
				}
				io.WriteString(w, "ok")
			})
		},
	}))
	t.Cleanup(srv.Close)
	return &outageAPI{t: t, url: srv.URL, client: &http.Client{Timeout: time.Minute}, paths: []string{
		"/v1/health",
		"/v1/countries",
		"/v1/countries/KZ/series",
		"/v1/countries/KZ/asns",
		"/v1/asns/9198",
		"/v1/asns/9198/series",
		"/v1/events",
		fmt.Sprintf("/v1/events/%d", countryEv),
		fmt.Sprintf("/v1/events/%d/prefixes", countryEv),
		"/v1/webhooks",
		"/v1/webhooks/1/deliveries",
		"/test/mounted",
	}}
}

// get fetches path. It may run on any goroutine: a failed request is an
// Errorf and a zero answer.
func (o *outageAPI) get(path string) answer {
	req, err := http.NewRequest("GET", o.url+path, nil)
	if err != nil {
		o.t.Errorf("%s: %v", path, err)
		return answer{}
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	began := time.Now()
	res, err := o.client.Do(req)
	if err != nil {
		o.t.Errorf("%s: %v", path, err)
		return answer{took: time.Since(began)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		o.t.Errorf("%s: %v", path, err)
	}
	return answer{res.StatusCode, res.Header.Get("Content-Type"), b, time.Since(began)}
}

// allOK checks that every path answers 200 (the webhook deliveries of a
// webhook that is not there: 404).
func (o *outageAPI) allOK(when string) {
	o.t.Helper()
	for _, p := range o.paths {
		if a := o.get(p); a.code != o.okCode(p) {
			o.t.Fatalf("%s: %s: %d %s", when, p, a.code, a.body)
		}
	}
}

func (o *outageAPI) okCode(path string) int {
	if strings.HasSuffix(path, "/deliveries") {
		return http.StatusNotFound
	}
	return http.StatusOK
}

// waitOK waits until every path answers as before the outage and
// returns the number of other answers on the way.
func (o *outageAPI) waitOK(within time.Duration) int {
	o.t.Helper()
	retries := 0
	deadline := time.Now().Add(within)
	for _, p := range o.paths {
		for {
			a := o.get(p)
			if a.code == o.okCode(p) {
				break
			}
			if time.Now().After(deadline) {
				o.t.Fatalf("%s still answers %d %s %v after the database was back", p, a.code, a.body, within)
			}
			retries++
			time.Sleep(20 * time.Millisecond)
		}
	}
	return retries
}
