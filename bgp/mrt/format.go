package mrt

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// OutputFormat selects how a Formatter renders records.
type OutputFormat int

// Output formats.
const (
	// FormatBgpdump is `bgpdump -m`: one line per route, pipe-separated.
	FormatBgpdump OutputFormat = iota
	// FormatJSON is one JSON object per route with the same content.
	FormatJSON
)

// ErrNoPeerIndex marks a RIB record that arrives before any PEER_INDEX_TABLE.
var ErrNoPeerIndex = errors.New("RIB record without a preceding PEER_INDEX_TABLE")

// Formatter renders MRT records as `bgpdump -m` lines or JSON lines. It is
// not safe for concurrent use; it reuses its buffers between records.
type Formatter struct {
	Format OutputFormat
	attr   bdAttr
	wd, an []bdPrefix
	ln     line
}

type line struct {
	format    string
	ts        uint32
	micro     uint32
	et        bool
	kind      string
	peer      []byte
	peerAS    uint32
	prefix    []byte
	hasPathID bool
	pathID    uint32
	nexthop   []byte
	signed    bool // bgpdump prints local pref and MED with %d here
	oldState  uint16
	newState  uint16
}

// Append renders rec and appends the lines to dst. peers is the current
// PEER_INDEX_TABLE (nil if none). Records bgpdump prints nothing for
// (PEER_INDEX_TABLE, OPEN, KEEPALIVE, ...) append nothing.
func (f *Formatter) Append(dst []byte, rec *Record, peers *PeerIndexTable) ([]byte, error) {
	s := mstream{b: rec.Body}
	l := &f.ln
	l.ts, l.micro, l.et = rec.Timestamp, rec.Micro, rec.Type == TypeBGP4MPET
	l.hasPathID, l.signed = false, false
	switch rec.Type {
	case TypeTableDump:
		return f.tableDump(dst, rec, &s)
	case TypeTableDumpV2:
		switch rec.Subtype {
		case SubRIBIPv4Unicast, SubRIBIPv6Unicast, SubRIBIPv4UnicastAddPath, SubRIBIPv6UnicastAddPath:
			if peers == nil {
				return dst, rec.errf("%v", ErrNoPeerIndex)
			}
			return f.rib(dst, rec, &s, peers)
		}
	case TypeBGP4MP, TypeBGP4MPET:
		return f.bgp4mp(dst, rec, &s)
	case TypeBGP:
		return f.legacy(dst, rec, &s)
	}
	return dst, nil
}

func (f *Formatter) tableDump(dst []byte, rec *Record, s *mstream) ([]byte, error) {
	l := &f.ln
	s.getw()
	s.getw()
	var prefix [16]byte
	switch rec.Subtype {
	case 1, 3:
		s.get(prefix[:4])
	case 2, 4:
		s.get(prefix[:])
	default:
		return dst, nil
	}
	mask := s.getc()
	s.getc()
	s.getl()
	var peer [16]byte
	if rec.Subtype == 1 || rec.Subtype == 3 {
		s.get(peer[:4])
	} else {
		s.get(peer[:])
	}
	asLen := 2
	if rec.Subtype >= 3 {
		asLen = 4
	}
	l.peerAS = s.asn(asLen)
	f.attr.parse(s, asLen, false)
	l.format, l.kind = "TABLE_DUMP", "B"
	if rec.Subtype == 2 {
		l.peer = appendIPv6(l.peer[:0], peer)
		l.prefix = appendIPv6(l.prefix[:0], prefix)
	} else {
		l.peer = appendIPv4(l.peer[:0], peer[:4])
		l.prefix = appendIPv4(l.prefix[:0], prefix[:4])
	}
	l.prefix = append(l.prefix, '/')
	l.prefix = strconv.AppendUint(l.prefix, uint64(mask), 10)
	l.nexthop = f.ribNexthop(l.nexthop[:0])
	return f.emitAnnounce(dst), nil
}

func (f *Formatter) ribNexthop(dst []byte) []byte {
	a := &f.attr
	if a.flag&bit(AttrMPReach) != 0 && a.announce[AFIIPv6][SAFIUnicast].set {
		return appendIPv6(dst, a.announce[AFIIPv6][SAFIUnicast].nh)
	}
	return appendIPv4(dst, a.nexthop[:])
}

