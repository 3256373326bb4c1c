package bmp

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// StationConfig configures a Station.
type StationConfig struct {
	// Listen is the TCP address routers connect to, e.g. ":11019".
	Listen string
	// RIBs are the table kinds that count; 0 means DefaultRIBs.
	RIBs RIBSet
	// MaxSkew: a per-peer header time further than this from the time a
	// message arrives is replaced by the arrival time (see
	// Options.MaxSkew); 0 means DefaultMaxSkew, < 0 keeps header times.
	MaxSkew time.Duration
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
}

// DefaultMaxSkew is how far a router's timestamp may be from the arrival
// time before live ingest takes the arrival time instead.
const DefaultMaxSkew = 10 * time.Minute

// RouterStatus is one router as a Station or a Kafka consumer sees it.
type RouterStatus struct {
	RouterState
	Remote    string // the router's address (TCP peer, or OpenBMP router IP)
	Connected bool
	Since     time.Time // when Connected last changed
	Last      time.Time // time of the last message
	// Resets counts connections ended (or Kafka records skipped) for a
	// malformed message.
	Resets int64
	// Counters adds up all connections of the router, this one included.
}

// RouterSet tracks routers by address for status pages and metrics; a
// router that reconnects from the same address keeps its entry and its
// counts. The zero value is ready to use.
type RouterSet struct {
	mu    sync.Mutex
	m     map[string]*RouterEntry
	names NameSet
}

// Names is the set that keeps the names of the set's routers unique, for
// their decoders' Options.
func (rs *RouterSet) Names() *NameSet { return &rs.names }

// RouterEntry is one router of a RouterSet.
type RouterEntry struct {
	key       string
	remote    string
	dec       *Decoder
	base      Counters // counts of the router's earlier connections
	connected bool
	since     time.Time
	last      time.Time
	resets    int64
}

func (c *Counters) add(o Counters) {
	for i := range c.Messages {
		c.Messages[i] += o.Messages[i]
	}
	c.Routes += o.Routes
	c.EndOfRIB += o.EndOfRIB
	c.Skipped += o.Skipped
	c.Unsupported += o.Unsupported
}

// Attach registers a new decoder for the router at remote (an address,
// or another stable name of the router's connection).
func (rs *RouterSet) Attach(remote string, dec *Decoder, now time.Time) *RouterEntry {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]*RouterEntry{}
	}
	key := remote
	for i := 2; rs.m[key] != nil && rs.m[key].connected; i++ {
		key = remote + "#" + strconv.Itoa(i)
	}
	e := rs.m[key]
	if e == nil {
		e = &RouterEntry{key: key, remote: remote}
		rs.m[key] = e
	} else if e.dec != nil {
		e.base.add(e.dec.State().Counters)
	}
	e.dec, e.connected, e.since = dec, true, now
	if key != remote {
		// A second router connected from the same address (behind NAT)
		// goes by its entry's name until a sysName names it.
		dec.mu.Lock()
		if dec.addr == remote {
			dec.addr = key
		}
		dec.mu.Unlock()
	}
	return e
}

// Detach marks the router disconnected; reset counts a connection ended
// (or a record skipped) for a malformed message.
func (rs *RouterSet) Detach(e *RouterEntry, now time.Time, reset bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e.connected, e.since = false, now
	if reset {
		e.resets++
	}
	if e.dec != nil {
		rs.names.release(e.dec)
	}
}

// Reconnect marks a known router connected again (an OpenBMP router's new
// Initiation after a Termination), keeping its decoder and counts.
func (rs *RouterSet) Reconnect(e *RouterEntry, now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !e.connected {
		e.connected, e.since = true, now
	}
}

// Malformed counts a malformed message of a router that stays connected
// (a skipped Kafka record).
func (rs *RouterSet) Malformed(e *RouterEntry) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e.resets++
}

// Touch records a message from the router at now.
func (rs *RouterSet) Touch(e *RouterEntry, now time.Time) {
	rs.mu.Lock()
	e.last = now
	rs.mu.Unlock()
}

