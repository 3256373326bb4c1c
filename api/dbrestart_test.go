package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestDBRestartAPI stops PostgreSQL under a running API server: every
// endpoint that reads the database must answer 503 with a problem+json
// body within a bound (not 500, not hang), /v1/health must say the
// database is down, and once the server is back every endpoint must answer
// 200 again without restarting anything.
func TestDBRestartAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL server")
	}
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) {
			pg, db := storetest.StartPrivate(t)
			var logs storetest.SyncBuffer
			o := startOutageAPI(t, db, slog.New(slog.NewTextHandler(&logs, nil)), 0)
			o.allOK("before the stop")

			pg.Stop(mode)
			// The bound: a read's database work is cut off after 15 s
			// (Config.QueryTimeout); a stopped server refuses at once.
			const bound = 20 * time.Second
			var slowest time.Duration
			for _, p := range o.paths {
				a := o.get(p)
				code, ctype, b, took := a.code, a.ctype, a.body, a.took
				slowest = max(slowest, took)
				var prob api.Problem
				if code != http.StatusServiceUnavailable || ctype != "application/problem+json" || json.Unmarshal(b, &prob) != nil || prob.Status != code {
					t.Errorf("during the outage: %s: %d %s %s, want 503 application/problem+json", p, code, ctype, b)
					continue
				}
				if took > bound {
					t.Errorf("during the outage: %s took %v, want at most %v", p, took, bound)
				}
				if !strings.HasSuffix(prob.Type, "/database-unavailable") || !strings.Contains(prob.Detail, "database") {
					t.Errorf("during the outage: %s: %s, want a problem saying the database is unavailable", p, b)
				}
				if strings.Contains(string(b), ".s.PGSQL") || strings.Contains(string(b), "user=") {
					t.Errorf("during the outage: %s shows the driver's error: %s", p, b)
				}
			}
			t.Logf("during the outage: slowest answer %v", slowest.Round(time.Millisecond))
			if !strings.Contains(logs.String(), ".s.PGSQL") {
				t.Errorf("the log does not keep the driver's error:\n%s", logs.String())
			}
			if a := o.get("/metrics"); a.code != http.StatusOK || !strings.Contains(string(a.body), "bgpwatch_database_up 0") {
				t.Errorf("metrics during the outage: %d, want 200 with bgpwatch_database_up 0", a.code)
			}

			pg.Start()
			back := time.Now()
			retries := o.waitOK(30 * time.Second)
			t.Logf("all endpoints answer 200 %v after the server was back (%d answers not 200 on the way)",
				time.Since(back).Round(time.Millisecond), retries)
			if a := o.get("/metrics"); a.code != http.StatusOK || !strings.Contains(string(a.body), "bgpwatch_database_up 1") {
				t.Errorf("metrics after the restart: %d, want bgpwatch_database_up 1", a.code)
			}
			// A failing query is not an outage: it stays a 500.
			_, err := db.Pool().Exec(context.Background(), `SELECT * FROM no_such_table`)
			if err == nil || store.Unavailable(err) {
				t.Errorf("a query error (%v) counts as the database being unavailable", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := db.Ping(ctx); err == nil || store.Unavailable(err) {
				t.Errorf("a cancelled ping (%v) counts as the database being unavailable", err)
			}
			if strings.Contains(logs.String(), "panic") {
				t.Errorf("panic in the log:\n%s", logs.String())
			}
		})
	}
}