func (f *Formatter) rib(dst []byte, rec *Record, s *mstream, peers *PeerIndexTable) ([]byte, error) {
	l := &f.ln
	addPath := rec.Subtype >= SubRIBIPv4UnicastAddPath
	v6 := rec.Subtype == SubRIBIPv6Unicast || rec.Subtype == SubRIBIPv6UnicastAddPath
	s.getl()
	plen := s.getc()
	var prefix [16]byte
	n := (int(plen) + 7) / 8
	if v6 {
		if n > 16 {
			n = 16
		}
	} else if n > 4 {
		n = 4
	}
	s.get(prefix[:n])
	if !v6 && (int(plen)+7)/8 > 4 {
		s.skip((int(plen)+7)/8 - 4)
	}
	count := int(s.getw())
	l.format = "TABLE_DUMP2"
	if addPath {
		l.format = "TABLE_DUMP2_AP"
	}
	l.kind, l.hasPathID = "B", addPath
	if v6 {
		l.prefix = appendIPv6(l.prefix[:0], prefix)
	} else {
		l.prefix = appendIPv4(l.prefix[:0], prefix[:4])
	}
	l.prefix = append(l.prefix, '/')
	l.prefix = strconv.AppendUint(l.prefix, uint64(plen), 10)
	var err error
	for i := 0; i < count; i++ {
		idx := int(s.getw())
		s.getl()
		if addPath {
			l.pathID = s.getl()
		}
		f.attr.parse(s, 4, addPath)
		if idx >= len(peers.Peers) {
			if err == nil {
				err = rec.errf("rib entry %d: peer index %d out of range (%d peers)", i, idx, len(peers.Peers))
			}
			continue
		}
		p := &peers.Peers[idx]
		l.peer = p.Addr.AppendTo(l.peer[:0])
		if p.Addr.Is6() {
			l.peer = appendIPv6(l.peer[:0], p.Addr.As16())
		}
		l.peerAS = p.AS
		l.nexthop = f.ribNexthop(l.nexthop[:0])
		dst = f.emitAnnounce(dst)
	}
	return dst, err
}

func bgp4mpFormat(rec *Record) string {
	st := rec.Subtype
	local := st == SubMessageLocal || st == SubMessageAS4Local || st == SubMessageLocalAddPath || st == SubMessageAS4LocalAddPath
	ap := st >= SubMessageAddPath && st <= SubMessageAS4LocalAddPath
	if rec.Type == TypeBGP4MPET {
		switch {
		case local && ap:
			return "BGP4MP_ET_LOCAL_AP"
		case local:
			return "BGP4MP_ET_LOCAL"
		case ap:
			return "BGP4MP_ET_AP"
		}
		return "BGP4MP_ET"
	}
	switch {
	case local && ap:
		return "BGP4MP_LOCAL_AP"
	case local:
		return "BGP4MP_LOCAL"
	case ap:
		return "BGP4MP_AP"
	}
	return "BGP4MP"
}

