package rislive

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/logthrottle"
	"github.com/bgpwatch/bgpwatch/internal/retry"
)

// DefaultURL is the public RIS Live endpoint.
const DefaultURL = "wss://ris-live.ripe.net/v1/ws/?client=bgpwatch"

// Subscription is one ris_subscribe filter (see the RIS Live manual).
// Empty fields do not filter.
type Subscription struct {
	Host          string         `json:"host,omitempty" yaml:"host"`
	Type          string         `json:"type,omitempty" yaml:"type"`
	Prefix        []string       `json:"prefix,omitempty" yaml:"prefix"`
	MoreSpecific  bool           `json:"moreSpecific,omitempty" yaml:"more_specific"`
	LessSpecific  bool           `json:"lessSpecific,omitempty" yaml:"less_specific"`
	Path          string         `json:"path,omitempty" yaml:"path"`
	Peer          string         `json:"peer,omitempty" yaml:"peer"`
	Require       string         `json:"require,omitempty" yaml:"require"`
	SocketOptions *SocketOptions `json:"socketOptions,omitempty" yaml:"socket_options"`
}

// SocketOptions are per-connection options of a subscription.
type SocketOptions struct {
	IncludeRaw  bool `json:"includeRaw,omitempty" yaml:"include_raw"`
	Acknowledge bool `json:"acknowledge,omitempty" yaml:"acknowledge"`
}

// DefaultSubscriptions asks for every UPDATE and every collector peer
// state change.
func DefaultSubscriptions() []Subscription {
	return []Subscription{{Type: Update}, {Type: PeerState}}
}

// Config configures a Client.
type Config struct {
	URL           string         // "" means DefaultURL
	Subscriptions []Subscription // nil means DefaultSubscriptions
	// ReadTimeout: a stream silent this long is dead and is reconnected.
	// The client pings every ReadTimeout/3 so that a quiet but live
	// stream answers. 0 means 60 s.
	ReadTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait between
	// connection attempts (full jitter); 0 means 1 s and 2 min.
	MinBackoff, MaxBackoff time.Duration
	// ReadLimit caps one message's size; 0 means 4 MiB.
	ReadLimit  int64
	HTTPClient *http.Client
	// OnDisconnect, when set, is called each time a connection that
	// delivered messages ends: what the collectors sent until the next
	// connection is missing from the stream (see package risfeed).
	OnDisconnect func()
	Now          func() time.Time // nil: time.Now
	Logger       *slog.Logger     // nil: discard
}

// SessionState is a collector peer's state as last reported by the feed.
type SessionState struct {
	Peer  bgpwatch.Peer
	State string // "connected", "down", ...
	Since time.Time
}

// State is a snapshot of the client.
type State struct {
	URL          string
	Connected    bool
	Since        time.Time // when Connected last changed
	LastMessage  time.Time
	Messages     int64
	Updates      int64
	Observations int64
	BadMessages  int64
	Reconnects   int64
	Peers        []SessionState
}

// Client is a RIS Live client. Create it with New and call Run.
type Client struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	state State
	peers map[bgpwatch.Peer]*SessionState
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Subscriptions == nil {
		cfg.Subscriptions = DefaultSubscriptions()
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 60 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(2*time.Minute, cfg.MinBackoff)
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 4 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, log: log, state: State{URL: cfg.URL}, peers: map[bgpwatch.Peer]*SessionState{}}
}

// State returns a snapshot of the connection and the collector peers.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.Peers = make([]SessionState, 0, len(c.peers))
	for _, p := range c.peers {
		s.Peers = append(s.Peers, *p)
	}
	slices.SortFunc(s.Peers, func(a, b SessionState) int {
		return cmp.Or(cmp.Compare(a.Peer.Collector, b.Peer.Collector), a.Peer.Addr.Compare(b.Peer.Addr))
	})
	return s
}

// errDead marks a stream that stayed silent for ReadTimeout.
var errDead = errors.New("no message within the read timeout")

