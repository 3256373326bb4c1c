package mrt

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/bgpwatch/bgpwatch"
)

// BGP message types.
const (
	MsgOpen         = 1
	MsgUpdate       = 2
	MsgNotification = 3
	MsgKeepalive    = 4
)

// BGP path attribute type codes.
const (
	AttrOrigin          = 1
	AttrASPath          = 2
	AttrNextHop         = 3
	AttrMED             = 4
	AttrLocalPref       = 5
	AttrAtomicAggregate = 6
	AttrAggregator      = 7
	AttrCommunities     = 8
	AttrOriginatorID    = 9
	AttrClusterList     = 10
	AttrMPReach         = 14
	AttrMPUnreach       = 15
	AttrAS4Path         = 17
	AttrAS4Aggregator   = 18
	AttrLargeCommunity  = 32
)

// AS path segment types.
const (
	SegSet            = 1
	SegSequence       = 2
	SegConfedSequence = 3
	SegConfedSet      = 4
)

// Decoding errors (wrapped into *FormatError by callers that know the record).
var (
	ErrBadMarker   = errors.New("bgp message: bad marker")
	ErrShort       = errors.New("runs past its record")
	ErrBadPrefix   = errors.New("invalid prefix length")
	ErrBadMPReach  = errors.New("malformed MP_REACH_NLRI")
	ErrBadMPUnrch  = errors.New("malformed MP_UNREACH_NLRI")
	ErrBadAttrLen  = errors.New("attribute runs past its record")
	ErrBadWithdraw = errors.New("withdrawn routes run past the message")
)

// ParseMessage checks a BGP message (marker, length) and returns its type
// and body (after the 19-byte header).
func ParseMessage(b []byte) (typ uint8, body []byte, err error) {
	if len(b) < 19 {
		return 0, nil, ErrShort
	}
	for _, c := range b[:16] {
		if c != 0xff {
			return 0, nil, ErrBadMarker
		}
	}
	n := int(binary.BigEndian.Uint16(b[16:]))
	if n < 19 || n > len(b) {
		return 0, nil, ErrShort
	}
	return b[18], b[19:n], nil
}

// Update is a BGP UPDATE split into its three parts (raw).
type Update struct {
	Withdrawn []byte
	Attrs     []byte
	NLRI      []byte
}

// ParseUpdate splits an UPDATE body.
func ParseUpdate(b []byte, u *Update) error {
	if len(b) < 2 {
		return ErrShort
	}
	wl := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < wl+2 {
		return ErrBadWithdraw
	}
	u.Withdrawn = b[:wl]
	b = b[wl:]
	al := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < al {
		return ErrBadAttrLen
	}
	u.Attrs = b[:al]
	u.NLRI = b[al:]
	return nil
}

// Attrs holds the decoded path attributes of one route; byte slices alias
// the record.
type Attrs struct {
	Present     [4]uint64 // bit per attribute type seen
	Origin      uint8
	ASPath      []byte
	AS4Path     []byte
	ASLen       int // 2 or 4: ASN size in ASPath
	NextHop     netip.Addr
	MED         uint32
	LocalPref   uint32
	AggrAS      uint32
	AggrAddr    netip.Addr
	AS4AggrAS   uint32
	AS4AggrAddr netip.Addr
	Communities []byte // 4 bytes each
	Large       []byte // 12 bytes each
	MPReach     []byte
	MPUnreach   []byte
}

// Has reports whether attribute type t was present.
func (a *Attrs) Has(t uint8) bool { return a.Present[t>>6]&(1<<(t&63)) != 0 }

