package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// served is a `bgpwatch serve` running in this process.
type served struct {
	base   string
	cancel context.CancelFunc
	done   chan int
	stderr *syncbuf.Buffer
}

// startServe runs `bgpwatch serve` with args on a free port.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &served{cancel: cancel, done: make(chan int, 1), stderr: &syncbuf.Buffer{}}
	go func() {
		s.done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, s.stderr)
	}()
	re := regexp.MustCompile(`serving on (http://[0-9.:]+)/`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(s.stderr.String()); m != nil {
			s.base = m[1]
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		default:
		}
	}
	t.Fatalf("no listening URL on stderr: %s", s.stderr.String())
	return nil
}

// get fetches path and returns the status and body.
func (s *served) get(t *testing.T, path string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServe runs `bgpwatch serve` on a free port, talks HTTP to it and
// stops it the way SIGTERM does (context cancellation).
func TestServe(t *testing.T) {
	db := storetest.New(t)
	t.Setenv("BGPWATCH_TEST_TOKEN", "serve-test-token-0123456789")
	s := startServe(t, "--db", db.Pool().Config().ConnString(), "--admin-token-env", "BGPWATCH_TEST_TOKEN", "--shutdown-timeout", "5s",
		"--cache-max-bytes", "3MiB")
	get := func(path string, hdr ...string) (int, string) { return s.get(t, path, hdr...) }
	if code, body := get("/v1/health"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("health: %d %s", code, body)
	}
	if code, body := get("/v1/countries"); code != 200 || body != "{\"countries\":[]}\n" {
		t.Errorf("countries: %d %q", code, body)
	}
	if code, _ := get("/v1/webhooks"); code != 401 {
		t.Errorf("webhooks without token: %d", code)
	}
	if code, body := get("/v1/webhooks", "Authorization", "Bearer serve-test-token-0123456789"); code != 200 || !strings.Contains(body, `"webhooks":[]`) {
		t.Errorf("webhooks with token: %d %s", code, body)
	}
	// Webhook receivers on internal addresses are refused by default
	// (TestServeAllowPrivate: the opt-in).
	if code, body := postWebhook(t, s.base, "serve-test-token-0123456789", "http://127.0.0.1:9/x"); code != 400 || !strings.Contains(body, "internal addresses are refused") {
		t.Errorf("internal receiver: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "bgpwatch_http_requests_total") ||
		!strings.Contains(body, "\nbgpwatch_api_cache_max_bytes 3.145728e+06\n") {
		t.Errorf("metrics: %d %s", code, body)
	}
	// The newsroom page and its charts are mounted on the same server.
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<html") || !strings.Contains(body, "/assets/") {
		t.Errorf("page: %d %.200s", code, body)
	}
	if code, body := get("/v1/countries/KZ/chart.svg"); code != 404 || !strings.Contains(body, "no series stored") {
		t.Errorf("chart of an empty database: %d %.200s", code, body)
	}
	if code, body := get("/v1/countries/K1/chart.svg"); code != 400 || !strings.Contains(body, `"status":400`) {
		t.Errorf("bad chart request: %d %s", code, body)
	}
	// Without live sources, /v1/peers says so.
	if code, _ := get("/v1/peers"); code != 503 {
		t.Errorf("peers without live ingest: %d", code)
	}
	s.cancel()
	select {
	case code := <-s.done:
		if code != exitOK {
			t.Errorf("serve exited %d: %s", code, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(s.stderr.String(), "msg=request") {
		t.Errorf("no access log: %s", s.stderr.String())
	}
}

// postWebhook registers a webhook for url and returns the answer.
func postWebhook(t *testing.T, base, token, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/webhooks", strings.NewReader(`{"url":"`+url+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeAllowPrivate: the opt-in for internal webhook receivers, as a
// flag and as the config file's webhooks.allow_private (the file's
// cache_max_bytes too).
func TestServeAllowPrivate(t *testing.T) {
	db := storetest.New(t)
	t.Setenv("BGPWATCH_TEST_TOKEN", "serve-test-token-0123456789")
	cfgFile := filepath.Join(t.TempDir(), "bgpwatch.yaml")
	if err := os.WriteFile(cfgFile, []byte("cache_max_bytes: 5MiB\nwebhooks:\n  allow_private: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--webhooks-allow-private"}, {"--config", cfgFile}} {
		s := startServe(t, append([]string{"--db", db.Pool().Config().ConnString(), "--admin-token-env", "BGPWATCH_TEST_TOKEN", "--webhooks=false"}, args...)...)
		if code, body := postWebhook(t, s.base, "serve-test-token-0123456789", "http://127.0.0.1:9/x"); code != 201 {
			t.Errorf("%v: internal receiver: %d %s", args, code, body)
		}
		if args[0] == "--config" {
			if code, body := s.get(t, "/metrics"); code != 200 || !strings.Contains(body, "\nbgpwatch_api_cache_max_bytes 5.24288e+06\n") {
				t.Errorf("cache_max_bytes from the file: %d", code)
			}
		}
		s.cancel()
		<-s.done
	}
}
