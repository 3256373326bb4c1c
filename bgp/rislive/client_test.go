package rislive

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/syncbuf"
)

// fakeRIS is a local RIS Live server. Each connection gets the next script:
// the messages to send, then whether to drop the connection or stay silent.
type fakeRIS struct {
	t       *testing.T
	srv     *httptest.Server
	conns   atomic.Int32
	scripts [][]string

	mu   sync.Mutex
	subs [][]string // subscribe messages per connection
}

const silent = "<silent>" // script entry: say nothing more, ignore pings

func newFakeRIS(t *testing.T, scripts ...[]string) *fakeRIS {
	f := &fakeRIS{t: t, scripts: scripts}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRIS) url() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/ws/?client=test"
}

func (f *fakeRIS) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.conns.Add(1)) - 1
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		f.t.Errorf("accept: %v", err)
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	// Read the two subscriptions before sending.
	var subs []string
	for range 2 {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		subs = append(subs, string(b))
	}
	f.mu.Lock()
	f.subs = append(f.subs, subs)
	f.mu.Unlock()
	script := []string{silent}
	if n < len(f.scripts) {
		script = f.scripts[n]
	}
	for _, m := range script {
		if m == silent {
			// Swallow pings without answering until the client goes.
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			return
		}
	}
	// End of script: drop the connection without a close handshake.
}

func collect(ctx context.Context, ch <-chan bgpwatch.Observation, want int) []bgpwatch.Observation {
	var got []bgpwatch.Observation
	for len(got) < want {
		select {
		case o := <-ch:
			got = append(got, o)
		case <-ctx.Done():
			return got
		}
	}
	return got
}

const withdrawal = `{"type":"ris_message","data":{"timestamp":1553627999.5,"peer":"72.22.223.9","peer_asn":"11708","host":"rrc00","type":"UPDATE","path":[],"withdrawals":["45.161.192.0/23"]}}`

// TestReplayRecordingWithDrop replays the recorded stream over a local
// websocket server that drops the connection mid-stream; the client
// reconnects, subscribes again and continues, skipping the bad last line.
func TestReplayRecordingWithDrop(t *testing.T) {
	lines := recording(t)
	var str []string
	for _, l := range lines {
		str = append(str, string(l))
	}
	f := newFakeRIS(t, str[:3], append(str[3:], withdrawal), []string{silent})
	c := New(Config{URL: f.url(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ReadTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan bgpwatch.Observation, 16)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, ch) }()
	got := collect(ctx, ch, 3)
	kinds := []bgpwatch.ObservationKind{bgpwatch.Announce, bgpwatch.PeerDown, bgpwatch.Withdraw}
	if len(got) != 3 {
		t.Fatalf("observations = %+v, want 3", got)
	}
	for i, k := range kinds {
		if got[i].Kind != k {
			t.Errorf("observation %d kind %v, want %v", i, got[i].Kind, k)
		}
	}
	if got[2].Peer.Collector != "rrc00" || got[2].Prefix.String() != "45.161.192.0/23" {
		t.Errorf("withdrawal = %+v", got[2])
	}
	// Wait until the second script has been fully read (bad line counted).
	deadline := time.Now().Add(5 * time.Second)
	for c.State().BadMessages < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := c.State()
	if st.Reconnects < 1 || st.BadMessages != 1 || st.Updates != 2 {
		t.Errorf("state = %+v, want ≥1 reconnect, 1 bad message, 2 updates", st)
	}
	if len(st.Peers) != 1 || st.Peers[0].State != "down" || st.Peers[0].Peer.Collector != "rrc01" {
		t.Errorf("peers = %+v", st.Peers)
	}
	f.mu.Lock()
	subs := f.subs
	f.mu.Unlock()
	if len(subs) < 2 {
		t.Fatalf("subscriptions per connection = %v", subs)
	}
	for _, s := range subs[:2] {
		var m struct {
			Type string
			Data Subscription
		}
		if err := json.Unmarshal([]byte(s[0]), &m); err != nil || m.Type != "ris_subscribe" || m.Data.Type != Update {
			t.Errorf("subscription %q: %v", s[0], err)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled && err != context.DeadlineExceeded {
		t.Errorf("Run = %v", err)
	}
}

// TestDeadStream: a connection that goes silent (pings unanswered) is
// abandoned after the read timeout and the client reconnects.
func TestDeadStream(t *testing.T) {
	f := newFakeRIS(t, []string{silent}, []string{withdrawal, silent})
	c := New(Config{URL: f.url(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan bgpwatch.Observation, 16)
	go c.Run(ctx, ch)
	start := time.Now()
	got := collect(ctx, ch, 1)
	if len(got) != 1 || got[0].Kind != bgpwatch.Withdraw {
		t.Fatalf("observations = %+v", got)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("reconnected after %v, before the read timeout", el)
	}
	if st := c.State(); st.Reconnects < 1 || !st.Connected {
		t.Errorf("state = %+v", st)
	}
}

// TestUnreachableLoggedOnce: while RIS Live cannot be reached, the
// failing tries are logged when they start (and as a minute's reminder),
// not at every try; the connection coming back is logged once, and a
// stream lost after it carried messages is logged as such.
func TestUnreachableLoggedOnce(t *testing.T) {
	// The service answers 503 until it is back up.
	f := newFakeRIS(t, []string{withdrawal})
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	var logs syncbuf.Buffer
	c := New(Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws/", MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		ReadTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan bgpwatch.Observation, 16)
	done := make(chan struct{})
	go func() { c.Run(ctx, ch); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); c.State().Reconnects < 20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d tries in 5 s", c.State().Reconnects)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), `msg="ris live: connecting: failing"`) {
		t.Errorf("%d warnings after %d failed tries, want 1:\n%s", n, c.State().Reconnects, logs.String())
	}
	up.Store(true)
	if got := collect(ctx, ch, 1); len(got) != 1 {
		t.Fatalf("no message after the service came back: %+v", got)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "ris live stream lost"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lost stream was not logged:\n%s", logs.String())
		}
	}
	cancel()
	<-done
	if l := logs.String(); strings.Count(l, `msg="ris live: connecting: recovered"`) != 1 {
		t.Errorf("the recovery must be logged once:\n%s", l)
	}
}
