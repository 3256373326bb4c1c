// Package rislive reads RIPE RIS Live (https://ris-live.ripe.net), the
// websocket stream of BGP messages seen by RIS route collectors: a Client
// that subscribes, reconnects with back-off and detects dead streams, and a
// decoder from the stream's JSON messages to bgpwatch observations. Each
// observation's Peer is the collector (the message's host, e.g. "rrc21"),
// the peer's ASN and address.
package rislive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Message types of the stream's envelope.
const (
	TypeMessage = "ris_message"
	TypeError   = "ris_error"
	TypePong    = "pong"
)

// BGP message types inside a ris_message.
const (
	Update       = "UPDATE"
	PeerState    = "RIS_PEER_STATE"
	Open         = "OPEN"
	Notification = "NOTIFICATION"
	Keepalive    = "KEEPALIVE"
)

// ErrMalformed marks a message that cannot be decoded.
var ErrMalformed = errors.New("malformed RIS Live message")

// Message is one decoded stream message.
type Message struct {
	Type string // TypeMessage, TypeError, TypePong or another envelope type
	// Error is the text of a ris_error.
	Error string
	// Data is the body of a ris_message.
	Data Data
}

// Announcement is one next hop and the prefixes announced through it.
type Announcement struct {
	NextHop  string   `json:"next_hop"`
	Prefixes []string `json:"prefixes"`
}

// Data is the body of a ris_message. Fields not used by bgpwatch are left
// out; Raw keeps the message bytes in hex when the subscription asked.
type Data struct {
	Timestamp     float64           `json:"timestamp"`
	Peer          string            `json:"peer"`
	PeerASN       flexNumber        `json:"peer_asn"`
	ID            string            `json:"id"`
	Host          string            `json:"host"`
	Type          string            `json:"type"`
	Path          []json.RawMessage `json:"path"`
	Origin        string            `json:"origin"`
	Announcements []Announcement    `json:"announcements"`
	Withdrawals   []string          `json:"withdrawals"`
	Raw           string            `json:"raw"`
	State         string            `json:"state"`
}

// flexNumber accepts a JSON number or a string holding one (RIS Live sends
// peer_asn as a string).
type flexNumber uint32

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: number %q", ErrMalformed, b)
	}
	*n = flexNumber(v)
	return nil
}

type envelope struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// Decode parses one stream message (one line of a recording).
func Decode(b []byte) (Message, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m := Message{Type: env.Type}
	switch env.Type {
	case TypeMessage:
		if err := json.Unmarshal(env.Data, &m.Data); err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	case TypeError:
		var e struct {
			Message string `json:"message"`
		}
		if len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, &e); err != nil {
				return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		}
		m.Error = e.Message
	case "":
		return Message{}, fmt.Errorf("%w: no type", ErrMalformed)
	}
	return m, nil
}

// Time returns the message's timestamp.
func (d *Data) Time() time.Time {
	if d.Timestamp <= 0 || math.IsNaN(d.Timestamp) || d.Timestamp > 1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(d.Timestamp)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// PeerOf returns the collector session the message is about.
func (d *Data) PeerOf() (bgpwatch.Peer, error) {
	a, err := netip.ParseAddr(d.Peer)
	if err != nil {
		return bgpwatch.Peer{}, fmt.Errorf("%w: peer %q", ErrMalformed, d.Peer)
	}
	if d.Host == "" {
		return bgpwatch.Peer{}, fmt.Errorf("%w: no host", ErrMalformed)
	}
	return bgpwatch.Peer{Collector: d.Host, ASN: bgpwatch.ASN(d.PeerASN), Addr: a.Unmap()}, nil
}

// OriginASN returns the origin AS of the path by bgpwatch's origin rule
// (bgpwatch.PathOrigin). RIS Live writes an AS_SEQUENCE's ASes as plain
// numbers and an AS_SET as a nested array ("path":[3333,1299,[64500,64501]]);
// it has no form for confederation segments. 0 when the path is empty,
// not attributed (ends in a set of several ASes) or malformed.
func (d *Data) OriginASN() bgpwatch.ASN {
	var o bgpwatch.PathOrigin
	for _, e := range d.Path {
		e = bytes.TrimSpace(e)
		if len(e) > 0 && e[0] == '[' {
			var set []uint32
			if err := json.Unmarshal(e, &set); err != nil {
				return 0
			}
			s := bgpwatch.Segment{Type: bgpwatch.SegmentSet, Len: len(set)}
			if len(set) > 0 {
				s.Last = bgpwatch.ASN(set[len(set)-1])
			}
			o.Add(s)
			continue
		}
		v, err := strconv.ParseUint(string(e), 10, 32)
		if err != nil {
			return 0
		}
		o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentSequence, Len: 1, Last: bgpwatch.ASN(v)})
	}
	return o.ASN()
}

// PeerIsDown reports whether a RIS_PEER_STATE message says the collector's
// session left the connected state.
func (d *Data) PeerIsDown() bool {
	return d.Type == PeerState && d.State != "connected" && d.State != "established" && d.State != ""
}

// Observations appends the message's observations to dst: an UPDATE gives
// one Withdraw per withdrawn prefix and one Announce per announced prefix
// (origin: see OriginASN); a RIS_PEER_STATE other than connected
// gives PeerDown. Other messages give none. Unparseable prefixes are
// skipped and counted in bad. now stamps messages without a timestamp.
func (m *Message) Observations(dst []bgpwatch.Observation, now time.Time) (out []bgpwatch.Observation, bad int, err error) {
	if m.Type != TypeMessage {
		return dst, 0, nil
	}
	d := &m.Data
	if d.Type != Update && d.Type != PeerState {
		return dst, 0, nil
	}
	peer, err := d.PeerOf()
	if err != nil {
		return dst, 0, err
	}
	t := d.Time()
	if t.IsZero() {
		t = now
	}
	if d.Type == PeerState {
		if d.PeerIsDown() {
			dst = append(dst, bgpwatch.Observation{Time: t, Kind: bgpwatch.PeerDown, Peer: peer})
		}
		return dst, 0, nil
	}
	for _, w := range d.Withdrawals {
		p, ok := parsePrefix(w)
		if !ok {
			bad++
			continue
		}
		dst = append(dst, bgpwatch.Observation{Time: t, Kind: bgpwatch.Withdraw, Peer: peer, Prefix: p})
	}
	origin := d.OriginASN()
	for _, a := range d.Announcements {
		for _, s := range a.Prefixes {
			p, ok := parsePrefix(s)
			if !ok {
				bad++
				continue
			}
			dst = append(dst, bgpwatch.Observation{Time: t, Kind: bgpwatch.Announce, Peer: peer, Prefix: p, Origin: origin})
		}
	}
	return dst, bad, nil
}

func parsePrefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}
