package risfeed

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// HubConfig configures a Hub.
type HubConfig struct {
	// Collectors are the collectors to follow ("rrc00"); nil or empty
	// follows every collector: those Discover lists, started at once, and
	// any other the stream names, from its first message on.
	Collectors []string
	// Discover lists the collectors running at the stream's present (its
	// first message's time, or the wall clock if none comes within
	// FirstWait): fetch.RISCollectors of the archive. Each is then
	// bootstrapped from the start even if the stream names it late or
	// never. nil, or an error, leaves it to the stream. Used only when
	// Collectors is empty.
	Discover func(ctx context.Context, at time.Time) ([]string, error)
	// Collector is every Collector's configuration; the hub sets Name and
	// Present.
	Collector Config
	// ProgressEvery is how often, while collectors are bootstrapping, a
	// line sums them up in the log (default 30 s).
	ProgressEvery time.Duration
}

// Hub splits one RIS Live stream into its collectors and runs each as a
// Collector with a feed of its own.
type Hub struct {
	cfg     HubConfig
	newFeed func(name string) Sink
	log     *slog.Logger
	ctx     context.Context
	wg      sync.WaitGroup

	cuts      chan struct{} // Disconnected was called
	firstSeen chan struct{} // closed at the stream's first observation

	mu      sync.Mutex
	colls   map[string]*Collector
	ignored atomic.Int64
	latest  atomic.Int64 // newest data time in the stream (unix ns)
}

// present is the stream's newest data time, or the wall clock before any
// message: how far a collector silent at the start is bootstrapped.
func (h *Hub) present() time.Time {
	if n := h.latest.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return h.cfg.Collector.Now()
}

// NewHub returns a hub that asks newFeed for each collector's sink.
func NewHub(cfg HubConfig, newFeed func(name string) Sink) *Hub {
	if cfg.Collector.Now == nil {
		cfg.Collector.Now = time.Now
	}
	if cfg.Collector.FirstWait <= 0 {
		cfg.Collector.FirstWait = 30 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 30 * time.Second
	}
	log := cfg.Collector.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{cfg: cfg, newFeed: newFeed, log: log, colls: map[string]*Collector{},
		cuts: make(chan struct{}, 1), firstSeen: make(chan struct{})}
}

// Run starts the configured collectors and routes the stream's
// observations (from in, as rislive.Client.Run writes them) to them until
// ctx ends; it returns when every collector has stopped.
func (h *Hub) Run(ctx context.Context, in <-chan bgpwatch.Observation) error {
	h.ctx = ctx
	// discovered is closed once no collector is started but from this
	// goroutine: before h.wg is waited for.
	discovered := make(chan struct{})
	if len(h.cfg.Collectors) > 0 {
		close(discovered)
	}
	for _, name := range h.cfg.Collectors {
		h.collector(name)
	}
	if len(h.cfg.Collectors) == 0 {
		// Collectors are found in the archive and the stream: hold the bins
		// back while they are listed and the first messages name them, so
		// that none starts behind the others.
		hold := h.newFeed("ris-discovery")
		go func() {
			defer close(discovered)
			h.discover(ctx)
		}()
		go func() {
			select {
			case <-time.After(h.cfg.Collector.FirstWait):
			case <-ctx.Done():
			}
			<-discovered
			if d, ok := hold.(interface{ Done() }); ok {
				d.Done()
			}
		}()
	}
	go h.progress(ctx)
	groups := map[string][]bgpwatch.Observation{}
	// drain routes what is waiting on in, at most max observations.
	drain := func(max int) {
		for n := 0; n < max; n++ {
			select {
			case o := <-in:
				groups[o.Peer.Collector] = append(groups[o.Peer.Collector], o)
				continue
			default:
			}
			break
		}
		for name, obs := range groups {
			if t := obs[len(obs)-1].Time.UnixNano(); t > h.latest.Load() {
				if h.latest.Load() == 0 {
					close(h.firstSeen)
				}
				h.latest.Store(t)
			}
			if c := h.route(name); c != nil {
				c.Stream(obs)
			} else {
				h.ignored.Add(int64(len(obs)))
			}
			delete(groups, name)
		}
	}
	for {
		select {
		case o := <-in:
			groups[o.Peer.Collector] = append(groups[o.Peer.Collector], o)
			drain(4096)
		case <-h.cuts:
			// The client sends a connection's messages before it reports
			// the connection's end: take them all before the cut.
			for len(in) > 0 {
				drain(4096)
			}
			h.mu.Lock()
			for _, c := range h.colls {
				c.Disconnected()
			}
			h.mu.Unlock()
		case <-ctx.Done():
			<-discovered
			h.wg.Wait()
			return ctx.Err()
		}
	}
}