// Parse decodes the path attributes b; as4 tells the ASN size of AS_PATH
// and AGGREGATOR.
func (a *Attrs) Parse(b []byte, as4 bool) error {
	*a = Attrs{ASLen: 2}
	if as4 {
		a.ASLen = 4
	}
	for len(b) > 0 {
		if len(b) < 3 {
			return ErrBadAttrLen
		}
		flags, typ := b[0], b[1]
		var l, h int
		if flags&0x10 != 0 {
			if len(b) < 4 {
				return ErrBadAttrLen
			}
			l, h = int(binary.BigEndian.Uint16(b[2:])), 4
		} else {
			l, h = int(b[2]), 3
		}
		if len(b) < h+l {
			return ErrBadAttrLen
		}
		v := b[h : h+l]
		b = b[h+l:]
		a.Present[typ>>6] |= 1 << (typ & 63)
		switch typ {
		case AttrOrigin:
			if l >= 1 {
				a.Origin = v[0]
			}
		case AttrASPath:
			a.ASPath = v
		case AttrAS4Path:
			a.AS4Path = v
		case AttrNextHop:
			if l >= 4 {
				a.NextHop = addr4(v)
			}
		case AttrMED:
			if l >= 4 {
				a.MED = binary.BigEndian.Uint32(v)
			}
		case AttrLocalPref:
			if l >= 4 {
				a.LocalPref = binary.BigEndian.Uint32(v)
			}
		case AttrAggregator:
			if l >= a.ASLen+4 {
				a.AggrAS = asn(v, a.ASLen)
				a.AggrAddr = addr4(v[a.ASLen:])
			}
		case AttrAS4Aggregator:
			if l >= 8 {
				a.AS4AggrAS = binary.BigEndian.Uint32(v)
				a.AS4AggrAddr = addr4(v[4:])
			}
		case AttrCommunities:
			a.Communities = v
		case AttrLargeCommunity:
			a.Large = v
		case AttrMPReach:
			a.MPReach = v
		case AttrMPUnreach:
			a.MPUnreach = v
		}
	}
	return nil
}

// OriginOf returns the origin AS of the route whose path attributes are
// b, as Parse followed by OriginAS would, with the same error for broken
// attribute framing; it reads only AS_PATH and AS4_PATH. RIB dumps need
// nothing else of most entries' attributes.
func OriginOf(b []byte, as4 bool) (uint32, error) {
	a := Attrs{ASLen: 2}
	if as4 {
		a.ASLen = 4
	}
	for len(b) > 0 {
		if len(b) < 3 {
			return 0, ErrBadAttrLen
		}
		flags, typ := b[0], b[1]
		var l, h int
		if flags&0x10 != 0 {
			if len(b) < 4 {
				return 0, ErrBadAttrLen
			}
			l, h = int(binary.BigEndian.Uint16(b[2:])), 4
		} else {
			l, h = int(b[2]), 3
		}
		if len(b) < h+l {
			return 0, ErrBadAttrLen
		}
		switch typ {
		case AttrASPath:
			a.ASPath = b[h : h+l]
		case AttrAS4Path:
			a.AS4Path = b[h : h+l]
		}
		b = b[h+l:]
	}
	return a.OriginAS(), nil
}

// MPReach is a decoded MP_REACH_NLRI.
type MPReach struct {
	AFI      uint16
	SAFI     uint8
	NextHop  netip.Addr
	LinkLoc  netip.Addr // second (link-local) IPv6 next hop, if any
	NLRI     []byte
	Abbrevd  bool // RFC 6396 abbreviated form (next hop only), used in RIB entries
	NHLength int
}

// ParseMPReach decodes MP_REACH_NLRI. With rib set it accepts the RFC 6396
// abbreviated form (next-hop length and next hop only) used in
// TABLE_DUMP_V2 entries; afi is then the RIB's AFI.
func ParseMPReach(v []byte, rib bool, afi uint16, m *MPReach) error {
	*m = MPReach{}
	if rib && len(v) > 0 && v[0] != 0 {
		n := int(v[0])
		if len(v) < 1+n {
			return ErrBadMPReach
		}
		m.AFI, m.SAFI, m.Abbrevd, m.NHLength = afi, SAFIUnicast, true, n
		m.NextHop, m.LinkLoc = nextHop(v[1 : 1+n])
		return nil
	}
	if len(v) < 5 {
		return ErrBadMPReach
	}
	m.AFI = binary.BigEndian.Uint16(v)
	m.SAFI = v[2]
	n := int(v[3])
	m.NHLength = n
	v = v[4:]
	if len(v) < n+1 {
		return ErrBadMPReach
	}
	m.NextHop, m.LinkLoc = nextHop(v[:n])
	// The byte after the next hop is Reserved (RFC 4760 §3: ignored on
	// receipt). RFC 2858 had an SNPA count there; nobody sends SNPAs, and
	// reading a nonzero reserved byte as a count would drop the NLRI
	// (found by FuzzUpdateVsGobgp; gobgp ignores it too).
	m.NLRI = v[n+1:]
	return nil
}

func nextHop(b []byte) (netip.Addr, netip.Addr) {
	switch len(b) {
	case 4:
		return addr4(b), netip.Addr{}
	case 12: // RD + IPv4 (VPN)
		return addr4(b[8:]), netip.Addr{}
	case 16:
		return addr16(b), netip.Addr{}
	case 24:
		return addr16(b[8:]), netip.Addr{}
	case 32:
		return addr16(b), addr16(b[16:])
	case 48:
		return addr16(b[8:]), addr16(b[32:])
	}
	return netip.Addr{}, netip.Addr{}
}

