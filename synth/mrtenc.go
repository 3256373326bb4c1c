package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// MRT record types and subtypes written by Encoder (RFC 6396, RFC 8050).
const (
	mrtTableDumpV2 = 13
	mrtBGP4MP      = 16

	subPeerIndexTable  = 1
	subRIBIPv4Unicast  = 2
	subRIBIPv6Unicast  = 4
	subRIBIPv4AddPath  = 8
	subRIBIPv6AddPath  = 10
	subStateChange     = 0
	subMessage         = 1
	subMessageAS4      = 4
	subStateChangeAS4  = 5
	subMessageAddPath  = 8
	subMessageAS4AddPa = 9
)

// BGP FSM states as written in BGP4MP_STATE_CHANGE records.
const (
	StateIdle        = 1
	StateConnect     = 2
	StateActive      = 3
	StateOpenSent    = 4
	StateOpenConfirm = 5
	StateEstablished = 6
)

// asTrans is the 2-byte stand-in for 4-byte ASNs (RFC 6793).
const asTrans = 23456

// maxBGPMessage is the largest BGP message without RFC 8654.
const maxBGPMessage = 4096

// errTooLarge reports an UPDATE that does not fit in one BGP message.
var errTooLarge = errors.New("bgp message larger than 4096 bytes")

// IndexPeer is one entry of a PEER_INDEX_TABLE.
type IndexPeer struct {
	BGPID netip.Addr // IPv4 router ID
	Addr  netip.Addr // session address, IPv4 or IPv6
	ASN   uint32
	AS4   bool // encode the ASN in 4 bytes (peer type bit 1)
}

// Session describes the BGP session a BGP4MP record belongs to.
type Session struct {
	PeerASN, LocalASN   uint32
	PeerAddr, LocalAddr netip.Addr // same family
	AS4                 bool       // BGP4MP_*_AS4 records and 4-byte AS_PATH
	AddPath             bool       // NLRI carry 4-byte path identifiers
}

// Attrs are the path attributes the generator writes.
type Attrs struct {
	Origin      uint8 // 0 IGP, 1 EGP, 2 INCOMPLETE
	Path        []uint32
	NextHop     netip.Addr // IPv4 for IPv4 routes, IPv6 for IPv6 routes
	MED         uint32
	HasMED      bool
	Communities []uint32 // RFC 1997, high 16 bits ASN
	// Segments, when not nil, is written as the AS_PATH as it is instead
	// of Path (2-byte ASNs on 2-byte sessions, no AS4_PATH derived from
	// it), and AS4Path, when not nil, as AS4_PATH: for paths with sets,
	// confederation segments or a hand-made AS4_PATH.
	Segments []PathSegment
	AS4Path  []PathSegment
}

// PathSegment is one AS_PATH segment written as it is.
type PathSegment struct {
	Type uint8 // 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET
	ASNs []uint32
}

// appendSegments encodes segs as an AS_PATH or AS4_PATH value.
func appendSegments(dst []byte, segs []PathSegment, as4 bool) []byte {
	for _, sg := range segs {
		dst = append(dst, sg.Type, byte(len(sg.ASNs)))
		for _, a := range sg.ASNs {
			if as4 {
				dst = binary.BigEndian.AppendUint32(dst, a)
			} else {
				dst = binary.BigEndian.AppendUint16(dst, as2(a))
			}
		}
	}
	return dst
}

// NLRI is one prefix with its ADD-PATH identifier (ignored without ADD-PATH).
type NLRI struct {
	Prefix netip.Prefix
	PathID uint32
}

// Encoder writes MRT records to an io.Writer. It reuses its buffers, so one
// Encoder serves millions of records without allocating. Not safe for
// concurrent use.
type Encoder struct {
	w       io.Writer
	rec     []byte // record under construction, header included
	scratch []byte
	ribN    int // entry count position in rec for BeginRIB/AddRIBEntry
	ribCnt  int
	ribAP   bool
	ribTS   uint32
	ribSub  uint16
	written int64
}

// NewEncoder returns an Encoder writing to w. Wrap w in a bufio.Writer.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, rec: make([]byte, 0, 1<<16), scratch: make([]byte, 0, 4096)}
}

// Written reports the bytes written so far.
func (e *Encoder) Written() int64 { return e.written }