func (f *Formatter) bgp4mp(dst []byte, rec *Record, s *mstream) ([]byte, error) {
	l := &f.ln
	switch rec.Subtype {
	case SubStateChange, SubStateChangeAS4:
		asLen := 2
		if rec.Subtype == SubStateChangeAS4 {
			asLen = 4
		}
		l.peerAS = s.asn(asLen)
		s.asn(asLen)
		var src [16]byte
		if rec.Length == 8 {
			l.peer = appendIPv4(l.peer[:0], src[:4])
		} else {
			s.getw()
			afi := s.getw()
			switch afi {
			case AFIIPv4:
				if rec.Length != 20 && rec.Length != 24 {
					return dst, nil
				}
				s.get(src[:4])
				s.skip(4)
				l.peer = appendIPv4(l.peer[:0], src[:4])
			case AFIIPv6:
				if rec.Length != 44 && rec.Length != 48 {
					return dst, nil
				}
				s.get(src[:])
				s.skip(16)
				l.peer = appendIPv6(l.peer[:0], src)
			default:
				return dst, nil
			}
		}
		l.oldState, l.newState = s.getw(), s.getw()
		if rec.Type == TypeBGP4MPET {
			l.format = "BGP4MP_ET"
		} else {
			l.format = "BGP4MP"
		}
		l.kind = "STATE"
		return f.emitState(dst), nil
	case SubMessage, SubMessageAS4, SubMessageLocal, SubMessageAS4Local,
		SubMessageAddPath, SubMessageAS4AddPath, SubMessageLocalAddPath, SubMessageAS4LocalAddPath:
	default:
		return dst, nil
	}
	st := rec.Subtype
	asLen := 2
	if st == SubMessageAS4 || st == SubMessageAS4Local || st == SubMessageAS4AddPath || st == SubMessageAS4LocalAddPath {
		asLen = 4
	}
	addPath := st >= SubMessageAddPath
	l.peerAS = s.asn(asLen)
	s.asn(asLen)
	s.getw()
	afi := s.getw()
	var src [16]byte
	switch afi {
	case AFIIPv4:
		s.get(src[:4])
		s.skip(4)
		l.peer = appendIPv4(l.peer[:0], src[:4])
	case AFIIPv6:
		s.get(src[:])
		s.skip(16)
		l.peer = appendIPv6(l.peer[:0], src)
	default:
		return dst, nil
	}
	var marker [16]byte
	s.get(marker[:])
	for _, c := range marker {
		if c != 0xff {
			return dst, nil
		}
	}
	size := int(s.getw())
	msg := s.copyN(size - 18)
	if msg.getc() != MsgUpdate {
		return dst, nil
	}
	l.format = bgp4mpFormat(rec)
	l.hasPathID = addPath
	wl := int(msg.getw())
	ws := msg.copyN(wl)
	f.wd = readPrefixList(&ws, f.wd[:0], addPath)
	f.attr.parse(&msg, asLen, addPath)
	f.an = readPrefixList(&msg, f.an[:0], addPath)
	a := &f.attr
	if len(f.wd) > 0 || a.flag&bit(AttrMPUnreach) != 0 {
		l.kind = "W"
		dst = f.emitWithdraw(dst, f.wd, false)
		for _, afi := range [2]int{AFIIPv4, AFIIPv6} {
			for safi := 1; safi <= 3; safi++ {
				w := &a.withdraw[afi][safi]
				if w.set && len(w.prefixes) > 0 {
					dst = f.emitWithdraw(dst, w.prefixes, afi == AFIIPv6)
				}
			}
		}
	}
	if len(f.an) > 0 || a.flag&bit(AttrMPReach) != 0 {
		l.kind = "A"
		l.nexthop = appendIPv4(l.nexthop[:0], a.nexthop[:])
		for _, p := range f.an {
			f.setPrefix(&p, false)
			dst = f.emitAnnounce(dst)
		}
		for _, afi := range [2]int{AFIIPv4, AFIIPv6} {
			for safi := 1; safi <= 3; safi++ {
				n := &a.announce[afi][safi]
				if !n.set || len(n.prefixes) == 0 {
					continue
				}
				if afi == AFIIPv4 {
					l.nexthop = appendIPv4(l.nexthop[:0], n.nh[:4])
					l.signed = true
				} else {
					l.nexthop = appendIPv6(l.nexthop[:0], n.nh)
				}
				for _, p := range n.prefixes {
					f.setPrefix(&p, afi == AFIIPv6)
					dst = f.emitAnnounce(dst)
				}
				l.signed = false
			}
		}
	}
	return dst, nil
}

func (f *Formatter) setPrefix(p *bdPrefix, v6 bool) {
	l := &f.ln
	if v6 {
		l.prefix = appendIPv6(l.prefix[:0], p.addr)
	} else {
		l.prefix = appendIPv4(l.prefix[:0], p.addr[:4])
	}
	l.prefix = append(l.prefix, '/')
	l.prefix = strconv.AppendUint(l.prefix, uint64(p.len), 10)
	l.pathID = p.pathID
}

func (f *Formatter) legacy(dst []byte, rec *Record, s *mstream) ([]byte, error) {
	l := &f.ln
	l.format = "BGP"
	switch rec.Subtype {
	case 1:
		l.peerAS = uint32(s.getw())
		var ip [4]byte
		s.get(ip[:])
		s.getw()
		s.skip(4)
		l.peer = appendIPv4(l.peer[:0], ip[:])
		wl := int(s.getw())
		ws := s.copyN(wl)
		f.wd = readPrefixList(&ws, f.wd[:0], false)
		f.attr.parse(s, 2, false)
		f.an = readPrefixList(s, f.an[:0], false)
		l.kind = "W"
		dst = f.emitWithdraw(dst, f.wd, false)
		l.kind = "A"
		l.nexthop = appendIPv4(l.nexthop[:0], f.attr.nexthop[:])
		for _, p := range f.an {
			f.setPrefix(&p, false)
			dst = f.emitAnnounce(dst)
		}
	case 3:
		l.peerAS = uint32(s.getw())
		var ip [4]byte
		s.get(ip[:])
		l.peer = appendIPv4(l.peer[:0], ip[:])
		l.oldState, l.newState = s.getw(), s.getw()
		l.kind = "STATE"
		return f.emitState(dst), nil
	}
	return dst, nil
}

