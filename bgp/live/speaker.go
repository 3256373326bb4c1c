// Package live is bgpwatch's live ingest: it peers with BGP routers through
// an embedded gobgp server (Speaker), turns every neighbor's pre-policy
// Adj-RIB-In into bgpwatch observations, and drives the same ingest pipeline
// as replay on the wall clock (Run). Status gathers session and feed state
// for GET /v1/peers and /metrics.
//
// A monitor must never announce anything: the speaker installs a global
// export policy that rejects every route, so routes learned from one
// neighbor are never sent to another.
//
// Malformed UPDATEs are handled as RFC 7606 asks, and the session stays
// up where it allows: gobgp treats an UPDATE with a malformed attribute
// such as COMMUNITIES or ORIGIN as a withdrawal of its prefixes (observed
// as Withdraw) and drops a malformed AGGREGATOR, keeping the route. An
// NLRI that cannot be parsed resets the session (observed as PeerDown);
// for MP_REACH_NLRI and MP_UNREACH_NLRI the speaker does the reset itself,
// since gobgp's own handling would leave stale routes (see resetLoop), and
// damps a neighbor that keeps sending them: each such reset in a row keeps
// the session down twice as long as the one before (see damper).
package live

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gobgpapi "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/bgpwatch/bgpwatch"
)

// Collector is the Peer.Collector of observations from bgpwatch's own BGP
// sessions.
const Collector = "live"

// Neighbor is one configured BGP session.
type Neighbor struct {
	Address  netip.Addr
	ASN      bgpwatch.ASN
	Passive  bool   // wait for the neighbor to connect
	Port     uint16 // remote port for active sessions; 0 means 179
	Password string // TCP MD5 signature key (RFC 2385, at most 80 bytes); "" for none
	AddPath  bool   // negotiate ADD-PATH receive (RFC 7911)
}

// Config configures a Speaker.
type Config struct {
	ASN      bgpwatch.ASN
	RouterID netip.Addr
	// ListenAddresses to accept sessions on; empty means all.
	ListenAddresses []netip.Addr
	// ListenPort for incoming sessions; 0 means 179, -1 disables listening.
	ListenPort int32
	Neighbors  []Neighbor
	// ConnectRetry is the wait between connection attempts of active
	// sessions and, for all sessions, the idle time after a session reset
	// (gobgp's default is 30 s, too slow to notice a restarted router).
	// 0 means 5 s.
	ConnectRetry time.Duration
	// ResetBackoffMax caps the damping of a neighbor whose sessions the
	// speaker resets for unparsable MP_REACH_NLRI or MP_UNREACH_NLRI: the
	// n-th such reset in a row keeps the session down for ConnectRetry ×
	// 2^(n-1), at most ResetBackoffMax. The count starts over once a
	// session has stayed established for 4 times its last wait without
	// such an error. 0 means 15 minutes.
	ResetBackoffMax time.Duration
	// Now stamps observations; nil means time.Now.
	Now func() time.Time
	// Logger receives session and gobgp messages; nil discards them.
	Logger *slog.Logger
}

// Session is the state of one BGP session.
type Session struct {
	Peer        bgpwatch.Peer
	State       string    // "established", "idle", "active", "connect", "opensent", "openconfirm"
	Since       time.Time // when State was entered
	Updates     int64     // routes (announcements and withdrawals) received
	LastUpdate  time.Time // zero before the first route
	Established int64     // times the session reached Established
	// ResetCount is the number of resets in a row for unparsable
	// MP_REACH_NLRI or MP_UNREACH_NLRI (0 again once a session has stayed
	// up long enough after the last one).
	ResetCount int
	// IdleUntil is when a session held down after such a reset may come
	// back; zero when it is not held down.
	IdleUntil time.Time
}

// Stats counts what a Speaker has seen.
type Stats struct {
	Routes       int64         // routes (announcements and withdrawals) received
	Observations int64         // observations sent on
	Established  int64         // session establishments
	MaxLag       time.Duration // largest delay between gobgp receiving a route and the hand-off
}