func (e *Encoder) begin() { e.rec = append(e.rec[:0], make12[:]...) }

var make12 [12]byte

func (e *Encoder) finish(ts uint32, typ, sub uint16) error {
	binary.BigEndian.PutUint32(e.rec[0:], ts)
	binary.BigEndian.PutUint16(e.rec[4:], typ)
	binary.BigEndian.PutUint16(e.rec[6:], sub)
	binary.BigEndian.PutUint32(e.rec[8:], uint32(len(e.rec)-12))
	n, err := e.w.Write(e.rec)
	e.written += int64(n)
	if err != nil {
		return fmt.Errorf("write mrt record: %w", err)
	}
	return nil
}

// PeerIndexTable writes a TABLE_DUMP_V2 PEER_INDEX_TABLE.
func (e *Encoder) PeerIndexTable(ts uint32, collectorID netip.Addr, view string, peers []IndexPeer) error {
	e.begin()
	e.rec = append(e.rec, addr4(collectorID)...)
	e.rec = binary.BigEndian.AppendUint16(e.rec, uint16(len(view)))
	e.rec = append(e.rec, view...)
	e.rec = binary.BigEndian.AppendUint16(e.rec, uint16(len(peers)))
	for _, p := range peers {
		var typ byte
		if p.Addr.Is6() {
			typ |= 1
		}
		if p.AS4 {
			typ |= 2
		}
		e.rec = append(e.rec, typ)
		e.rec = append(e.rec, addr4(p.BGPID)...)
		e.rec = append(e.rec, p.Addr.AsSlice()...)
		if p.AS4 {
			e.rec = binary.BigEndian.AppendUint32(e.rec, p.ASN)
		} else {
			e.rec = binary.BigEndian.AppendUint16(e.rec, uint16(p.ASN))
		}
	}
	return e.finish(ts, mrtTableDumpV2, subPeerIndexTable)
}

func addr4(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	return []byte{0, 0, 0, 0}
}

// BeginRIB starts a RIB_IPV4/IPV6_UNICAST(_ADDPATH) record for pfx. Add the
// entries with AddRIBEntry and write it with EndRIB.
func (e *Encoder) BeginRIB(ts, seq uint32, pfx netip.Prefix, addPath bool) {
	e.begin()
	e.rec = binary.BigEndian.AppendUint32(e.rec, seq)
	e.rec = appendPrefix(e.rec, pfx)
	e.ribN = len(e.rec)
	e.rec = append(e.rec, 0, 0)
	e.ribCnt = 0
	e.ribAP = addPath
	e.ribTS = ts
	switch {
	case pfx.Addr().Is4() && !addPath:
		e.ribSub = subRIBIPv4Unicast
	case pfx.Addr().Is4():
		e.ribSub = subRIBIPv4AddPath
	case !addPath:
		e.ribSub = subRIBIPv6Unicast
	default:
		e.ribSub = subRIBIPv6AddPath
	}
}

// AddRIBEntry appends one RIB entry; attrs must be encoded for RIB use
// (AppendRIBAttrs). pathID is written only in ADD-PATH records.
func (e *Encoder) AddRIBEntry(peerIndex uint16, originated, pathID uint32, attrs []byte) {
	e.rec = binary.BigEndian.AppendUint16(e.rec, peerIndex)
	e.rec = binary.BigEndian.AppendUint32(e.rec, originated)
	if e.ribAP {
		e.rec = binary.BigEndian.AppendUint32(e.rec, pathID)
	}
	e.rec = binary.BigEndian.AppendUint16(e.rec, uint16(len(attrs)))
	e.rec = append(e.rec, attrs...)
	e.ribCnt++
}

// EndRIB writes the RIB record started by BeginRIB.
func (e *Encoder) EndRIB() error {
	binary.BigEndian.PutUint16(e.rec[e.ribN:], uint16(e.ribCnt))
	return e.finish(e.ribTS, mrtTableDumpV2, e.ribSub)
}