func (f *Formatter) appendHead(dst []byte) []byte {
	l := &f.ln
	if f.Format == FormatJSON {
		dst = append(dst, `{"type":"`...)
		dst = append(dst, l.format...)
		dst = append(dst, `","time":`...)
		dst = f.appendTime(dst)
		dst = append(dst, `,"kind":"`...)
		dst = append(dst, l.kind...)
		dst = append(dst, `","peer":"`...)
		dst = append(dst, l.peer...)
		dst = append(dst, `","peer_as":`...)
		dst = strconv.AppendUint(dst, uint64(l.peerAS), 10)
		return dst
	}
	dst = append(dst, l.format...)
	dst = append(dst, '|')
	dst = f.appendTime(dst)
	dst = append(dst, '|')
	dst = append(dst, l.kind...)
	dst = append(dst, '|')
	dst = append(dst, l.peer...)
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, uint64(l.peerAS), 10)
	return append(dst, '|')
}

func (f *Formatter) appendTime(dst []byte) []byte {
	l := &f.ln
	dst = strconv.AppendUint(dst, uint64(l.ts), 10)
	if l.et {
		dst = append(dst, '.')
		m := l.micro
		var d [6]byte
		for i := 5; i >= 0; i-- {
			d[i] = byte('0' + m%10)
			m /= 10
		}
		if m > 0 { // %06ld of a value >= 1e6 prints all digits
			dst = strconv.AppendUint(dst, uint64(l.micro), 10)
		} else {
			dst = append(dst, d[:]...)
		}
	}
	return dst
}

func (f *Formatter) emitState(dst []byte) []byte {
	l := &f.ln
	dst = f.appendHead(dst)
	if f.Format == FormatJSON {
		dst = append(dst, `,"old_state":`...)
		dst = strconv.AppendUint(dst, uint64(l.oldState), 10)
		dst = append(dst, `,"new_state":`...)
		dst = strconv.AppendUint(dst, uint64(l.newState), 10)
		return append(dst, "}\n"...)
	}
	dst = strconv.AppendUint(dst, uint64(l.oldState), 10)
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, uint64(l.newState), 10)
	return append(dst, '\n')
}

func (f *Formatter) emitWithdraw(dst []byte, ps []bdPrefix, v6 bool) []byte {
	for i := range ps {
		f.setPrefix(&ps[i], v6)
		dst = f.appendHead(dst)
		dst = f.appendPrefix(dst)
		if f.Format == FormatJSON {
			dst = append(dst, "}\n"...)
		} else {
			dst = append(dst, '\n')
		}
	}
	return dst
}

// appendPrefix writes the line's prefix and, with ADD-PATH, its path id:
// `,"prefix":"P","path_id":N` in JSON, `P|N` in text.
func (f *Formatter) appendPrefix(dst []byte) []byte {
	l := &f.ln
	if f.Format == FormatJSON {
		dst = append(dst, `,"prefix":"`...)
		dst = append(dst, l.prefix...)
		dst = append(dst, '"')
		if l.hasPathID {
			dst = append(dst, `,"path_id":`...)
			dst = strconv.AppendUint(dst, uint64(l.pathID), 10)
		}
		return dst
	}
	dst = append(dst, l.prefix...)
	if l.hasPathID {
		dst = append(dst, '|')
		dst = strconv.AppendUint(dst, uint64(l.pathID), 10)
	}
	return dst
}

func describeOrigin(o int) string {
	switch o {
	case 0:
		return "IGP"
	case 1:
		return "EGP"
	}
	return "INCOMPLETE"
}

