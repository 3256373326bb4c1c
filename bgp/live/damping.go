package live

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	gobgpapi "github.com/osrg/gobgp/v3/api"

	"github.com/bgpwatch/bgpwatch/internal/retry"
)

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
		d.wait = retry.Exp(s.retry, s.backoffMax, d.count)
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
