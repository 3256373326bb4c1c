package risfeed

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
)

// holdSink is the hub's discovery hold: it records when it is let go.
type holdSink struct {
	sink
	done atomic.Bool
}

func (h *holdSink) Done() { h.done.Store(true) }

// TestHubDiscover: following every collector, the hub asks Discover for
// the running ones at the stream's first message's time and starts them
// even though the stream never names them; the bins are held until the
// list is in, however long it takes. A failing Discover leaves the
// collectors to the stream.
func TestHubDiscover(t *testing.T) {
	empty := httptest.NewServer(http.NotFoundHandler()) // no archive: empty tables
	t.Cleanup(empty.Close)
	first := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	obs := bgpwatch.Observation{Time: first, Kind: bgpwatch.Announce, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Origin: 64500,
		Peer: bgpwatch.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("198.51.100.1"), ASN: 64501}}
	for _, tc := range []struct {
		name string
		list []string
		err  error
		want []string
	}{
		{"listed", []string{"rrc00", "rrc05"}, nil, []string{"rrc00", "rrc05"}},
		{"listing failed", nil, errors.New("HTTP 503"), []string{"rrc00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var asked atomic.Int64
			hold := &holdSink{}
			cfg := HubConfig{
				Discover: func(ctx context.Context, at time.Time) ([]string, error) {
					asked.Store(at.Unix())
					<-release
					return tc.list, tc.err
				},
				Collector: Config{Archive: fetch.Options{RISURL: empty.URL, UserAgent: "bgpwatch/test"}, FirstWait: 50 * time.Millisecond},
			}
			h := NewHub(cfg, func(name string) Sink {
				if name == "ris-discovery" {
					return hold
				}
				return &sink{}
			})
			ctx, cancel := context.WithCancel(context.Background())
			in := make(chan bgpwatch.Observation, 1)
			done := make(chan error, 1)
			go func() { done <- h.Run(ctx, in) }()
			in <- obs
			deadline := time.Now().Add(10 * time.Second)
			for asked.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := time.Unix(asked.Load(), 0).UTC(); !got.Equal(first) {
				t.Errorf("Discover asked at %s, want the stream's first message's time %s", got, first)
			}
			time.Sleep(200 * time.Millisecond) // four times FirstWait
			if hold.done.Load() {
				t.Error("the bins were let go before the running collectors were listed")
			}
			close(release)
			for !hold.done.Load() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !hold.done.Load() {
				t.Error("the bins are still held after the listing")
			}
			var names []string
			for _, st := range h.Status() {
				names = append(names, st.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("collectors %v, want %v", names, tc.want)
			}
			cancel()
			<-done
		})
	}
}

// TestHubStopsDuringDiscovery: a shutdown while the archive is being
// listed returns from Run, and what the listing brings back afterwards
// starts nothing.
func TestHubStopsDuringDiscovery(t *testing.T) {
	first := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	obs := bgpwatch.Observation{Time: first, Kind: bgpwatch.Announce, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Origin: 64500,
		Peer: bgpwatch.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("198.51.100.1"), ASN: 64501}}
	listing := make(chan struct{})
	cfg := HubConfig{
		Discover: func(ctx context.Context, _ time.Time) ([]string, error) {
			close(listing)
			<-ctx.Done()
			return []string{"rrc05"}, nil // a listing that ignores its context
		},
		Collector: Config{Archive: fetch.Options{RISURL: "http://127.0.0.1:1", UserAgent: "bgpwatch/test"}, FirstWait: time.Hour},
	}
	h := NewHub(cfg, func(string) Sink { return &sink{} })
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan bgpwatch.Observation, 1)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, in) }()
	in <- obs
	select {
	case <-listing:
	case <-time.After(10 * time.Second):
		t.Fatal("the archive was not listed after the first message")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the shutdown")
	}
	for _, st := range h.Status() {
		if st.Name == "rrc05" {
			t.Error("a collector was started from a listing that ended after the shutdown")
		}
	}
}

// TestHubProgress: while a collector is on its way to the stream, a line
// sums the collectors up every ProgressEvery; once none is, the lines
// stop.
func TestHubProgress(t *testing.T) {
	empty := httptest.NewServer(http.NotFoundHandler()) // no RIB dump: live without bootstrap
	t.Cleanup(empty.Close)
	var logs syncbuf.Buffer
	h := NewHub(HubConfig{
		Collectors:    []string{"rrc00"},
		ProgressEvery: 20 * time.Millisecond,
		Collector: Config{Archive: fetch.Options{RISURL: empty.URL, UserAgent: "bgpwatch/test"}, FirstWait: time.Hour,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	}, func(string) Sink { return &sink{} })
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan bgpwatch.Observation, 1)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, in) }()
	defer func() { cancel(); <-done }()
	const line = `msg="ris collectors starting" collectors=1 waiting=1 files_done=0 files=0 mib_read=0`
	for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), line) < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no progress lines while waiting:\n%s", logs.String())
		}
	}
	in <- bgpwatch.Observation{Time: time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC), Kind: bgpwatch.Announce,
		Prefix: netip.MustParsePrefix("192.0.2.0/24"), Origin: 64500,
		Peer: bgpwatch.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("198.51.100.1"), ASN: 64501}}
	for deadline := time.Now().Add(10 * time.Second); h.Status()[0].State != StateNoBootstrap; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state %+v", h.Status())
		}
	}
	time.Sleep(50 * time.Millisecond) // a line being written may still come
	n := strings.Count(logs.String(), "ris collectors starting")
	time.Sleep(200 * time.Millisecond)
	if m := strings.Count(logs.String(), "ris collectors starting"); m != n {
		t.Errorf("%d progress lines after every collector reached the stream", m-n)
	}
}