func (e *Encoder) bgp4mpHeader(s *Session) {
	if s.AS4 {
		e.rec = binary.BigEndian.AppendUint32(e.rec, s.PeerASN)
		e.rec = binary.BigEndian.AppendUint32(e.rec, s.LocalASN)
	} else {
		e.rec = binary.BigEndian.AppendUint16(e.rec, as2(s.PeerASN))
		e.rec = binary.BigEndian.AppendUint16(e.rec, as2(s.LocalASN))
	}
	e.rec = append(e.rec, 0, 0) // interface index
	if s.PeerAddr.Is4() {
		e.rec = append(e.rec, 0, 1)
	} else {
		e.rec = append(e.rec, 0, 2)
	}
	e.rec = append(e.rec, s.PeerAddr.AsSlice()...)
	e.rec = append(e.rec, s.LocalAddr.AsSlice()...)
}

func as2(a uint32) uint16 {
	if a > 0xffff {
		return asTrans
	}
	return uint16(a)
}

// StateChange writes a BGP4MP_STATE_CHANGE(_AS4) record.
func (e *Encoder) StateChange(ts uint32, s *Session, oldState, newState uint16) error {
	e.begin()
	e.bgp4mpHeader(s)
	e.rec = binary.BigEndian.AppendUint16(e.rec, oldState)
	e.rec = binary.BigEndian.AppendUint16(e.rec, newState)
	sub := uint16(subStateChange)
	if s.AS4 {
		sub = subStateChangeAS4
	}
	return e.finish(ts, mrtBGP4MP, sub)
}

// Update writes a BGP4MP_MESSAGE(_AS4)(_ADDPATH) record holding one BGP
// UPDATE. All prefixes must be of one family; IPv6 goes into
// MP_REACH_NLRI/MP_UNREACH_NLRI. attrs may be nil for a pure withdrawal.
func (e *Encoder) Update(ts uint32, s *Session, withdrawn []NLRI, attrs *Attrs, announced []NLRI) error {
	e.begin()
	e.bgp4mpHeader(s)
	msgStart := len(e.rec)
	e.rec = append(e.rec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 2)
	v6 := (len(withdrawn) > 0 && withdrawn[0].Prefix.Addr().Is6()) || (len(announced) > 0 && announced[0].Prefix.Addr().Is6())
	// Withdrawn routes (IPv4 only).
	wl := len(e.rec)
	e.rec = append(e.rec, 0, 0)
	if !v6 {
		for _, n := range withdrawn {
			e.rec = appendNLRI(e.rec, n, s.AddPath)
		}
	}
	binary.BigEndian.PutUint16(e.rec[wl:], uint16(len(e.rec)-wl-2))
	al := len(e.rec)
	e.rec = append(e.rec, 0, 0)
	if v6 && len(withdrawn) > 0 {
		b := e.scratch[:0]
		b = append(b, 0, 2, 1)
		for _, n := range withdrawn {
			b = appendNLRI(b, n, s.AddPath)
		}
		e.rec = appendAttr(e.rec, 0x80, 15, b)
		e.scratch = b
	}
	if attrs != nil && len(announced) > 0 {
		e.rec = e.appendPathAttrs(e.rec, attrs, s.AS4, false)
		if v6 {
			b := e.scratch[:0]
			b = append(b, 0, 2, 1, 16)
			nh := attrs.NextHop.As16()
			b = append(b, nh[:]...)
			b = append(b, 0)
			for _, n := range announced {
				b = appendNLRI(b, n, s.AddPath)
			}
			e.rec = appendAttr(e.rec, 0x80, 14, b)
			e.scratch = b
		}
	}
	binary.BigEndian.PutUint16(e.rec[al:], uint16(len(e.rec)-al-2))
	if !v6 && attrs != nil {
		for _, n := range announced {
			e.rec = appendNLRI(e.rec, n, s.AddPath)
		}
	}
	ml := len(e.rec) - msgStart
	if ml > maxBGPMessage {
		return fmt.Errorf("update for %s: %w", s.PeerAddr, errTooLarge)
	}
	binary.BigEndian.PutUint16(e.rec[msgStart+16:], uint16(ml))
	var sub uint16
	switch {
	case s.AS4 && s.AddPath:
		sub = subMessageAS4AddPa
	case s.AS4:
		sub = subMessageAS4
	case s.AddPath:
		sub = subMessageAddPath
	default:
		sub = subMessage
	}
	return e.finish(ts, mrtBGP4MP, sub)
}

