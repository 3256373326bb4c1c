// Package bmp decodes the BGP Monitoring Protocol (RFC 7854, with the
// Loc-RIB peer type of RFC 9069 and the Adj-RIB-Out flag of RFC 8671) and
// turns what routers report into the domain's route observations: the BMP
// source of the bgpwatch pipeline.
//
// The layers, from the bytes up:
//
//   - Reader frames a BMP byte stream (a router's TCP session, a capture)
//     into messages, refusing a length over MaxMessageLen before reading it.
//   - Parse decodes one message: common header, per-peer header and the
//     body of each message type.
//   - Decoder keeps one router's state (its name from the Initiation
//     message, each monitored peer's capabilities from Peer Up) and turns
//     messages into bgpwatch.Observation values: Route Monitoring into
//     Announce and Withdraw (BGP UPDATEs are decoded by bgp/mrt), Peer Down
//     and the router's disconnection into PeerDown.
//   - Station accepts router connections (serve's BMP listener).
//
// Capture reads a pcap file of BMP TCP sessions back into byte streams.
package bmp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Version is the BMP version this package decodes (RFC 7854).
const Version = 3

// MaxMessageLen bounds one BMP message. The largest legitimate messages are
// a Route Monitoring with an extended (64 KiB) BGP UPDATE and a Peer Up
// with two extended OPENs; a longer claim is refused before allocation.
const MaxMessageLen = 1 << 20

// Header sizes.
const (
	CommonHeaderLen = 6
	PeerHeaderLen   = 42
)

// Message types (RFC 7854 §4.1).
const (
	TypeRouteMonitoring = 0
	TypeStatistics      = 1
	TypePeerDown        = 2
	TypePeerUp          = 3
	TypeInitiation      = 4
	TypeTermination     = 5
	TypeRouteMirroring  = 6
)

var typeNames = [...]string{"route_monitoring", "statistics_report", "peer_down", "peer_up", "initiation", "termination", "route_mirroring"}

// TypeName names a message type ("route_monitoring", ...; "type_N" for
// unknown ones).
func TypeName(t uint8) string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type_%d", t)
}

// Peer types (RFC 7854 §4.2, RFC 9069 §4.1).
const (
	PeerGlobal   = 0
	PeerRD       = 1
	PeerLocal    = 2
	PeerLocRIB   = 3
	peerTypeLast = PeerLocRIB
)

// Per-peer header flags.
const (
	FlagV        = 0x80 // IPv6 peer address (peer types 0-2)
	FlagL        = 0x40 // post-policy (peer types 0-2)
	FlagA        = 0x20 // legacy 2-byte AS_PATH (peer types 0-2)
	FlagO        = 0x10 // Adj-RIB-Out (RFC 8671)
	FlagFiltered = 0x80 // Loc-RIB filtered (RFC 9069)
)

// RIB is the kind of table a peer's messages describe.
type RIB uint8

// RIB kinds.
const (
	AdjRIBInPre RIB = iota
	AdjRIBInPost
	AdjRIBOutPre
	AdjRIBOutPost
	LocRIB
	numRIB
)

var ribNames = [...]string{"adj-rib-in-pre", "adj-rib-in-post", "adj-rib-out-pre", "adj-rib-out-post", "loc-rib"}

func (k RIB) String() string {
	if k < numRIB {
		return ribNames[k]
	}
	return fmt.Sprintf("rib(%d)", uint8(k))
}

// ParseRIB parses a RIB kind name as String writes it.
func ParseRIB(s string) (RIB, error) {
	for i, n := range ribNames {
		if s == n {
			return RIB(i), nil
		}
	}
	return 0, fmt.Errorf("unknown BMP RIB kind %q: want adj-rib-in-pre, adj-rib-in-post, adj-rib-out-pre, adj-rib-out-post or loc-rib", s)
}

// RIBSet is a set of RIB kinds.
type RIBSet uint8

// DefaultRIBs counts only the pre-policy Adj-RIB-In: what each peer sent,
// before the router's own policy, as a route collector sees it.
const DefaultRIBs = RIBSet(1 << AdjRIBInPre)

// Has reports whether k is in the set.
func (s RIBSet) Has(k RIB) bool { return s&(1<<k) != 0 }

// With returns the set with k added.
func (s RIBSet) With(k RIB) RIBSet { return s | 1<<k }

// PeerHeader is the per-peer header (RFC 7854 §4.2).
type PeerHeader struct {
	Type          uint8
	Flags         uint8
	Distinguisher uint64
	Addr          netip.Addr
	AS            uint32
	BGPID         netip.Addr
	Sec, Micro    uint32
}