// List returns every router's status, sorted by name and address.
func (rs *RouterSet) List() []RouterStatus {
	rs.mu.Lock()
	entries := make([]*RouterEntry, 0, len(rs.m))
	for _, e := range rs.m {
		entries = append(entries, e)
	}
	snap := make([]RouterStatus, len(entries))
	for i, e := range entries {
		snap[i] = RouterStatus{Remote: e.key, Connected: e.connected, Since: e.since, Last: e.last, Resets: e.resets}
	}
	rs.mu.Unlock()
	for i, e := range entries {
		st := e.dec.State()
		base := e.base
		base.add(st.Counters)
		st.Counters = base
		snap[i].RouterState = st
	}
	slices.SortFunc(snap, func(a, b RouterStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Remote, b.Remote))
	})
	return snap
}

// Station is a BMP station: it accepts router connections (any number at
// once) and sends their observations to one channel. A router that
// disconnects, or sends a malformed message (its connection is then
// reset, logged once), has its peers' tables dropped: a PeerDown for each.
type Station struct {
	cfg     StationConfig
	log     *slog.Logger
	ln      net.Listener
	routers RouterSet

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen binds the station's TCP port.
func Listen(cfg StationConfig) (*Station, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RIBs == 0 {
		cfg.RIBs = DefaultRIBs
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	return &Station{cfg: cfg, log: log, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the bound address.
func (s *Station) Addr() net.Addr { return s.ln.Addr() }

// Routers returns the routers that connected so far, connected or not.
func (s *Station) Routers() []RouterStatus { return s.routers.List() }

// Run accepts routers until ctx ends, then closes every connection and
// returns once their final observations are sent (or ctx dropped them).
func (s *Station) Run(ctx context.Context, out chan<- bgpwatch.Observation) {
	stop := context.AfterFunc(ctx, func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			s.log.Warn("bmp accept", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			break
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(ctx, c, out)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
	s.wg.Wait()
}

func (s *Station) serve(ctx context.Context, c net.Conn, out chan<- bgpwatch.Observation) {
	defer c.Close()
	remote := c.RemoteAddr().String()
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		remote = ap.Addr().Unmap().String()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(time.Minute)
	}
	dec := NewDecoder(remote, Options{RIBs: s.cfg.RIBs, Now: s.cfg.Now, MaxSkew: max(s.cfg.MaxSkew, 0), Names: s.routers.Names()})
	e := s.routers.Attach(remote, dec, s.cfg.Now())
	s.log.Info("bmp router connected", "address", remote)
	send := func(obs []bgpwatch.Observation) bool {
		for _, o := range obs {
			select {
			case out <- o:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	r := NewReader(c)
	var obs []bgpwatch.Observation
	reset := false
	for {
		b, off, err := r.Next()
		if err != nil {
			var pe *ParseError
			switch {
			case errors.Is(err, io.EOF), ctx.Err() != nil, errors.Is(err, net.ErrClosed):
				s.log.Info("bmp router disconnected", "router", dec.Name(), "address", remote)
			case errors.As(err, &pe):
				reset = true
				s.log.Warn("bmp router connection reset: malformed message", "router", dec.Name(), "address", remote, "offset", pe.Offset, "reason", pe.Reason)
			default:
				s.log.Info("bmp router disconnected", "router", dec.Name(), "address", remote, "err", err)
			}
			break
		}
		obs, err = dec.Decode(b, off, obs[:0])
		s.routers.Touch(e, s.cfg.Now())
		if !send(obs) {
			break
		}
		if err != nil {
			reset = true
			var pe *ParseError
			if errors.As(err, &pe) {
				s.log.Warn("bmp router connection reset: malformed message", "router", dec.Name(), "address", remote, "offset", pe.Offset, "reason", pe.Reason)
			} else {
				s.log.Warn("bmp router connection reset: malformed message", "router", dec.Name(), "address", remote, "offset", off, "reason", err.Error())
			}
			break
		}
	}
	c.Close()
	now := s.cfg.Now()
	s.routers.Detach(e, now, reset)
	send(dec.Close(now, obs[:0]))
}