// Speaker is a running embedded BGP speaker.
type Speaker struct {
	srv    *server.BgpServer
	log    *slog.Logger
	now    func() time.Time
	cancel context.CancelFunc
	done   chan struct{} // closed when loop has returned
	// resets carries neighbors whose family gobgp disabled (see
	// resetLoop); resetDone is closed when resetLoop has returned.
	resets    chan string
	resetDone chan struct{}
	// retry is Config.ConnectRetry, backoffMax Config.ResetBackoffMax
	// (defaults applied).
	retry, backoffMax time.Duration
	// held counts the goroutines of the damping that are running (see
	// goLocked); Stop waits for them.
	held sync.WaitGroup

	mu       sync.Mutex
	stopping bool // set by Stop: no more damping goroutines or timers
	sessions map[netip.Addr]*Session
	damp     map[netip.Addr]*damper // by configured neighbor address
	md5Errs  map[string]any         // gobgp's errors setting a neighbor's TCP MD5 key on its listeners, by address

	routes, obs, est atomic.Int64
	maxLag           atomic.Int64
}

// Start starts the speaker and its sessions. Observations are sent on out;
// when out is full the speaker waits (gobgp buffers meanwhile), so the
// consumer must keep up. Stop ends it.
func Start(ctx context.Context, cfg Config, out chan<- bgpwatch.Observation) (*Speaker, error) {
	if cfg.ASN == 0 {
		return nil, fmt.Errorf("live: %w: local ASN is required", bgpwatch.ErrInvalid)
	}
	if !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("live: %w: router id must be an IPv4 address, got %q", bgpwatch.ErrInvalid, cfg.RouterID)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	retry := cfg.ConnectRetry
	if retry <= 0 {
		retry = 5 * time.Second
	}
	backoffMax := cfg.ResetBackoffMax
	if backoffMax <= 0 {
		backoffMax = 15 * time.Minute
	}
	gl := &gobgpLogger{log: log.With("component", "gobgp")}
	s := &Speaker{
		srv:        server.NewBgpServer(server.LoggerOption(gl)),
		log:        log,
		now:        now,
		done:       make(chan struct{}),
		resets:     make(chan string, 16),
		resetDone:  make(chan struct{}),
		retry:      retry,
		backoffMax: backoffMax,
		sessions:   make(map[netip.Addr]*Session),
		damp:       make(map[netip.Addr]*damper),
		md5Errs:    make(map[string]any),
	}
	gl.familyDisabled = func(peer string) {
		// Called by gobgp with its FSM lock held: never block.
		select {
		case s.resets <- peer:
		default:
		}
	}
	gl.md5Failed = func(peer string, err any) {
		s.mu.Lock()
		s.md5Errs[peer] = err
		s.mu.Unlock()
	}
	go s.srv.Serve()
	fail := func(err error) (*Speaker, error) {
		s.srv.Stop()
		return nil, fmt.Errorf("live: %w", err)
	}
	listen := make([]string, 0, len(cfg.ListenAddresses))
	for _, a := range cfg.ListenAddresses {
		listen = append(listen, a.String())
	}
	port := cfg.ListenPort
	if port == 0 {
		port = 179
	}
	if port > 0 {
		noMPTCPListeners()
	}
	if err := s.srv.StartBgp(ctx, &gobgpapi.StartBgpRequest{Global: &gobgpapi.Global{
		Asn: uint32(cfg.ASN), RouterId: cfg.RouterID.String(), ListenPort: port, ListenAddresses: listen,
	}}); err != nil {
		return fail(fmt.Errorf("start bgp: %w", err))
	}
	// A monitor never announces: reject everything on export, globally.
	if err := s.srv.SetPolicyAssignment(ctx, &gobgpapi.SetPolicyAssignmentRequest{Assignment: &gobgpapi.PolicyAssignment{
		Name: "global", Direction: gobgpapi.PolicyDirection_EXPORT, DefaultAction: gobgpapi.RouteAction_REJECT,
	}}); err != nil {
		return fail(fmt.Errorf("export policy: %w", err))
	}

	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	events := make(chan *gobgpapi.WatchEventResponse, 1)
	err := s.srv.WatchEvent(wctx, &gobgpapi.WatchEventRequest{
		Peer: &gobgpapi.WatchEventRequest_Peer{},
		Table: &gobgpapi.WatchEventRequest_Table{Filters: []*gobgpapi.WatchEventRequest_Table_Filter{
			{Type: gobgpapi.WatchEventRequest_Table_Filter_ADJIN, Init: true},
		}},
	}, func(r *gobgpapi.WatchEventResponse) {
		// gobgp calls this from one goroutine per watch, in order. Waiting
		// here keeps peer events and routes in order; gobgp queues behind.
		select {
		case events <- r:
		case <-wctx.Done():
		}
	})
	if err != nil {
		cancel()
		return fail(fmt.Errorf("watch: %w", err))
	}
	go s.loop(wctx, events, out)
	go s.resetLoop(wctx)

	for _, n := range cfg.Neighbors {
		if err := s.addNeighbor(ctx, cfg.ASN, n, retry); err != nil {
			s.Stop()
			return nil, fmt.Errorf("live: neighbor %s: %w", n.Address, err)
		}
	}
	return s, nil
}