// RIB is the table kind the header's flags describe.
func (h *PeerHeader) RIB() RIB {
	if h.Type == PeerLocRIB {
		return LocRIB
	}
	k := AdjRIBInPre
	if h.Flags&FlagO != 0 {
		k = AdjRIBOutPre
	}
	if h.Flags&FlagL != 0 {
		k++
	}
	return k
}

// Legacy2ByteAS reports the A flag: the UPDATEs use 2-byte AS_PATHs.
func (h *PeerHeader) Legacy2ByteAS() bool { return h.Type != PeerLocRIB && h.Flags&FlagA != 0 }

// Time returns the header's timestamp; zero when the router left it 0.
func (h *PeerHeader) Time() time.Time {
	if h.Sec == 0 && h.Micro == 0 {
		return time.Time{}
	}
	return time.Unix(int64(h.Sec), int64(h.Micro%1000000)*1000).UTC()
}

// TLV is one information TLV (Initiation, Termination, Peer Up).
type TLV struct {
	Type  uint16
	Value []byte
}

// Initiation and Termination TLV types.
const (
	InfoString   = 0
	InfoSysDescr = 1
	InfoSysName  = 2
	TermReason   = 1
)

// PeerUp is the body of a Peer Up Notification. The OPENs are whole BGP
// messages (with their 19-byte header).
type PeerUp struct {
	LocalAddr              netip.Addr
	LocalPort, RemotePort  uint16
	SentOpen, ReceivedOpen []byte
	Info                   []TLV
}

// Stat is one counter or gauge of a Statistics Report. AFI and SAFI are
// set for the per-AFI/SAFI gauges.
type Stat struct {
	Type  uint16
	AFI   uint16
	SAFI  uint8
	Value uint64
}

// Message is one decoded BMP message. Byte slices alias the input.
type Message struct {
	Type uint8
	Peer PeerHeader // message types with a per-peer header
	// Update is the BGP message of a Route Monitoring (header included).
	Update []byte
	PeerUp PeerUp
	// DownReason and DownData are the Peer Down reason code and its data.
	DownReason uint8
	DownData   []byte
	Info       []TLV  // Initiation and Termination
	Stats      []Stat // Statistics Report
}

// HasPeer reports whether the message type carries a per-peer header.
func HasPeer(t uint8) bool {
	return t == TypeRouteMonitoring || t == TypeStatistics || t == TypePeerDown || t == TypePeerUp || t == TypeRouteMirroring
}

// ParseError is a malformed message: Offset is the stream offset of the
// byte where decoding failed.
type ParseError struct {
	Offset int64
	Reason string
}

func (e *ParseError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Reason) }

// parser tracks the position inside one message for error offsets.
type parser struct {
	base int64 // stream offset of the message
	b    []byte
	pos  int
}

func (p *parser) fail(at int, format string, a ...any) error {
	return &ParseError{Offset: p.base + int64(at), Reason: fmt.Sprintf(format, a...)}
}

func (p *parser) need(n int, what string) error {
	if len(p.b)-p.pos < n {
		return p.fail(p.pos, "%s: %d bytes needed, %d left in the message", what, n, len(p.b)-p.pos)
	}
	return nil
}

// Parse decodes one whole BMP message b (common header included) into m,
// reusing m's slices. off is the message's offset in its stream, used in
// errors. It never panics.
func Parse(b []byte, off int64, m *Message) error {
	p := parser{base: off, b: b}
	if err := p.need(CommonHeaderLen, "common header"); err != nil {
		return err
	}
	if b[0] != Version {
		return p.fail(0, "BMP version %d, want %d", b[0], Version)
	}
	n := binary.BigEndian.Uint32(b[1:])
	if n != uint32(len(b)) {
		return p.fail(1, "message length %d, but %d bytes given", n, len(b))
	}
	info, stats := m.Info[:0], m.Stats[:0]
	*m = Message{Type: b[5], Info: info, Stats: stats}
	p.pos = CommonHeaderLen
	if m.Type > TypeRouteMirroring {
		return p.fail(5, "unknown message type %d", m.Type)
	}
	if HasPeer(m.Type) {
		if err := p.peerHeader(&m.Peer); err != nil {
			return err
		}
	}
	switch m.Type {
	case TypeRouteMonitoring:
		return p.bgpMessage(&m.Update, "route monitoring", 2)
	case TypeStatistics:
		return p.statistics(m)
	case TypePeerDown:
		if err := p.need(1, "peer down reason"); err != nil {
			return err
		}
		// Any reason code means the session is down; unknown ones (a
		// newer RFC's) are kept as they are.
		m.DownReason = b[p.pos]
		m.DownData = b[p.pos+1:]
		return nil
	case TypePeerUp:
		return p.peerUp(m)
	case TypeInitiation, TypeTermination:
		var err error
		m.Info, err = p.tlvs(m.Info, "information TLV")
		return err
	}
	return nil // route mirroring: counted, not decoded
}