// progress logs, every ProgressEvery while some collector is still on
// its way to the stream (waiting, bootstrapping, catching up), how many
// are in each state and how much of the archive they have read: the
// bootstrap of every collector takes minutes.
func (h *Hub) progress(ctx context.Context) {
	t := time.NewTicker(h.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sts := h.Status()
		by := map[string]int{}
		var files, done int
		var bytes int64
		starting := 0
		for _, st := range sts {
			by[st.State]++
			switch st.State {
			case StateWaiting, StateBootstrap, StateCatchingUp:
				starting++
				files += st.Files
				done += st.FilesDone
				bytes += st.Bytes
			}
		}
		if starting == 0 {
			continue
		}
		args := []any{"collectors", len(sts)}
		for _, s := range []string{StateWaiting, StateBootstrap, StateCatchingUp, StateLive, StateGap, StateStale, StateNoBootstrap} {
			if by[s] > 0 {
				args = append(args, s, by[s])
			}
		}
		args = append(args, "files_done", done, "files", files, "mib_read", bytes>>20)
		h.log.Info("ris collectors starting", args...)
	}
}

// discoverWait bounds the archive listing of the running collectors.
const discoverWait = 2 * time.Minute

// discover starts the collectors Discover lists, once the stream's first
// message tells its present.
func (h *Hub) discover(ctx context.Context) {
	if h.cfg.Discover == nil {
		return
	}
	select {
	case <-h.firstSeen:
	case <-time.After(h.cfg.Collector.FirstWait):
	case <-ctx.Done():
		return
	}
	dctx, cancel := context.WithTimeout(ctx, discoverWait)
	defer cancel()
	names, err := h.cfg.Discover(dctx, h.present())
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		h.log.Warn("listing the running collectors failed: following those the stream names", "err", err)
		return
	}
	h.log.Info("following the running collectors", "collectors", len(names), "names", strings.Join(names, ","))
	for _, name := range names {
		h.collector(name)
	}
}

// route returns the collector of a stream observation; nil when it is
// not followed.
func (h *Hub) route(name string) *Collector {
	h.mu.Lock()
	c := h.colls[name]
	h.mu.Unlock()
	if c != nil || len(h.cfg.Collectors) > 0 {
		return c
	}
	return h.collector(name)
}

// collector starts the Collector of name.
func (h *Hub) collector(name string) *Collector {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.colls[name]; ok {
		return c
	}
	cfg := h.cfg.Collector
	cfg.Name, cfg.Present, cfg.Logger = name, h.present, h.log
	c := New(cfg, h.newFeed(name))
	h.colls[name] = c
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := c.Run(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Error("collector stopped", "collector", name, "err", err)
		}
	}()
	return c
}

// Disconnected tells every collector that the stream was cut, once the
// messages received before the cut have been routed.
func (h *Hub) Disconnected() {
	select {
	case h.cuts <- struct{}{}:
	default:
	}
}

// Status returns every collector's status, by name.
func (h *Hub) Status() []Status {
	h.mu.Lock()
	cs := make([]*Collector, 0, len(h.colls))
	for _, c := range h.colls {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	out := make([]Status, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Status())
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Ignored counts stream observations of collectors not followed.
func (h *Hub) Ignored() int64 { return h.ignored.Load() }