// AppendRIBAttrs appends attrs encoded as in TABLE_DUMP_V2 RIB entries:
// 4-byte AS_PATH, and for IPv6 the abbreviated MP_REACH_NLRI that holds only
// the next hop (RFC 6396 section 4.3.4).
func (e *Encoder) AppendRIBAttrs(dst []byte, a *Attrs) []byte {
	dst = e.appendPathAttrs(dst, a, true, true)
	if a.NextHop.Is6() {
		nh := a.NextHop.As16()
		var b [17]byte
		b[0] = 16
		copy(b[1:], nh[:])
		dst = appendAttr(dst, 0x80, 14, b[:])
	}
	return dst
}

// appendPathAttrs writes ORIGIN, AS_PATH (and AS4_PATH for 2-byte
// sessions), NEXT_HOP for IPv4, MED and COMMUNITIES.
func (e *Encoder) appendPathAttrs(dst []byte, a *Attrs, as4, rib bool) []byte {
	dst = appendAttr(dst, 0x40, 1, []byte{a.Origin})
	if a.Segments != nil {
		dst = appendAttr(dst, 0x40, 2, appendSegments(nil, a.Segments, as4))
		if a.AS4Path != nil {
			dst = appendAttr(dst, 0xc0, 17, appendSegments(nil, a.AS4Path, true))
		}
		return e.appendTailAttrs(dst, a)
	}
	need4 := false
	var seg [2 + 4*255]byte
	n := len(a.Path)
	if n > 255 {
		n = 255
	}
	seg[0], seg[1] = 2, byte(n) // AS_SEQUENCE
	l := 2
	for _, asn := range a.Path[:n] {
		if as4 {
			binary.BigEndian.PutUint32(seg[l:], asn)
			l += 4
		} else {
			if asn > 0xffff {
				need4 = true
			}
			binary.BigEndian.PutUint16(seg[l:], as2(asn))
			l += 2
		}
	}
	if n == 0 {
		l = 0
	}
	dst = appendAttr(dst, 0x40, 2, seg[:l])
	if need4 {
		l = 2
		for _, asn := range a.Path[:n] {
			binary.BigEndian.PutUint32(seg[l:], asn)
			l += 4
		}
		dst = appendAttr(dst, 0xc0, 17, seg[:l])
	}
	return e.appendTailAttrs(dst, a)
}

// appendTailAttrs writes the attributes after the path: NEXT_HOP for
// IPv4, MED and COMMUNITIES.
func (e *Encoder) appendTailAttrs(dst []byte, a *Attrs) []byte {
	if a.NextHop.Is4() {
		dst = appendAttr(dst, 0x40, 3, addr4(a.NextHop))
	}
	if a.HasMED {
		var m [4]byte
		binary.BigEndian.PutUint32(m[:], a.MED)
		dst = appendAttr(dst, 0x80, 4, m[:])
	}
	if len(a.Communities) > 0 {
		var c [4 * 64]byte
		k := 0
		for i, v := range a.Communities {
			if i == 64 {
				break
			}
			binary.BigEndian.PutUint32(c[k:], v)
			k += 4
		}
		dst = appendAttr(dst, 0xc0, 8, c[:k])
	}
	return dst
}

func appendAttr(dst []byte, flags, typ byte, v []byte) []byte {
	if len(v) > 255 {
		dst = append(dst, flags|0x10, typ, byte(len(v)>>8), byte(len(v)))
	} else {
		dst = append(dst, flags&^0x10, typ, byte(len(v)))
	}
	return append(dst, v...)
}

func appendPrefix(dst []byte, p netip.Prefix) []byte {
	bits := p.Bits()
	dst = append(dst, byte(bits))
	nb := (bits + 7) / 8
	if p.Addr().Is4() {
		a := p.Addr().As4()
		return append(dst, a[:nb]...)
	}
	a := p.Addr().As16()
	return append(dst, a[:nb]...)
}

func appendNLRI(dst []byte, n NLRI, addPath bool) []byte {
	if addPath {
		dst = binary.BigEndian.AppendUint32(dst, n.PathID)
	}
	return appendPrefix(dst, n.Prefix)
}

// nlriSize is the encoded size of one NLRI.
func nlriSize(p netip.Prefix, addPath bool) int {
	n := 1 + (p.Bits()+7)/8
	if addPath {
		n += 4
	}
	return n
}