func (f *Formatter) emitAnnounce(dst []byte) []byte {
	l := &f.ln
	a := &f.attr
	dst = f.appendHead(dst)
	var lp, med uint32
	if a.flag&bit(AttrLocalPref) != 0 {
		lp = a.lp
	}
	if a.flag&bit(AttrMED) != 0 {
		med = a.med
	}
	ag := "NAG"
	if a.flag&bit(AttrAtomicAggregate) != 0 {
		ag = "AG"
	}
	var path []byte
	if a.hasPath {
		path = a.path
	}
	var comm []byte
	if a.hasComm && len(a.comm) > 0 {
		comm = a.comm[1:]
	}
	hasAgg := a.aggAddr != [4]byte{255, 255, 255, 255}
	dst = f.appendPrefix(dst)
	if f.Format == FormatJSON {
		dst = append(dst, `,"as_path":"`...)
		dst = append(dst, path...)
		dst = append(dst, `","origin":"`...)
		dst = append(dst, describeOrigin(a.origin)...)
		dst = append(dst, `","next_hop":"`...)
		dst = append(dst, l.nexthop...)
		dst = append(dst, `","local_pref":`...)
		dst = strconv.AppendUint(dst, uint64(lp), 10)
		dst = append(dst, `,"med":`...)
		dst = strconv.AppendUint(dst, uint64(med), 10)
		dst = append(dst, `,"communities":"`...)
		dst = append(dst, comm...)
		dst = append(dst, `","atomic_aggregate":`...)
		dst = strconv.AppendBool(dst, ag == "AG")
		if hasAgg {
			dst = append(dst, `,"aggregator":"`...)
			dst = strconv.AppendUint(dst, uint64(a.aggAS), 10)
			dst = append(dst, ' ')
			dst = appendIPv4(dst, a.aggAddr[:])
			dst = append(dst, '"')
		}
		return append(dst, "}\n"...)
	}
	dst = append(dst, '|')
	dst = append(dst, path...)
	dst = append(dst, '|')
	dst = append(dst, describeOrigin(a.origin)...)
	dst = append(dst, '|')
	dst = append(dst, l.nexthop...)
	dst = append(dst, '|')
	if l.signed {
		dst = strconv.AppendInt(dst, int64(int32(lp)), 10)
		dst = append(dst, '|')
		dst = strconv.AppendInt(dst, int64(int32(med)), 10)
	} else {
		dst = strconv.AppendUint(dst, uint64(lp), 10)
		dst = append(dst, '|')
		dst = strconv.AppendUint(dst, uint64(med), 10)
	}
	if l.format != "BGP" {
		dst = append(dst, '|')
	} else if !a.hasComm {
		dst = append(dst, '|')
	}
	dst = append(dst, comm...)
	dst = append(dst, '|')
	dst = append(dst, ag...)
	dst = append(dst, '|')
	if hasAgg {
		dst = strconv.AppendUint(dst, uint64(a.aggAS), 10)
		dst = append(dst, ' ')
		dst = appendIPv4(dst, a.aggAddr[:])
	}
	return append(dst, "|\n"...)
}

func appendIPv4(dst, b []byte) []byte {
	for i := 0; i < 4; i++ {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(b[i]), 10)
	}
	return dst
}

// appendIPv6 formats like bgpdump's fmt_ipv6: v4-mapped and v4-compatible
// addresses in dotted form, and the longest run of zero words (even a
// single one; the first on ties) written as "::".
func appendIPv6(dst []byte, a [16]byte) []byte {
	var w [8]uint16
	for i := range w {
		w[i] = binary.BigEndian.Uint16(a[2*i:])
	}
	if w[0]|w[1]|w[2]|w[3]|w[4] == 0 {
		if w[5] == 0xffff {
			dst = append(dst, "::ffff:"...)
			return appendIPv4(dst, a[12:])
		}
		if w[5] == 0 && binary.BigEndian.Uint32(a[12:]) > 1 {
			dst = append(dst, "::"...)
			return appendIPv4(dst, a[12:])
		}
	}
	var zr [8]int
	run := 0
	for i := 7; i >= 0; i-- {
		if w[i] == 0 {
			run++
		} else {
			run = 0
		}
		zr[i] = run
	}
	k, best := -1, 0
	for i := 0; i < 8; i++ {
		if zr[i] > best {
			k, best = i, zr[i]
		}
	}
	for i := 0; i < 8; i++ {
		if i == k {
			if i == 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, ':')
			i += zr[i] - 1
			continue
		}
		dst = strconv.AppendUint(dst, uint64(w[i]), 16)
		if i != 7 {
			dst = append(dst, ':')
		}
	}
	return dst
}
