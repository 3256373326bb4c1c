package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestDBHangAPI freezes the connection to the database (a server that
// hangs rather than refuses) and checks that every database-backed
// endpoint, the admin ones included, gives up after Config.QueryTimeout
// with a 503 problem, then answers again once the database is back.
func TestDBHangAPI(t *testing.T) {
	base := storetest.New(t)
	countryEv, _ := fill(t, base)
	hang, db := storetest.Hanging(t, base)
	const timeout = time.Second
	srv := httptest.NewServer(api.New(api.Config{
		Store: db, Webhooks: db, AdminToken: adminToken, Now: func() time.Time { return fxNow },
		Logger: slog.New(slog.DiscardHandler), Version: "test", QueryTimeout: timeout,
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: time.Minute}
	get := func(path string) (int, []byte, time.Duration) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		began := time.Now()
		res, err := client.Do(req) // Errorf, not Fatalf: called from goroutines
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return 0, nil, time.Since(began)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return res.StatusCode, b, time.Since(began)
	}
	paths := []string{
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
	}
	// Before: every answer is from the database (no 5xx). The response
	// cache is off (CacheTTL 0), so every request below asks it again.
	for _, p := range paths {
		if code, b, _ := get(p); code >= 500 {
			t.Fatalf("before the freeze: %s: %d %s", p, code, b)
		}
	}

	hang.Freeze()
	// Far above the 1 s timeout, far below "never": the bound is what is
	// tested, not the speed.
	const bound = 15 * time.Second
	// All at once: each waits for the timeout.
	type answer struct {
		code int
		body []byte
		took time.Duration
	}
	answers := make([]answer, len(paths))
	var wg sync.WaitGroup
	for i, q := range paths {
		wg.Go(func() {
			a := &answers[i]
			a.code, a.body, a.took = get(q)
		})
	}
	wg.Wait()
	var slowest time.Duration
	for i, a := range answers {
		slowest = max(slowest, a.took)
		var prob api.Problem
		if a.code != http.StatusServiceUnavailable || json.Unmarshal(a.body, &prob) != nil || prob.Status != a.code {
			t.Errorf("frozen: %s: %d %s, want a 503 problem", paths[i], a.code, a.body)
		}
		if a.took > bound {
			t.Errorf("frozen: %s took %v, want at most %v", paths[i], a.took, bound)
		}
	}
	t.Logf("frozen: slowest answer %v (timeout %v)", slowest.Round(time.Millisecond), timeout)

	hang.Thaw()
	thawed := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range paths {
		for {
			code, b, _ := get(p)
			if code < 500 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the thaw: %s: %d %s", p, code, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("thawed: every endpoint answers again after %v", time.Since(thawed).Round(time.Millisecond))
}
