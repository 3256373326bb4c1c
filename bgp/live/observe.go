package live

import (
	"net/netip"
	"time"

	gobgpapi "github.com/osrg/gobgp/v3/api"

	"github.com/bgpwatch/bgpwatch"
)

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
