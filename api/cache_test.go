package api

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRespCacheStaleWhileRevalidate(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := newRespCache(5*time.Second, clock, 0)
	calls := 0
	refreshed := make(chan struct{}, 10)
	f := func() (*response, error) {
		calls++
		defer func() { refreshed <- struct{}{} }()
		return &response{body: []byte{byte(calls)}}, nil
	}
	get := func() byte {
		rs, err := c.get("k", f)
		if err != nil {
			t.Fatal(err)
		}
		return rs.body[0]
	}
	if v := get(); v != 1 {
		t.Fatalf("first %d", v)
	}
	<-refreshed
	advance(time.Second)
	if v := get(); v != 1 || calls != 1 {
		t.Fatalf("fresh hit %d, %d calls", v, calls)
	}
	advance(5 * time.Second) // expired, within the stale window
	if v := get(); v != 1 {
		t.Fatalf("stale answer %d", v)
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatal("no background refresh")
	}
	time.Sleep(10 * time.Millisecond) // let refresh store its entry
	if v := get(); v != 2 {
		t.Fatalf("after refresh %d", v)
	}
	advance(time.Hour) // past the stale window: computed in the foreground
	if v := get(); v != 3 {
		t.Fatalf("after stale window %d", v)
	}
	<-refreshed

	// Errors are not cached.
	fails := 0
	for range 2 {
		if _, err := c.get("e", func() (*response, error) { fails++; return nil, errors.New("boom") }); err == nil {
			t.Fatal("no error")
		}
	}
	if fails != 2 {
		t.Errorf("error cached: %d calls", fails)
	}
}

// checkBytes verifies the cache's running byte count against its entries.
func checkBytes(t *testing.T, c *respCache) int64 {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	var sum int64
	for _, e := range c.entries {
		sum += e.size
	}
	if sum != c.bytes {
		t.Fatalf("cache counts %d bytes, its entries hold %d", c.bytes, sum)
	}
	return c.bytes
}

func TestRespCacheByteBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	const budget = 100 << 10
	c := newRespCache(time.Hour, clock, budget)
	body := func(n int) func() (*response, error) {
		return func() (*response, error) { return &response{body: make([]byte, n)}, nil }
	}
	// 10 KiB bodies: about 9 fit.
	for i := range 50 {
		now = now.Add(time.Millisecond)
		if _, err := c.get(fmt.Sprint("k", i), body(10<<10)); err != nil {
			t.Fatal(err)
		}
		// k0 is used after every insert: the least recently used go first.
		now = now.Add(time.Millisecond)
		if c.fresh([]byte("k0")) == nil {
			t.Fatalf("k0, used after every insert, evicted at insert %d", i)
		}
		if b := checkBytes(t, c); b > budget {
			t.Fatalf("insert %d: %d bytes, budget %d", i, b, budget)
		}
	}
	st := c.stats()
	if st.Entries < 5 || st.Evictions == 0 || st.MaxBytes != budget {
		t.Errorf("stats %+v", st)
	}
	if c.fresh([]byte("k1")) != nil {
		t.Error("k1, never used again, still kept")
	}

	// A response larger than the budget is answered but not kept.
	rs, err := c.get("huge", body(budget+1))
	if err != nil || len(rs.body) != budget+1 {
		t.Fatal(err)
	}
	if c.fresh([]byte("huge")) != nil {
		t.Error("a response over the whole budget was kept")
	}
	checkBytes(t, c)

	// The gzip form is charged when it is made.
	rs, _ = c.get("gz", func() (*response, error) {
		return &response{body: bytes.Repeat([]byte("compressible "), 1000)}, nil
	})
	before := checkBytes(t, c)
	gz, _ := rs.gzipped()
	if gz == nil {
		t.Fatal("no gzip form")
	}
	if after := checkBytes(t, c); after <= before || after > budget {
		t.Errorf("gzip form: %d bytes before, %d after (budget %d)", before, after, budget)
	}

	// A refresh replaces the entry's charge.
	now = now.Add(time.Hour + time.Second)
	done := make(chan struct{})
	c.get("gz", func() (*response, error) { defer close(done); return &response{body: []byte("small")}, nil })
	<-done
	for range 100 {
		if rs := c.fresh([]byte("gz")); rs != nil && string(rs.body) == "small" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	checkBytes(t, c)
}

// TestRespCacheConcurrentBudget: concurrent hits, misses, gzip forms and
// evictions keep the byte count exact and under the budget (run with
// -race).
func TestRespCacheConcurrentBudget(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Millisecond); return now }
	const budget = 64 << 10
	c := newRespCache(time.Second, clock, budget)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				key := fmt.Sprint("k", (g*7+i)%40)
				if rs := c.fresh([]byte(key)); rs != nil {
					rs.gzipped()
					continue
				}
				rs, err := c.get(key, func() (*response, error) {
					return &response{body: bytes.Repeat([]byte("x"), 2000+i*10)}, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				rs.gzipped()
			}
		}()
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond) // background refreshes
	if b := checkBytes(t, c); b > budget {
		t.Errorf("%d bytes, budget %d", b, budget)
	}
}