func (s *Speaker) addNeighbor(ctx context.Context, local bgpwatch.ASN, n Neighbor, retry time.Duration) error {
	if !n.Address.IsValid() || n.ASN == 0 {
		return fmt.Errorf("%w: address and ASN are required", bgpwatch.ErrInvalid)
	}
	if len(n.Password) > 80 { // Linux's TCP_MD5SIG_MAXKEYLEN
		return fmt.Errorf("%w: TCP MD5 key longer than 80 bytes", bgpwatch.ErrInvalid)
	}
	afi := func(a gobgpapi.Family_Afi) *gobgpapi.AfiSafi {
		as := &gobgpapi.AfiSafi{Config: &gobgpapi.AfiSafiConfig{
			Family: &gobgpapi.Family{Afi: a, Safi: gobgpapi.Family_SAFI_UNICAST}, Enabled: true,
		}}
		if n.AddPath {
			as.AddPaths = &gobgpapi.AddPaths{Config: &gobgpapi.AddPathsConfig{Receive: true}}
		}
		return as
	}
	secs := uint64(retry.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	p := &gobgpapi.Peer{
		Conf: &gobgpapi.PeerConf{
			NeighborAddress: n.Address.String(), PeerAsn: uint32(n.ASN), LocalAsn: uint32(local),
			AuthPassword: n.Password, Description: "bgpwatch monitor session",
			// A monitor announces nothing, so a path through its own
			// ASN is no loop of its own: keep such routes. gobgp's
			// default drops them before the Adj-RIB-In watch, even when
			// they replace an earlier route (which would then stay).
			AllowOwnAsn: math.MaxUint8,
		},
		Transport: &gobgpapi.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
		Timers: &gobgpapi.Timers{Config: &gobgpapi.TimersConfig{
			ConnectRetry: secs, IdleHoldTimeAfterReset: secs, HoldTime: 90, KeepaliveInterval: 30,
		}},
		AfiSafis: []*gobgpapi.AfiSafi{afi(gobgpapi.Family_AFI_IP), afi(gobgpapi.Family_AFI_IP6)},
	}
	s.mu.Lock()
	s.sessions[n.Address] = &Session{
		Peer:  bgpwatch.Peer{Collector: Collector, ASN: n.ASN, Addr: n.Address},
		State: "idle", Since: s.now(),
	}
	s.damp[n.Address] = &damper{conf: p}
	s.mu.Unlock()
	if err := s.srv.AddPeer(ctx, &gobgpapi.AddPeerRequest{Peer: p}); err != nil {
		return err
	}
	// gobgp sets the key on its listeners within AddPeer but only logs a
	// failure and goes on without it: the neighbor's signed segments
	// would be dropped, and the session never come up, silently.
	s.mu.Lock()
	merr, bad := s.md5Errs[n.Address.String()]
	s.mu.Unlock()
	if bad {
		return fmt.Errorf("TCP MD5 key could not be set on the listening socket: %v", merr)
	}
	return nil
}

// noMPTCPListeners makes the listeners the process opens from now on
// plain TCP sockets, so that gobgp can set its socket options on them:
// TCP MD5 keys, and TTL 255 for neighbors that use TTL security (GTSM,
// RFC 5082: on an MPTCP listener gobgp only warned "cannot set TTL (255)
// for TCPListener", at every start, and such a neighbor would drop the
// packets of the sessions it opens to bgpwatch).
//
// Since Go 1.24 the net package opens listeners as Multipath TCP sockets
// by default (GODEBUG multipathtcp=2) where the kernel has MPTCP, and
// Linux refuses TCP_MD5SIG on an MPTCP socket (ENOPROTOOPT). gobgp
// creates its listeners with a default net.ListenConfig, which bgpwatch
// cannot reach. So passive sessions with a Password never established:
// TestBIRDPasswordSession on Linux 6.18, Go 1.26, gobgp logging "failed
// to set md5 ... protocol not available", while dialing out worked
// (dialers are not MPTCP by default).
//
// The setting is process-wide, read by the net package at each Listen,
// and os.Setenv("GODEBUG") changes it at run time: set it to listeners
// off, keeping dialers as they were. An explicit choice of plain TCP
// listeners (0 or 3) is left alone.
func noMPTCPListeners() {
	env := os.Getenv("GODEBUG")
	val := ""
	for kv := range strings.SplitSeq(env, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "multipathtcp" {
			val = v // the last one counts
		}
	}
	switch val {
	case "0", "3":
		return
	case "1": // dialers and listeners: keep dialers
		val = "3"
	default:
		val = "0"
	}
	if env != "" {
		env += ","
	}
	os.Setenv("GODEBUG", env+"multipathtcp="+val)
}

// Stop closes every session and the server. Sessions held down by the
// reset damping are not brought back.
func (s *Speaker) Stop() {
	s.mu.Lock()
	s.stopping = true
	for _, d := range s.damp {
		d.stopTimers()
	}
	s.mu.Unlock()
	s.held.Wait()
	if s.cancel != nil {
		s.cancel()
		<-s.done
		<-s.resetDone
	}
	s.srv.Stop()
}

// Sessions returns the state of every configured session, by address.
func (s *Speaker) Sessions() []Session {
	s.mu.Lock()
	out := make([]Session, 0, len(s.sessions))
	for a, x := range s.sessions {
		c := *x
		if d := s.damp[a]; d != nil {
			c.ResetCount = d.count
			if d.pending || d.removed {
				c.IdleUntil = d.until
			}
		}
		out = append(out, c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Session) int { return a.Peer.Addr.Compare(b.Peer.Addr) })
	return out
}

// Stats returns the speaker's counters.
func (s *Speaker) Stats() Stats {
	return Stats{
		Routes: s.routes.Load(), Observations: s.obs.Load(), Established: s.est.Load(),
		MaxLag: time.Duration(s.maxLag.Load()),
	}
}

// loop turns watch events into observations.
func (s *Speaker) loop(ctx context.Context, events <-chan *gobgpapi.WatchEventResponse, out chan<- bgpwatch.Observation) {
	defer close(s.done)
	send := func(o bgpwatch.Observation) bool {
		select {
		case out <- o:
			s.obs.Add(1)
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var r *gobgpapi.WatchEventResponse
		select {
		case r = <-events:
		case <-ctx.Done():
			return
		}
		switch ev := r.Event.(type) {
		case *gobgpapi.WatchEventResponse_Peer:
			if o, ok := s.peerEvent(ev.Peer); ok && !send(o) {
				return
			}
		case *gobgpapi.WatchEventResponse_Table:
			for _, p := range ev.Table.Paths {
				o, ok := s.pathObservation(p)
				if !ok {
					continue
				}
				if !send(o) {
					return
				}
			}
		}
	}
}