func (p *parser) peerHeader(h *PeerHeader) error {
	if err := p.need(PeerHeaderLen, "per-peer header"); err != nil {
		return err
	}
	b := p.b[p.pos:]
	h.Type, h.Flags = b[0], b[1]
	if h.Type > peerTypeLast {
		return p.fail(p.pos, "per-peer header: unknown peer type %d", h.Type)
	}
	h.Distinguisher = binary.BigEndian.Uint64(b[2:])
	if h.Type != PeerLocRIB && h.Flags&FlagV != 0 {
		h.Addr = netip.AddrFrom16([16]byte(b[10:26]))
	} else {
		h.Addr = netip.AddrFrom4([4]byte(b[22:26]))
	}
	h.AS = binary.BigEndian.Uint32(b[26:])
	h.BGPID = netip.AddrFrom4([4]byte(b[30:34]))
	h.Sec = binary.BigEndian.Uint32(b[34:])
	h.Micro = binary.BigEndian.Uint32(b[38:])
	p.pos += PeerHeaderLen
	return nil
}

// bgpMessage reads one BGP message (marker, length, type) at p.pos. With
// want > 0 the type must be want.
func (p *parser) bgpMessage(dst *[]byte, what string, want uint8) error {
	if len(p.b)-p.pos < 19 {
		return p.fail(p.pos, "%s: BGP header: 19 bytes needed, %d left in the message", what, len(p.b)-p.pos)
	}
	b := p.b[p.pos:]
	for i := 0; i < 16; i++ {
		if b[i] != 0xff {
			return p.fail(p.pos+i, "%s: BGP marker is not all ones", what)
		}
	}
	n := int(binary.BigEndian.Uint16(b[16:]))
	if n < 19 {
		return p.fail(p.pos+16, "%s: BGP message length %d, minimum 19", what, n)
	}
	if n > len(b) {
		return p.fail(p.pos+16, "%s: BGP message length %d runs past the BMP message (%d bytes left)", what, n, len(b))
	}
	if want != 0 && b[18] != want {
		return p.fail(p.pos+18, "%s: BGP message type %d, want %d", what, b[18], want)
	}
	*dst = b[:n]
	p.pos += n
	return nil
}

func (p *parser) tlvs(dst []TLV, what string) ([]TLV, error) {
	for p.pos < len(p.b) {
		if err := p.need(4, what); err != nil {
			return dst, err
		}
		t := binary.BigEndian.Uint16(p.b[p.pos:])
		l := int(binary.BigEndian.Uint16(p.b[p.pos+2:]))
		if len(p.b)-p.pos-4 < l {
			return dst, p.fail(p.pos+2, "%s type %d: length %d runs past the message", what, t, l)
		}
		dst = append(dst, TLV{Type: t, Value: p.b[p.pos+4 : p.pos+4+l]})
		p.pos += 4 + l
	}
	return dst, nil
}

func (p *parser) peerUp(m *Message) error {
	if err := p.need(20, "peer up"); err != nil {
		return err
	}
	b := p.b[p.pos:]
	u := &m.PeerUp
	// An IPv4 local address fills the last 4 bytes (RFC 7854 §4.10); it
	// may differ in family from the peer's, so the bytes decide.
	if isV4Mapped(b[:16]) {
		u.LocalAddr = netip.AddrFrom4([4]byte(b[12:16]))
	} else {
		u.LocalAddr = netip.AddrFrom16([16]byte(b[:16]))
	}
	u.LocalPort = binary.BigEndian.Uint16(b[16:])
	u.RemotePort = binary.BigEndian.Uint16(b[18:])
	p.pos += 20
	if err := p.bgpMessage(&u.SentOpen, "peer up sent OPEN", 1); err != nil {
		return err
	}
	if err := p.bgpMessage(&u.ReceivedOpen, "peer up received OPEN", 1); err != nil {
		return err
	}
	var err error
	u.Info, err = p.tlvs(m.Info[:0], "peer up information TLV")
	m.Info = u.Info
	return err
}

