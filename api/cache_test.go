package api

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRespCacheStaleWhileRevalidate(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := newRespCache(5*time.Second, clock)
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
