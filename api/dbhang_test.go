package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
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
	hang, db := storetest.Hanging(t, storetest.New(t))
	const timeout = time.Second
	o := startOutageAPI(t, db, slog.New(slog.DiscardHandler), timeout)
	// The response cache is off (CacheTTL 0): every request asks the
	// database.
	o.allOK("before the freeze")

	hang.Freeze()
	// Far above the 1 s timeout, far below "never": the bound is what is
	// tested, not the speed. All at once: each waits for the timeout.
	const bound = 15 * time.Second
	answers := make([]answer, len(o.paths))
	var wg sync.WaitGroup
	for i, p := range o.paths {
		wg.Go(func() { answers[i] = o.get(p) })
	}
	wg.Wait()
	var slowest time.Duration
	for i, a := range answers {
		slowest = max(slowest, a.took)
		var prob api.Problem
		if a.code != http.StatusServiceUnavailable || json.Unmarshal(a.body, &prob) != nil || prob.Status != a.code {
			t.Errorf("frozen: %s: %d %s, want a 503 problem", o.paths[i], a.code, a.body)
		}
		if a.took > bound {
			t.Errorf("frozen: %s took %v, want at most %v", o.paths[i], a.took, bound)
		}
	}
	t.Logf("frozen: slowest answer %v (timeout %v)", slowest.Round(time.Millisecond), timeout)

	hang.Thaw()
	thawed := time.Now()
	retries := o.waitOK(30 * time.Second)
	t.Logf("thawed: every endpoint answers again after %v (%d answers not yet on the way)", time.Since(thawed).Round(time.Millisecond), retries)
}