// isV4Mapped reports whether a 16-byte address field holds an IPv4 address
// (12 zero bytes first).
func isV4Mapped(b []byte) bool {
	for _, c := range b[:12] {
		if c != 0 {
			return false
		}
	}
	return true
}

func (p *parser) statistics(m *Message) error {
	if err := p.need(4, "statistics count"); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(p.b[p.pos:])
	p.pos += 4
	for i := uint32(0); i < n; i++ {
		if err := p.need(4, fmt.Sprintf("statistic %d of %d", i+1, n)); err != nil {
			return err
		}
		t := binary.BigEndian.Uint16(p.b[p.pos:])
		l := int(binary.BigEndian.Uint16(p.b[p.pos+2:]))
		p.pos += 4
		if err := p.need(l, fmt.Sprintf("statistic %d of %d (type %d)", i+1, n, t)); err != nil {
			return err
		}
		v := p.b[p.pos : p.pos+l]
		p.pos += l
		s := Stat{Type: t}
		switch l {
		case 4:
			s.Value = uint64(binary.BigEndian.Uint32(v))
		case 8:
			s.Value = binary.BigEndian.Uint64(v)
		case 11:
			s.AFI, s.SAFI, s.Value = binary.BigEndian.Uint16(v), v[2], binary.BigEndian.Uint64(v[3:])
		default:
			// A statistic of a kind this decoder does not know (other
			// lengths): skipped, it says nothing about routes.
			continue
		}
		m.Stats = append(m.Stats, s)
	}
	if p.pos != len(p.b) {
		return p.fail(p.pos, "statistics report: %d bytes after %d statistics", len(p.b)-p.pos, n)
	}
	return nil
}

// Reader frames a BMP byte stream into messages.
type Reader struct {
	br  *bufio.Reader
	off int64
	buf []byte
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{br: bufio.NewReaderSize(r, 64<<10)} }

// Offset is the stream offset of the next message.
func (r *Reader) Offset() int64 { return r.off }

// ErrTruncated marks a stream that ends inside a message.
var ErrTruncated = errors.New("stream ends inside a message")

// Next returns the next message (common header included) and its stream
// offset. The slice is valid until the next call. At a clean end of the
// stream it returns io.EOF; a stream ending inside a message, or a header
// that cannot be a BMP v3 header, is a *ParseError (the stream cannot be
// resynchronised after it).
func (r *Reader) Next() ([]byte, int64, error) {
	off := r.off
	h, err := r.br.Peek(CommonHeaderLen)
	if len(h) == 0 && errors.Is(err, io.EOF) {
		return nil, off, io.EOF
	}
	if len(h) < CommonHeaderLen {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, off, &ParseError{Offset: off, Reason: fmt.Sprintf("common header: %v (%d of 6 bytes)", ErrTruncated, len(h))}
		}
		return nil, off, err
	}
	if h[0] != Version {
		return nil, off, &ParseError{Offset: off, Reason: fmt.Sprintf("BMP version %d, want %d", h[0], Version)}
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < CommonHeaderLen || n > MaxMessageLen {
		return nil, off, &ParseError{Offset: off + 1, Reason: fmt.Sprintf("message length %d out of range (6 to %d)", n, MaxMessageLen)}
	}
	typ := h[5]
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n, max(int(n), 4096))
	}
	r.buf = r.buf[:n]
	got, err := io.ReadFull(r.br, r.buf)
	r.off += int64(got)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, off, &ParseError{Offset: off, Reason: fmt.Sprintf("%s: %v (%d of %d bytes)", TypeName(typ), ErrTruncated, got, n)}
		}
		return nil, off, err
	}
	return r.buf, off, nil
}

// NewReaderBytes returns a Reader over an in-memory stream.
func NewReaderBytes(b []byte) *Reader { return NewReader(bytes.NewReader(b)) }

// LooksLikeBMP reports whether b starts with a plausible BMP v3 common
// header (version 3, a length from 6 to MaxMessageLen, a known type). An
// MRT file never does: its first byte is that of a timestamp after 1971.
func LooksLikeBMP(b []byte) bool {
	if len(b) < CommonHeaderLen || b[0] != Version {
		return false
	}
	n := binary.BigEndian.Uint32(b[1:])
	return n >= CommonHeaderLen && n <= MaxMessageLen && b[5] <= TypeRouteMirroring
}
