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
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
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

// resetLoop hard-resets the sessions on which gobgp disabled an address
// family. RFC 7606 §5.3 lets a speaker answer an MP_REACH_NLRI or
// MP_UNREACH_NLRI it cannot parse with either a session reset or "AFI/SAFI
// disable", which removes all of the family's routes from that neighbor.
// gobgp v3 chooses the latter but only logs it: the family's routes stay
// in the Adj-RIB-In (no withdrawals reach the watch), the routes of the
// unparsable UPDATE are lost, and later UPDATEs of the family are accepted
// as before. bgpwatch's view of that neighbor would go stale without
// anything showing it. A session reset, the RFC's other choice, is exact:
// PeerDown drops the neighbor's routes and the next session brings back
// every route it has.
func (s *Speaker) resetLoop(ctx context.Context) {
	defer close(s.resetDone)
	for {
		var addr string
		select {
		case addr = <-s.resets:
		case <-ctx.Done():
			return
		}
		s.resetSession(ctx, addr)
		// More errors queued from the same burst belong to the session
		// just reset: do not reset its successor for them.
		reset := map[string]bool{addr: true}
		for more := true; more; {
			select {
			case a := <-s.resets:
				if !reset[a] {
					reset[a] = true
					s.resetSession(ctx, a)
				}
			default:
				more = false
			}
		}
	}
}

// damper is the reset damping state of one configured neighbor, under
// Speaker.mu.
//
// A reset for an unparsable MP_REACH_NLRI or MP_UNREACH_NLRI marks the
// neighbor pending and computes its wait (resetSession). Once gobgp has
// the session down, the neighbor is removed from gobgp (hold), so gobgp
// neither accepts nor opens a connection for it, and added back, with the
// same configuration, when the wait has passed since the reset (readd); a
// freshly added neighbor goes straight from Idle to Active. gobgp's own
// idle hold after a reset (IdleHoldTimeAfterReset) counts in whole seconds
// and is reset to 5 s once expired, and DisablePeer/EnablePeer restarts
// that idle hold on enabling, so neither can keep a session down for an
// exact, growing time.
//
// When a session of a neighbor with resets in a row has stayed
// established for 4 times the last wait, the count starts over (quiet).
type damper struct {
	conf    *gobgpapi.Peer // the neighbor as added to gobgp
	count   int            // resets in a row
	wait    time.Duration  // the wait of the latest reset
	until   time.Time      // when the session held down may come back
	pending bool           // reset requested; the neighbor not yet removed
	removed bool           // removed from gobgp, until readd
	gen     int            // bumped to void a quiet timer that already fired
	quiet   *time.Timer    // clears count after a stable session
	back    *time.Timer    // readd
}

// quietFactor times the last wait is how long a session must stay
// established before its reset count starts over.
const quietFactor = 4

func (d *damper) stopTimers() {
	d.gen++
	if d.quiet != nil {
		d.quiet.Stop()
		d.quiet = nil
	}
	if d.back != nil {
		d.back.Stop()
		d.back = nil
	}
}

// backoff is the wait after the n-th reset in a row (n >= 1).
func (s *Speaker) backoff(n int) time.Duration {
	w := s.retry
	for i := 1; i < n && w < s.backoffMax; i++ {
		w *= 2
	}
	return min(w, s.backoffMax)
}

// goLocked runs f on a goroutine that Stop waits for, unless the speaker
// is stopping. s.mu must be held.
func (s *Speaker) goLocked(f func()) {
	if s.stopping {
		return
	}
	s.held.Add(1)
	go func() {
		defer s.held.Done()
		f()
	}()
}

