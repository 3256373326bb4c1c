package mrt

import (
	"encoding/binary"
	"net/netip"
)

// AFIs and SAFIs used by MRT and BGP.
const (
	AFIIPv4       = 1
	AFIIPv6       = 2
	SAFIUnicast   = 1
	SAFIMulticast = 2
)

// Peer is one entry of a PEER_INDEX_TABLE.
type Peer struct {
	BGPID netip.Addr
	Addr  netip.Addr
	AS    uint32
}

// PeerIndexTable is the TABLE_DUMP_V2 PEER_INDEX_TABLE record.
type PeerIndexTable struct {
	CollectorID netip.Addr
	ViewName    string
	Peers       []Peer
}

// PeerIndexTable decodes a TABLE_DUMP_V2 PEER_INDEX_TABLE record into t,
// reusing t's storage.
func (r *Record) PeerIndexTable(t *PeerIndexTable) error {
	b := r.Body
	if len(b) < 8 {
		return r.errf("peer index table: %d bytes, want at least 8", len(b))
	}
	t.CollectorID = addr4(b)
	vl := int(binary.BigEndian.Uint16(b[4:]))
	b = b[6:]
	if len(b) < vl+2 {
		return r.errf("peer index table: view name runs past the record")
	}
	if vl > 0 {
		t.ViewName = string(b[:vl])
	} else {
		t.ViewName = ""
	}
	b = b[vl:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	t.Peers = t.Peers[:0]
	for i := 0; i < n; i++ {
		if len(b) < 1 {
			return r.errf("peer index table: peer %d of %d runs past the record", i, n)
		}
		pt := b[0]
		need := 1 + 4 + 4 + 2
		if pt&1 != 0 {
			need += 12
		}
		if pt&2 != 0 {
			need += 2
		}
		if len(b) < need {
			return r.errf("peer index table: peer %d of %d runs past the record", i, n)
		}
		var p Peer
		p.BGPID = addr4(b[1:])
		b = b[5:]
		if pt&1 != 0 {
			p.Addr = addr16(b)
			b = b[16:]
		} else {
			p.Addr = addr4(b)
			b = b[4:]
		}
		if pt&2 != 0 {
			p.AS = binary.BigEndian.Uint32(b)
			b = b[4:]
		} else {
			p.AS = uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		t.Peers = append(t.Peers, p)
	}
	return nil
}

// RIBEntry is one route of a TABLE_DUMP_V2 RIB record. Attrs aliases the record.
type RIBEntry struct {
	PeerIndex  uint16
	Originated uint32
	PathID     uint32
	Attrs      []byte
}

// RIB is a TABLE_DUMP_V2 RIB_* record (unicast, multicast, generic, with or
// without ADD-PATH).
type RIB struct {
	Seq     uint32
	AFI     uint16
	SAFI    uint8
	AddPath bool
	// Prefix is the prefix as stored (host bits are not cleared); for
	// RIB_GENERIC it is set only for IPv4/IPv6 unicast and multicast.
	Prefix netip.Prefix
	// NLRI is the raw NLRI of RIB_GENERIC records.
	NLRI    []byte
	Entries []RIBEntry
}

// IsRIB reports whether the record is a TABLE_DUMP_V2 RIB record.
func (r *Record) IsRIB() bool {
	return r.Type == TypeTableDumpV2 && r.Subtype >= SubRIBIPv4Unicast && r.Subtype <= SubRIBGenericAddPath && r.Subtype != 7
}

// RIB decodes a TABLE_DUMP_V2 RIB record into dst, reusing its storage.
func (r *Record) RIB(dst *RIB) error {
	b := r.Body
	dst.Entries = dst.Entries[:0]
	dst.NLRI = nil
	dst.Prefix = netip.Prefix{}
	st := r.Subtype
	dst.AddPath = st >= SubRIBIPv4UnicastAddPath
	if dst.AddPath {
		st -= 6
	}
	if len(b) < 4 {
		return r.errf("rib: record too short")
	}
	dst.Seq = binary.BigEndian.Uint32(b)
	b = b[4:]
	switch st {
	case SubRIBIPv4Unicast, SubRIBIPv4Multicast, SubRIBIPv6Unicast, SubRIBIPv6Multicast:
		dst.AFI, dst.SAFI = AFIIPv4, SAFIUnicast
		if st == SubRIBIPv6Unicast || st == SubRIBIPv6Multicast {
			dst.AFI = AFIIPv6
		}
		if st == SubRIBIPv4Multicast || st == SubRIBIPv6Multicast {
			dst.SAFI = SAFIMulticast
		}
		p, rest, err := readPrefix(b, dst.AFI)
		if err != "" {
			return r.errf("rib: %s", err)
		}
		dst.Prefix, b = p, rest
	case SubRIBGeneric:
		if len(b) < 3 {
			return r.errf("rib generic: record too short")
		}
		dst.AFI = binary.BigEndian.Uint16(b)
		dst.SAFI = b[2]
		b = b[3:]
		// The NLRI is a single prefix in BGP encoding (with a path id under ADD-PATH).
		if len(b) < 1 {
			return r.errf("rib generic: missing NLRI")
		}
		n := 1 + (int(b[0])+7)/8
		if len(b) < n {
			return r.errf("rib generic: NLRI runs past the record")
		}
		dst.NLRI = b[:n]
		if dst.AFI == AFIIPv4 || dst.AFI == AFIIPv6 {
			p, _, err := readPrefix(b, dst.AFI)
			if err == "" {
				dst.Prefix = p
			}
		}
		b = b[n:]
	}
	if len(b) < 2 {
		return r.errf("rib: missing entry count")
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for i := 0; i < n; i++ {
		need := 8
		if dst.AddPath {
			need += 4
		}
		if len(b) < need {
			return r.errf("rib: entry %d of %d runs past the record", i, n)
		}
		var e RIBEntry
		e.PeerIndex = binary.BigEndian.Uint16(b)
		e.Originated = binary.BigEndian.Uint32(b[2:])
		b = b[6:]
		if dst.AddPath {
			e.PathID = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		al := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < al {
			return r.errf("rib: attributes of entry %d (%d bytes) run past the record", i, al)
		}
		e.Attrs = b[:al]
		b = b[al:]
		dst.Entries = append(dst.Entries, e)
	}
	return nil
}

// TableDump is a TABLE_DUMP (v1) record.
type TableDump struct {
	View, Seq  uint16
	Prefix     netip.Prefix
	Status     uint8
	Originated uint32
	PeerAddr   netip.Addr
	PeerAS     uint32
	AS4        bool
	Attrs      []byte
}

// TableDump decodes a TABLE_DUMP (v1) record.
func (r *Record) TableDump(dst *TableDump) error {
	b := r.Body
	v6 := r.Subtype == 2 || r.Subtype == 4
	dst.AS4 = r.Subtype == 3 || r.Subtype == 4
	alen := 4
	if v6 {
		alen = 16
	}
	aslen := 2
	if dst.AS4 {
		aslen = 4
	}
	need := 4 + alen + 1 + 1 + 4 + alen + aslen + 2
	if len(b) < need {
		return r.errf("table dump: record too short (%d bytes, want %d)", len(b), need)
	}
	dst.View = binary.BigEndian.Uint16(b)
	dst.Seq = binary.BigEndian.Uint16(b[2:])
	b = b[4:]
	var a netip.Addr
	if v6 {
		a = addr16(b)
	} else {
		a = addr4(b)
	}
	b = b[alen:]
	bits := int(b[0])
	if bits > a.BitLen() {
		return r.errf("table dump: prefix length %d too long", bits)
	}
	dst.Prefix = netip.PrefixFrom(a, bits)
	dst.Status = b[1]
	dst.Originated = binary.BigEndian.Uint32(b[2:])
	b = b[6:]
	if v6 {
		dst.PeerAddr = addr16(b)
	} else {
		dst.PeerAddr = addr4(b)
	}
	b = b[alen:]
	if dst.AS4 {
		dst.PeerAS = binary.BigEndian.Uint32(b)
	} else {
		dst.PeerAS = uint32(binary.BigEndian.Uint16(b))
	}
	b = b[aslen:]
	al := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < al {
		return r.errf("table dump: attributes (%d bytes) run past the record", al)
	}
	dst.Attrs = b[:al]
	return nil
}

// Message is a BGP4MP / BGP4MP_ET MESSAGE* record (or a deprecated MRT BGP
// record, see LegacyBGP). Peer is the remote side, Local the collector.
type Message struct {
	Session
	AS4     bool
	AddPath bool
	Local   bool // *_LOCAL: sent by the collector
	// Data is the BGP message, starting with the 16-byte marker. Legacy
	// MRT BGP records have no BGP header: Data is then nil and Update holds
	// the UPDATE body.
	Data   []byte
	Update []byte
}

// IsMessage reports whether the record is a BGP4MP(_ET) MESSAGE* record.
func (r *Record) IsMessage() bool {
	if r.Type != TypeBGP4MP && r.Type != TypeBGP4MPET {
		return false
	}
	switch r.Subtype {
	case SubMessage, SubMessageAS4, SubMessageLocal, SubMessageAS4Local,
		SubMessageAddPath, SubMessageAS4AddPath, SubMessageLocalAddPath, SubMessageAS4LocalAddPath:
		return true
	}
	return false
}

// IsStateChange reports whether the record is a BGP4MP(_ET) STATE_CHANGE(_AS4).
func (r *Record) IsStateChange() bool {
	return (r.Type == TypeBGP4MP || r.Type == TypeBGP4MPET) && (r.Subtype == SubStateChange || r.Subtype == SubStateChangeAS4)
}

// Message decodes a BGP4MP(_ET) MESSAGE* record.
func (r *Record) Message(dst *Message) error {
	st := r.Subtype
	dst.AS4 = st == SubMessageAS4 || st == SubMessageAS4Local || st == SubMessageAS4AddPath || st == SubMessageAS4LocalAddPath
	dst.Local = st == SubMessageLocal || st == SubMessageAS4Local || st == SubMessageLocalAddPath || st == SubMessageAS4LocalAddPath
	dst.AddPath = st >= SubMessageAddPath
	dst.Update = nil
	rest, err := r.session("bgp4mp message", dst.AS4, 0, &dst.Session)
	if err != nil {
		return err
	}
	dst.Data = rest
	return nil
}

// session decodes the peer part that starts every BGP4MP record: peer
// and local AS (4 bytes with as4, else 2), interface index, address family
// and the two addresses. At least tail bytes must follow it; rest is what
// does.
func (r *Record) session(what string, as4 bool, tail int, p *Session) (rest []byte, err error) {
	b := r.Body
	aslen := 2
	if as4 {
		aslen = 4
	}
	if len(b) < 2*aslen+4 {
		return nil, r.errf("%s: record too short", what)
	}
	p.PeerAS, p.LocalAS = asn(b, aslen), asn(b[aslen:], aslen)
	b = b[2*aslen:]
	p.IfIndex = binary.BigEndian.Uint16(b)
	p.AFI = binary.BigEndian.Uint16(b[2:])
	b = b[4:]
	alen := 4
	switch p.AFI {
	case AFIIPv4:
	case AFIIPv6:
		alen = 16
	default:
		return nil, r.errf("%s: unsupported address family %d", what, p.AFI)
	}
	if len(b) < 2*alen+tail {
		return nil, r.errf("%s: record too short", what)
	}
	p.PeerAddr, p.LocalAddr = addrN(b, alen), addrN(b[alen:], alen)
	return b[2*alen:], nil
}

// StateChange is a BGP4MP(_ET) STATE_CHANGE(_AS4) record or a deprecated MRT
// BGP STATE_CHANGE.
type StateChange struct {
	Session
	Old, New uint16
}

// Session is the peering a BGP4MP record comes from, as the collector saw
// it.
type Session struct {
	PeerAS, LocalAS     uint32
	IfIndex, AFI        uint16
	PeerAddr, LocalAddr netip.Addr
}

// BGP FSM states as used in STATE_CHANGE records.
const (
	StateIdle        = 1
	StateEstablished = 6
)

// StateChange decodes a BGP4MP(_ET) STATE_CHANGE(_AS4) record.
func (r *Record) StateChange(dst *StateChange) error {
	b, err := r.session("state change", r.Subtype == SubStateChangeAS4, 4, &dst.Session)
	if err != nil {
		return err
	}
	dst.Old = binary.BigEndian.Uint16(b)
	dst.New = binary.BigEndian.Uint16(b[2:])
	return nil
}

// LegacyBGP decodes a deprecated MRT BGP (type 5) UPDATE or STATE_CHANGE
// record into msg or sc; kind is 1 for an update, 3 for a state change, 0
// for subtypes without routing content.
func (r *Record) LegacyBGP(msg *Message, sc *StateChange) (kind int, err error) {
	b := r.Body
	switch r.Subtype {
	case 1:
		if len(b) < 12 {
			return 0, r.errf("bgp update: record too short")
		}
		*msg = Message{Session: Session{AFI: AFIIPv4}}
		msg.PeerAS = uint32(binary.BigEndian.Uint16(b))
		msg.PeerAddr = addr4(b[2:])
		msg.LocalAS = uint32(binary.BigEndian.Uint16(b[6:]))
		msg.LocalAddr = addr4(b[8:])
		msg.Update = b[12:]
		return 1, nil
	case 3:
		if len(b) < 10 {
			return 0, r.errf("bgp state change: record too short")
		}
		*sc = StateChange{Session: Session{AFI: AFIIPv4}}
		sc.PeerAS = uint32(binary.BigEndian.Uint16(b))
		sc.PeerAddr = addr4(b[2:])
		sc.Old = binary.BigEndian.Uint16(b[6:])
		sc.New = binary.BigEndian.Uint16(b[8:])
		return 3, nil
	}
	return 0, nil
}

func asn(b []byte, n int) uint32 {
	if n == 4 {
		return binary.BigEndian.Uint32(b)
	}
	return uint32(binary.BigEndian.Uint16(b))
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

func addr16(b []byte) netip.Addr { return netip.AddrFrom16([16]byte(b[:16])) }

func addrN(b []byte, n int) netip.Addr {
	if n == 4 {
		return addr4(b)
	}
	return addr16(b)
}

// readPrefix reads one length-prefixed prefix (RIB encoding) of the AFI.
func readPrefix(b []byte, afi uint16) (netip.Prefix, []byte, string) {
	if len(b) < 1 {
		return netip.Prefix{}, b, "missing prefix"
	}
	bits := int(b[0])
	max := 32
	if afi == AFIIPv6 {
		max = 128
	}
	if bits > max {
		return netip.Prefix{}, b, "prefix length too long"
	}
	n := (bits + 7) / 8
	if len(b) < 1+n {
		return netip.Prefix{}, b, "prefix runs past the record"
	}
	var a [16]byte
	copy(a[:], b[1:1+n])
	var addr netip.Addr
	if afi == AFIIPv6 {
		addr = netip.AddrFrom16(a)
	} else {
		addr = netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.PrefixFrom(addr, bits), b[1+n:], ""
}