// ParseMPUnreach decodes MP_UNREACH_NLRI.
func ParseMPUnreach(v []byte) (afi uint16, safi uint8, nlri []byte, err error) {
	if len(v) < 3 {
		return 0, 0, nil, ErrBadMPUnrch
	}
	return binary.BigEndian.Uint16(v), v[2], v[3:], nil
}

// NextPrefix reads one prefix from NLRI bytes b of the given AFI (with a
// 4-byte path identifier first when addPath). It returns the prefix as
// encoded (host bits past the length are kept; use Masked to clear them)
// and the remaining bytes.
func NextPrefix(b []byte, afi uint16, addPath bool) (p netip.Prefix, pathID uint32, rest []byte, err error) {
	if addPath {
		if len(b) < 4 {
			return p, 0, nil, ErrShort
		}
		pathID = binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) < 1 {
		return p, 0, nil, ErrShort
	}
	bits := int(b[0])
	max := 32
	if afi == AFIIPv6 {
		max = 128
	}
	if bits > max {
		return p, 0, nil, ErrBadPrefix
	}
	n := (bits + 7) / 8
	if len(b) < 1+n {
		return p, 0, nil, ErrShort
	}
	if afi == AFIIPv6 {
		var a [16]byte
		copy(a[:], b[1:1+n])
		p = netip.PrefixFrom(netip.AddrFrom16(a), bits)
	} else {
		var a [4]byte
		copy(a[:], b[1:1+n])
		p = netip.PrefixFrom(netip.AddrFrom4(a), bits)
	}
	return p, pathID, b[1+n:], nil
}

// segment splits the first segment off an AS_PATH value: its type, its
// AS count, its ASes and the rest; false when the structure is broken.
func segment(p []byte, asLen int) (t byte, n int, ases, rest []byte, ok bool) {
	if len(p) < 2 {
		return 0, 0, nil, nil, false
	}
	t, n = p[0], int(p[1])
	if len(p) < 2+n*asLen || t < 1 || t > 4 {
		return 0, 0, nil, nil, false
	}
	return t, n, p[2 : 2+n*asLen], p[2+n*asLen:], true
}

// pathCount counts ASes in a path as RFC 4271 does for path length (a set
// counts one, confederation segments none); false when it is malformed.
func pathCount(p []byte, asLen int) (int, bool) {
	n := 0
	for len(p) > 0 {
		t, l, _, rest, ok := segment(p, asLen)
		if !ok {
			return 0, false
		}
		switch t {
		case SegSequence:
			n += l
		case SegSet:
			n++
		}
		p = rest
	}
	return n, true
}

// lastAS returns the origin of a path by bgpwatch's origin rule
// (bgpwatch.PathOrigin); false when the path's structure is broken.
func lastAS(p []byte, asLen int) (uint32, bool) {
	var o bgpwatch.PathOrigin
	for len(p) > 0 {
		t, l, ases, rest, ok := segment(p, asLen)
		if !ok {
			return 0, false
		}
		s := bgpwatch.Segment{Type: bgpwatch.SegmentType(t), Len: l}
		if l > 0 {
			s.Last = bgpwatch.ASN(asn(ases[(l-1)*asLen:], asLen))
		}
		o.Add(s)
		p = rest
	}
	return uint32(o.ASN()), true
}

// OriginAS returns the origin AS of the route by bgpwatch's origin rule
// (bgpwatch.PathOrigin: confederation segments skipped, an AS_SET of one
// AS is its origin, of several none). On 2-byte sessions AS_PATH is first
// merged with AS4_PATH (RFC 6793 §4.2.3): when AS_PATH holds at least as
// many ASes as AS4_PATH (counted as for the path length: a set is one,
// confederation segments none), the path ends with AS4_PATH, so the
// origin is AS4_PATH's; otherwise AS4_PATH is ignored. It is 0 when the
// route is not attributed or the path is malformed.
func (a *Attrs) OriginAS() uint32 {
	if a.ASLen == 2 && a.AS4Path != nil {
		n, ok := pathCount(a.ASPath, 2)
		n4, ok4 := pathCount(a.AS4Path, 4)
		if ok && ok4 && n >= n4 && n4 > 0 {
			o, _ := lastAS(a.AS4Path, 4)
			return o
		}
	}
	o, _ := lastAS(a.ASPath, a.ASLen)
	return o
}