// resetSession hard-resets the session with addr (as gobgp spells it)
// unless it is already being reset or gobgp has it not established
// (already going down), and damps the neighbor (see damper).
//
// gobgp's own state is asked, not Session.State: the watch reports
// Established some time after gobgp's handler of the session has started
// parsing UPDATEs, so an UPDATE sent right after the OPEN exchange can
// fail while Session.State still says "openconfirm".
func (s *Speaker) resetSession(ctx context.Context, addr string) {
	var d *damper
	if a, err := netip.ParseAddr(addr); err == nil {
		s.mu.Lock()
		d = s.damp[a.Unmap()]
		busy := (d != nil && (d.pending || d.removed)) || s.stopping
		s.mu.Unlock()
		if busy {
			return
		}
	}
	if !s.gobgpEstablished(ctx, addr) {
		return
	}
	if d != nil {
		s.mu.Lock()
		d.stopTimers()
		d.count++
		d.wait = s.backoff(d.count)
		d.until = time.Now().Add(d.wait)
		d.pending = true
		n, wait := d.count, d.wait
		s.mu.Unlock()
		s.log.Warn(fmt.Sprintf("unparsable MP_REACH_NLRI or MP_UNREACH_NLRI: resetting the session (RFC 7606 section 5.3, %s in a row); next attempt in %s",
			ordinal(n), wait), "peer", addr, "resets", n, "wait", wait)
	} else {
		s.log.Warn("unparsable MP_REACH_NLRI or MP_UNREACH_NLRI: resetting the session (RFC 7606 section 5.3)", "peer", addr)
	}
	err := s.srv.ResetPeer(ctx, &gobgpapi.ResetPeerRequest{
		Address: addr, Communication: "bgpwatch: unparsable MP_REACH_NLRI or MP_UNREACH_NLRI",
	})
	if d == nil {
		if err != nil {
			s.log.Warn("session reset failed", "peer", addr, "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.Warn("session reset failed", "peer", addr, "err", err)
		d.pending = false
		return
	}
	s.goLocked(func() { s.hold(addr, d) })
}

// gobgpEstablished reports whether gobgp has the session with addr
// established.
func (s *Speaker) gobgpEstablished(ctx context.Context, addr string) bool {
	up := false
	err := s.srv.ListPeer(ctx, &gobgpapi.ListPeerRequest{Address: addr}, func(p *gobgpapi.Peer) {
		if p.State != nil && p.State.SessionState == gobgpapi.PeerState_ESTABLISHED {
			up = true
		}
	})
	return err == nil && up
}

// dampStateLocked follows a session's state change from was to now for
// the damping; s.mu is held.
func (s *Speaker) dampStateLocked(addr netip.Addr, d *damper, was, now string) {
	switch {
	case was == "established":
		d.stopTimers()
	case now == "established" && d.count > 0 && !s.stopping:
		d.stopTimers()
		gen, quiet := d.gen, quietFactor*d.wait
		d.quiet = time.AfterFunc(quiet, func() {
			s.mu.Lock()
			if s.stopping || d.gen != gen || d.count == 0 {
				s.mu.Unlock()
				return
			}
			n := d.count
			d.count, d.wait, d.quiet = 0, 0, nil
			s.mu.Unlock()
			s.log.Info("session stable: reset backoff cleared", "peer", addr, "resets", n, "stable", quiet)
		})
	}
}

// hold removes the neighbor d (addr as gobgp spells it) from gobgp, once
// gobgp has its reset session down, and arms readd for the end of the
// wait.
//
// gobgp broadcasts a session's state change (PeerDown for the watch) when
// it processes it, and drops the state changes of a neighbor removed
// before that, so the removal waits for gobgp's own state, polled: the
// watch's report comes later and would not tell a session going down
// from one just established whose Established has not yet been reported.
func (s *Speaker) hold(addr string, d *damper) {
	for deadline := time.Now().Add(5 * time.Second); s.gobgpEstablished(context.Background(), addr); {
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping || time.Now().After(deadline) {
			s.mu.Lock()
			d.pending = false
			s.mu.Unlock()
			if !stopping {
				s.log.Warn("session reset backoff: the session did not go down", "peer", addr)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := s.srv.DeletePeer(context.Background(), &gobgpapi.DeletePeerRequest{Address: d.conf.Conf.NeighborAddress})
	s.mu.Lock()
	defer s.mu.Unlock()
	d.pending = false
	if err != nil {
		// gobgp keeps the neighbor: it comes back after gobgp's idle hold.
		s.log.Warn("session reset backoff: cannot hold the session down", "peer", addr, "err", err)
		return
	}
	d.removed = true
	s.armReaddLocked(addr, d, time.Until(d.until))
}

func (s *Speaker) armReaddLocked(addr string, d *damper, after time.Duration) {
	if s.stopping {
		return
	}
	d.back = time.AfterFunc(after, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.goLocked(func() { s.readd(addr, d) })
	})
}

// readd adds the neighbor d back to gobgp at the end of its wait.
func (s *Speaker) readd(addr string, d *damper) {
	s.mu.Lock()
	if s.stopping || !d.removed {
		s.mu.Unlock()
		return
	}
	d.back = nil
	s.mu.Unlock()
	err := s.srv.AddPeer(context.Background(), &gobgpapi.AddPeerRequest{Peer: d.conf})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.Error("session reset backoff: cannot restore the neighbor; retrying", "peer", addr, "err", err, "in", s.retry)
		s.armReaddLocked(addr, d, s.retry)
		return
	}
	d.removed = false
	s.log.Info("session reset backoff over: the session may come back", "peer", addr, "resets", d.count)
}

// ordinal spells n as 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st.
func ordinal(n int) string {
	suffix := "th"
	switch n % 10 {
	case 1:
		suffix = "st"
	case 2:
		suffix = "nd"
	case 3:
		suffix = "rd"
	}
	if n%100 >= 11 && n%100 <= 13 {
		suffix = "th"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

var stateNames = map[gobgpapi.PeerState_SessionState]string{
	gobgpapi.PeerState_IDLE: "idle", gobgpapi.PeerState_CONNECT: "connect", gobgpapi.PeerState_ACTIVE: "active",
	gobgpapi.PeerState_OPENSENT: "opensent", gobgpapi.PeerState_OPENCONFIRM: "openconfirm",
	gobgpapi.PeerState_ESTABLISHED: "established",
}

// peerEvent records a state change; leaving Established yields PeerDown,
// because gobgp's Adj-RIB-In watch sends no withdrawals for a lost session.
func (s *Speaker) peerEvent(ev *gobgpapi.WatchEventResponse_PeerEvent) (bgpwatch.Observation, bool) {
	if ev.Type != gobgpapi.WatchEventResponse_PeerEvent_STATE || ev.Peer == nil || ev.Peer.State == nil {
		return bgpwatch.Observation{}, false
	}
	st := ev.Peer.State
	addr, err := netip.ParseAddr(st.NeighborAddress)
	if err != nil {
		return bgpwatch.Observation{}, false
	}
	addr = addr.Unmap()
	name, ok := stateNames[st.SessionState]
	if !ok {
		name = "unknown"
	}
	now := s.now()
	s.mu.Lock()
	x, ok := s.sessions[addr]
	if !ok {
		x = &Session{Peer: bgpwatch.Peer{Collector: Collector, ASN: bgpwatch.ASN(st.PeerAsn), Addr: addr}}
		s.sessions[addr] = x
	}
	was := x.State
	if st.PeerAsn != 0 {
		x.Peer.ASN = bgpwatch.ASN(st.PeerAsn)
	}
	if was != name {
		x.State, x.Since = name, now
	}
	if name == "established" && was != name {
		x.Established++
	}
	if d := s.damp[addr]; d != nil && was != name {
		s.dampStateLocked(addr, d, was, name)
	}
	peer := x.Peer
	s.mu.Unlock()
	if was == name {
		return bgpwatch.Observation{}, false
	}
	s.log.Info("bgp session state", "peer", addr, "asn", peer.ASN, "from", was, "to", name)
	switch {
	case name == "established":
		s.est.Add(1)
	case was == "established":
		return bgpwatch.Observation{Time: now, Kind: bgpwatch.PeerDown, Peer: peer}, true
	}
	return bgpwatch.Observation{}, false
}

// pathObservation converts one Adj-RIB-In path.
func (s *Speaker) pathObservation(p *gobgpapi.Path) (bgpwatch.Observation, bool) {
	if p == nil || p.Nlri == nil {
		return bgpwatch.Observation{}, false
	}
	var nlri gobgpapi.IPAddressPrefix
	if err := p.Nlri.UnmarshalTo(&nlri); err != nil {
		return bgpwatch.Observation{}, false // EOR markers and other families
	}
	a, err := netip.ParseAddr(nlri.Prefix)
	if err != nil {
		return bgpwatch.Observation{}, false
	}
	pfx, err := a.Unmap().Prefix(int(nlri.PrefixLen))
	if err != nil {
		return bgpwatch.Observation{}, false
	}
	addr, err := netip.ParseAddr(p.NeighborIp)
	if err != nil {
		return bgpwatch.Observation{}, false
	}
	addr = addr.Unmap()
	now := s.now()
	if p.Age != nil {
		if lag := time.Since(p.Age.AsTime()); lag > time.Duration(s.maxLag.Load()) {
			s.maxLag.Store(int64(lag))
		}
	}
	s.routes.Add(1)
	s.mu.Lock()
	x, ok := s.sessions[addr]
	if !ok {
		x = &Session{Peer: bgpwatch.Peer{Collector: Collector, ASN: bgpwatch.ASN(p.SourceAsn), Addr: addr}, State: "established", Since: now}
		s.sessions[addr] = x
	}
	x.Updates++
	x.LastUpdate = now
	peer := x.Peer
	s.mu.Unlock()
	o := bgpwatch.Observation{Time: now, Peer: peer, Prefix: pfx, PathID: p.Identifier}
	if p.IsWithdraw {
		o.Kind = bgpwatch.Withdraw
		return o, true
	}
	o.Kind = bgpwatch.Announce
	o.Origin = originOf(p)
	return o, true
}

// originOf returns the origin AS of the path by bgpwatch's origin rule
// (bgpwatch.PathOrigin); 0 when it is not attributed or the path has no
// AS_PATH. gobgp has already merged AS4_PATH into AS_PATH for 2-byte
// neighbors (RFC 6793), and treats as withdrawn a path with
// confederation segments from an external neighbor (RFC 5065 §5.3,
// RFC 7606).
func originOf(p *gobgpapi.Path) bgpwatch.ASN {
	for _, a := range p.Pattrs {
		var ap gobgpapi.AsPathAttribute
		if !a.MessageIs(&ap) {
			continue
		}
		if err := a.UnmarshalTo(&ap); err != nil {
			return 0
		}
		var o bgpwatch.PathOrigin
		for _, seg := range ap.Segments {
			s := bgpwatch.Segment{Type: bgpwatch.SegmentType(seg.Type), Len: len(seg.Numbers)}
			if s.Len > 0 {
				s.Last = bgpwatch.ASN(seg.Numbers[s.Len-1])
			}
			o.Add(s)
		}
		return o.ASN()
	}
	return 0
}

// gobgpFamilyDisabled is the message gobgp v3 logs (pkg/server/fsm.go,
// handlingError) when it applies RFC 7606's AFI/SAFI disable to a
// neighbor; its field "Key" is the neighbor's address. The log is gobgp's
// only report of it. TestRFC7606MalformedUpdates fails if a gobgp upgrade
// changes this.
const gobgpFamilyDisabled = "Capability was disabled"

// gobgpMD5Failed is the message gobgp v3 logs (pkg/server/server.go,
// addNeighbor) when it cannot set a neighbor's TCP MD5 key on a listener;
// "Key" is the neighbor's address, "Err" the error.
const gobgpMD5Failed = "failed to set md5"

// gobgpLogger adapts gobgp's logger to slog. Fatal and Panic are logged as
// errors: the process stays up. familyDisabled, when set, is called with
// the neighbor's address when gobgp disables an address family;
// md5Failed with the neighbor's address and the error when gobgp cannot
// set its TCP MD5 key on a listener.
type gobgpLogger struct {
	log            *slog.Logger
	level          atomic.Uint32
	familyDisabled func(peer string)
	md5Failed      func(peer string, err any)
}

func (l *gobgpLogger) attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		if k == "Key" {
			k = "peer"
		}
		out = append(out, k, v)
	}
	return out
}

func (l *gobgpLogger) Panic(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Error(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Warn(msg string, f gobgplog.Fields) {
	l.log.Warn(msg, l.attrs(f)...)
	if msg == gobgpFamilyDisabled && l.familyDisabled != nil {
		if peer, ok := f["Key"].(string); ok {
			l.familyDisabled(peer)
		}
	}
	if msg == gobgpMD5Failed && l.md5Failed != nil {
		if peer, ok := f["Key"].(string); ok {
			l.md5Failed(peer, f["Err"])
		}
	}
}
func (l *gobgpLogger) Info(msg string, f gobgplog.Fields)  { l.log.Debug(msg, l.attrs(f)...) }
func (l *gobgpLogger) Debug(msg string, f gobgplog.Fields) {}
func (l *gobgpLogger) SetLevel(level gobgplog.LogLevel)    { l.level.Store(uint32(level)) }
func (l *gobgpLogger) GetLevel() gobgplog.LogLevel         { return gobgplog.LogLevel(l.level.Load()) }