// Run connects, subscribes and sends observations on out until ctx ends,
// reconnecting with exponential back-off after every failure. It returns
// ctx's error.
func (c *Client) Run(ctx context.Context, out chan<- bgpwatch.Observation) error {
	failures := 0
	// Tries that bring no message (the service unreachable, or a stream
	// dead from the start) are logged when they start failing, then once
	// a minute, and when a message comes again; a stream lost after it
	// carried messages, every time.
	down := logthrottle.New(c.log, slog.LevelWarn, "ris live: connecting", time.Minute)
	up := func() { down.OK(c.cfg.Now()) }
	for {
		got, err := c.session(ctx, out, up)
		c.setConnected(false)
		if got && c.cfg.OnDisconnect != nil {
			c.cfg.OnDisconnect()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if got {
			failures = 0
		}
		failures++
		wait := retry.Jitter(c.cfg.MinBackoff, retry.Exp(c.cfg.MinBackoff, c.cfg.MaxBackoff, failures), rand.Float64())
		if got {
			c.log.Warn("ris live stream lost; reconnecting", "err", err, "wait", wait.Round(time.Millisecond))
		} else {
			down.Fail(c.cfg.Now(), err)
			c.log.Debug("ris live: connecting again", "err", err, "wait", wait.Round(time.Millisecond))
		}
		c.mu.Lock()
		c.state.Reconnects++
		c.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Client) setConnected(up bool) {
	c.mu.Lock()
	if c.state.Connected != up {
		c.state.Connected = up
		c.state.Since = c.cfg.Now()
	}
	c.mu.Unlock()
}

// session runs one connection; got reports whether any message arrived.
// up is called at its first message.
func (c *Client) session(ctx context.Context, out chan<- bgpwatch.Observation, up func()) (got bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.ReadTimeout)
	conn, _, err := websocket.Dial(dctx, c.cfg.URL, &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(c.cfg.ReadLimit)
	for _, s := range c.cfg.Subscriptions {
		b, err := json.Marshal(struct {
			Type string       `json:"type"`
			Data Subscription `json:"data"`
		}{"ris_subscribe", s})
		if err != nil {
			return false, err
		}
		wctx, cancel := context.WithTimeout(ctx, c.cfg.ReadTimeout)
		err = conn.Write(wctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			return false, fmt.Errorf("subscribe: %w", err)
		}
	}
	c.setConnected(true)
	c.log.Info("ris live connected", "url", c.cfg.URL, "subscriptions", len(c.cfg.Subscriptions))

	// Pings keep a quiet, filtered stream talking; the pong resets the
	// read deadline like any other message.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(c.cfg.ReadTimeout / 3)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				wctx, cancel := context.WithTimeout(sctx, c.cfg.ReadTimeout/3)
				conn.Write(wctx, websocket.MessageText, []byte(`{"type":"ping"}`))
				cancel()
			}
		}
	}()

	var buf []bgpwatch.Observation
	for {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.ReadTimeout)
		_, b, err := conn.Read(rctx)
		dead := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil {
			if dead {
				return got, errDead
			}
			return got, err
		}
		if !got {
			up()
		}
		got = true
		buf = buf[:0]
		buf, err = c.handle(b, buf)
		if err != nil {
			c.log.Warn("ris live: bad message skipped", "err", err, "len", len(b))
			continue
		}
		for _, o := range buf {
			select {
			case out <- o:
			case <-ctx.Done():
				return got, ctx.Err()
			}
		}
		if len(buf) > 0 {
			c.mu.Lock()
			c.state.Observations += int64(len(buf))
			c.mu.Unlock()
		}
	}
}

// handle decodes one message, updates the state and appends observations.
func (c *Client) handle(b []byte, buf []bgpwatch.Observation) ([]bgpwatch.Observation, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	c.state.Messages++
	c.state.LastMessage = now
	c.mu.Unlock()
	m, err := Decode(b)
	if err == nil {
		var bad int
		buf, bad, err = m.Observations(buf, now)
		if bad > 0 {
			c.log.Warn("ris live: bad prefixes skipped", "n", bad, "peer", m.Data.Peer)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.state.BadMessages++
		return buf, err
	}
	switch m.Type {
	case TypeError:
		c.log.Warn("ris live error message", "message", m.Error)
	case TypeMessage:
		switch m.Data.Type {
		case Update:
			c.state.Updates++
		case PeerState:
			if p, err := m.Data.PeerOf(); err == nil {
				s, ok := c.peers[p]
				if !ok {
					s = &SessionState{Peer: p}
					c.peers[p] = s
				}
				if s.State != m.Data.State {
					s.State, s.Since = m.Data.State, m.Data.Time()
				}
			}
		}
	}
	return buf, nil
}
