// Package rislive reads RIPE RIS Live (https://ris-live.ripe.net), the
// websocket stream of BGP messages seen by RIS route collectors: a Client
// that subscribes, reconnects with back-off and detects dead streams, and a
// decoder from the stream's JSON messages to bgpwatch observations. Each
// observation's Peer is the collector (the message's host without its
// domain, "rrc21.ripe.net" → "rrc21", as the RIS archive names it),
// the peer's ASN and address.
package rislive

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
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
	NextHop  string
	Prefixes []string
}

// Data is the body of a ris_message. Fields not used by bgpwatch are left
// out; Raw keeps the message bytes in hex when the subscription asked.
type Data struct {
	Timestamp     float64
	Peer          string
	PeerASN       flexNumber // a JSON number or a string holding one
	ID            string
	Host          string
	Type          string
	Origin        string // the ORIGIN attribute ("igp", ...), not the origin AS
	Announcements []Announcement
	Withdrawals   []string
	Raw           string
	State         string
	// origin is the origin AS of "path" (see OriginASN).
	origin bgpwatch.ASN
}

// flexNumber accepts a JSON number or a string holding one (RIS Live sends
// peer_asn as a string).
type flexNumber uint32

// setRaw sets n from the JSON value raw, as it is in the message.
func (n *flexNumber) setRaw(raw string) error {
	s := strings.Trim(raw, `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: number %q", ErrMalformed, raw)
	}
	*n = flexNumber(v)
	return nil
}

// Decode parses one stream message (one line of a recording). The whole
// message must be valid JSON (RFC 8259), and the fields bgpwatch reads
// must have their types; everything else is checked for syntax only.
// Keys match as encoding/json matches them (exactly, else ignoring case).
//
// It is a hand-written scanner rather than encoding/json: the public
// firehose peaks at tens of thousands of messages per second, and
// reflection-based decoding (a json.RawMessage per path element, a
// string per prefix) cost about seven times as much.
func Decode(b []byte) (Message, error) {
	d := scanner{s: string(b)}
	var m Message
	var typ string
	dataAt, dataAs := -1, ""
	var dataErr error
	d.ws()
	if d.peek() == 'n' {
		if err := d.lit("null"); err != nil {
			return Message{}, err
		}
	} else {
		if d.peek() != '{' {
			return Message{}, d.fail("message", "not an object")
		}
		err := d.object(func(k string) error {
			switch fold(k, "type", "data") {
			case "type":
				return d.strInto(&typ, "type")
			case "data":
				d.ws()
				dataAt, dataAs, dataErr = d.i, "", nil
				// RIS Live puts "type" first: decode data right away.
				if typ == TypeMessage || typ == TypeError {
					dataAs = typ
					m.Data, m.Error = Data{}, ""
					if err := d.dataFor(typ, &m); err != nil {
						// Maybe only wrong for this type (a later
						// "type" may change it): check the syntax.
						dataErr = err
						d.i = dataAt
						return d.skip()
					}
					return nil
				}
				return d.skip()
			}
			return d.skip()
		})
		if err != nil {
			return Message{}, err
		}
	}
	d.ws()
	if d.i != len(d.s) {
		return Message{}, d.fail("message", "data after the top-level value")
	}
	m.Type = typ
	switch typ {
	case TypeMessage, TypeError:
		if dataAt < 0 {
			if typ == TypeMessage {
				return Message{}, fmt.Errorf("%w: ris_message without data", ErrMalformed)
			}
			m.Data, m.Error = Data{}, ""
			break
		}
		if dataAs != typ {
			m.Data, m.Error = Data{}, ""
			d.i = dataAt
			dataErr = d.dataFor(typ, &m)
		}
		if dataErr != nil {
			return Message{}, dataErr
		}
	case "":
		return Message{}, fmt.Errorf("%w: no type", ErrMalformed)
	default:
		m.Data, m.Error = Data{}, ""
	}
	return m, nil
}

// dataFor decodes the "data" value at the scanner's position for a
// message of type typ.
func (d *scanner) dataFor(typ string, m *Message) error {
	if typ == TypeMessage {
		return d.data(&m.Data)
	}
	return d.objectOrNull("data", "not an object", func(k string) error {
		if fold(k, "message") == "message" {
			return d.strInto(&m.Error, "message")
		}
		return d.skip()
	})
}

// dataKeys are the keys of a ris_message body that Decode reads.
var dataKeys = []string{"timestamp", "peer", "peer_asn", "id", "host", "type", "path", "origin", "announcements", "withdrawals", "raw", "state"}

// data decodes the body of a ris_message.
func (d *scanner) data(m *Data) error {
	return d.objectOrNull("data", "not an object", func(k string) error {
		var err error
		switch fold(k, dataKeys...) {
		case "timestamp":
			err = d.floatInto(&m.Timestamp, "timestamp")
		case "peer":
			err = d.strInto(&m.Peer, "peer")
		case "peer_asn":
			var raw string
			if raw, err = d.rawValue(); err == nil {
				err = m.PeerASN.setRaw(raw)
			}
		case "id":
			err = d.strInto(&m.ID, "id")
		case "host":
			err = d.strInto(&m.Host, "host")
		case "type":
			err = d.strInto(&m.Type, "type")
		case "path":
			m.origin, err = d.path()
		case "origin":
			err = d.strInto(&m.Origin, "origin")
		case "announcements":
			m.Announcements, err = d.announcements(m.Announcements)
		case "withdrawals":
			m.Withdrawals, err = d.strings("withdrawals", m.Withdrawals)
		case "raw":
			err = d.strInto(&m.Raw, "raw")
		case "state":
			err = d.strInto(&m.State, "state")
		default:
			err = d.skip()
		}
		return err
	})
}

// path reads the "path" array and returns its origin AS by bgpwatch's
// origin rule: numbers are AS_SEQUENCE members, a nested array is an
// AS_SET. An element of another kind (a string, an ASN out of range)
// makes the origin 0, as does null.
func (d *scanner) path() (bgpwatch.ASN, error) {
	d.ws()
	if d.peek() == 'n' {
		return 0, d.lit("null")
	}
	if d.peek() != '[' {
		return 0, d.fail("path", "not an array")
	}
	var o bgpwatch.PathOrigin
	bad := false
	err := d.array(func() error {
		d.ws()
		switch c := d.peek(); {
		case c == '[':
			// An AS_SET. encoding/json leaves a null member 0.
			var sg bgpwatch.Segment
			sg.Type = bgpwatch.SegmentSet
			err := d.array(func() error {
				d.ws()
				if d.peek() == 'n' {
					sg.Len++
					sg.Last = 0
					return d.lit("null")
				}
				tok, err := d.rawValue()
				if err != nil {
					return err
				}
				v, perr := strconv.ParseUint(tok, 10, 32)
				if perr != nil {
					bad = true
				}
				sg.Len++
				sg.Last = bgpwatch.ASN(v)
				return nil
			})
			o.Add(sg)
			return err
		case c == '-' || (c >= '0' && c <= '9'):
			tok, err := d.number()
			if err != nil {
				return err
			}
			v, perr := strconv.ParseUint(tok, 10, 32)
			if perr != nil {
				bad = true
			}
			o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentSequence, Len: 1, Last: bgpwatch.ASN(v)})
			return nil
		default:
			bad = true
			return d.skip()
		}
	})
	if err != nil || bad {
		return 0, err
	}
	return o.ASN(), nil
}

// announcements reads the "announcements" array into dst. As with
// encoding/json, a repeated key reuses the earlier elements: a field or
// element absent (or null) the second time keeps its earlier value.
func (d *scanner) announcements(dst []Announcement) ([]Announcement, error) {
	d.ws()
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	if d.peek() != '[' {
		return nil, d.fail("announcements", "not an array")
	}
	out := dst[:0]
	if out == nil {
		out = []Announcement{}
	}
	err := d.array(func() error {
		var old Announcement
		if n := len(out); n < cap(out) {
			old = out[:n+1][n]
		}
		out = append(out, old)
		a := &out[len(out)-1]
		return d.objectOrNull("announcements", "element not an object", func(k string) error {
			var err error
			switch fold(k, "next_hop", "prefixes") {
			case "next_hop":
				err = d.strInto(&a.NextHop, "next_hop")
			case "prefixes":
				a.Prefixes, err = d.strings("prefixes", a.Prefixes)
			default:
				err = d.skip()
			}
			return err
		})
	})
	return out, err
}

// strings reads an array of strings into dst (reused as encoding/json
// does: a null element keeps the earlier value, else "").
func (d *scanner) strings(field string, dst []string) ([]string, error) {
	d.ws()
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	if d.peek() != '[' {
		return nil, d.fail(field, "not an array")
	}
	out := dst[:0]
	if out == nil {
		out = make([]string, 0, 8)
	}
	err := d.array(func() error {
		var old string
		if n := len(out); n < cap(out) {
			old = out[:n+1][n]
		}
		d.ws()
		if d.peek() == 'n' {
			out = append(out, old)
			return d.lit("null")
		}
		s, err := d.optString(field)
		out = append(out, s)
		return err
	})
	return out, err
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
	return bgpwatch.Peer{Collector: CollectorName(d.Host), ASN: bgpwatch.ASN(d.PeerASN), Addr: a.Unmap()}, nil
}

// OriginASN returns the origin AS of the message's "path" by bgpwatch's
// origin rule (bgpwatch.PathOrigin). RIS Live writes an AS_SEQUENCE's ASes
// as plain numbers and an AS_SET as a nested array
// ("path":[3333,1299,[64500,64501]]), with AS4_PATH already merged; it
// has no form for confederation segments. 0 when the path is empty, not
// attributed (ends in a set of several ASes) or has an element that is no
// ASN.
func (d *Data) OriginASN() bgpwatch.ASN { return d.origin }

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
