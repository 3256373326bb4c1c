package mrt

import (
	"encoding/binary"
	"strconv"
)

// This file reproduces `bgpdump -m` (libbgpdump 1.6.2) output. It decodes
// records the way libbgpdump does (reads past the end of a buffer yield
// zeros, truncated attributes are skipped, the AS4_PATH merge and the
// defaults such as next hop 255.255.255.255 are bgpdump's), so that scripts
// written against bgpdump keep working. The typed decoders elsewhere in this
// package are the strict ones.

// mstream mimics libbgpdump's bounded stream: reads past the end return
// zeros and leave the position at the end.
type mstream struct {
	b   []byte
	pos int
}

func (s *mstream) canRead() int { return len(s.b) - s.pos }

func (s *mstream) get(d []byte) {
	n := copy(d, s.b[s.pos:])
	for i := n; i < len(d); i++ {
		d[i] = 0
	}
	s.pos += n
}

func (s *mstream) skip(n int) {
	if n > s.canRead() {
		n = s.canRead()
	}
	s.pos += n
}

func (s *mstream) getc() uint8 {
	if s.pos < len(s.b) {
		s.pos++
		return s.b[s.pos-1]
	}
	return 0
}

func (s *mstream) getw() uint16 {
	var d [2]byte
	s.get(d[:])
	return binary.BigEndian.Uint16(d[:])
}

func (s *mstream) getl() uint32 {
	var d [4]byte
	s.get(d[:])
	return binary.BigEndian.Uint32(d[:])
}

func (s *mstream) asn(n int) uint32 {
	if n == 4 {
		return s.getl()
	}
	return uint32(s.getw())
}

// copyN returns a sub-stream of up to n bytes and advances s past them.
func (s *mstream) copyN(n int) mstream {
	if n < 0 || n > s.canRead() {
		n = s.canRead()
	}
	c := mstream{b: s.b[s.pos : s.pos+n]}
	s.pos += n
	return c
}

type bdPrefix struct {
	addr   [16]byte
	len    uint8
	pathID uint32
}

type bdNLRI struct {
	set      bool
	nhLen    uint8
	nh       [16]byte
	prefixes []bdPrefix
}

const (
	bdMaxAFI  = 2
	bdMaxSAFI = 3
)

type bdAttr struct {
	flag        uint32
	origin      int
	hasPath     bool
	path        []byte // rendered AS path
	nexthop     [4]byte
	med, lp     uint32
	aggAS       uint32
	aggAddr     [4]byte
	newAggAS    int64
	newAggAddr  [4]byte
	hasComm     bool
	comm        []byte // rendered, with leading space
	announce    [bdMaxAFI + 1][bdMaxSAFI + 1]bdNLRI
	withdraw    [bdMaxAFI + 1][bdMaxSAFI + 1]bdNLRI
	rawPath     []byte
	pathASLen   int
	pathCount   int
	rawNewPath  []byte
	newPathCnt  int
	scratch     []byte
	scratchPath []byte
}

func bit(t int) uint32 { return 1 << uint(t-1) }

func (a *bdAttr) reset() {
	a.flag = 0
	a.origin = -1
	a.hasPath = false
	a.path = a.path[:0]
	a.nexthop = [4]byte{255, 255, 255, 255}
	a.med, a.lp = 0xffffffff, 0xffffffff
	a.aggAS = 0xffffffff
	a.aggAddr = [4]byte{255, 255, 255, 255}
	a.newAggAS = -1
	a.newAggAddr = [4]byte{255, 255, 255, 255}
	a.hasComm = false
	a.comm = a.comm[:0]
	for i := range a.announce {
		for j := range a.announce[i] {
			a.announce[i][j].set = false
			a.announce[i][j].prefixes = a.announce[i][j].prefixes[:0]
			a.withdraw[i][j].set = false
			a.withdraw[i][j].prefixes = a.withdraw[i][j].prefixes[:0]
		}
	}
	a.rawPath, a.rawNewPath = nil, nil
}

// readPrefixList mimics read_prefix_list.
func readPrefixList(s *mstream, dst []bdPrefix, addPath bool) []bdPrefix {
	for s.canRead() > 0 {
		var id uint32
		if addPath {
			id = s.getl()
		}
		plen := s.getc()
		pb := (int(plen) + 7) / 8
		if s.canRead() < pb {
			break
		}
		var p bdPrefix
		p.len, p.pathID = plen, id
		copy(p.addr[:], s.b[s.pos:s.pos+pb])
		s.pos += pb
		dst = append(dst, p)
	}
	return dst
}

func (a *bdAttr) parse(s *mstream, asLen int, addPath bool) {
	a.reset()
	total := int(s.getw())
	c := s.copyN(total)
	for c.canRead() > 0 {
		a.parseOne(&c, asLen, addPath)
	}
	a.asn32Trans(asLen)
}

func (a *bdAttr) parseOne(outer *mstream, asLen int, addPath bool) {
	flag := outer.getc()
	typ := int(outer.getc())
	var l int
	if flag&0x10 != 0 {
		l = int(outer.getw())
	} else {
		l = int(outer.getc())
	}
	s := outer.copyN(l)
	if s.canRead() != l {
		return // "attribute is truncated"
	}
	if typ >= 1 && typ <= 32 {
		a.flag |= bit(typ)
	}
	switch typ {
	case AttrMPReach:
		a.mpAnnounce(&s, addPath)
	case AttrMPUnreach:
		afi := int(s.getw())
		safi := int(s.getc())
		if afi > bdMaxAFI || safi > bdMaxSAFI || a.withdraw[afi][safi].set {
			return
		}
		w := &a.withdraw[afi][safi]
		w.set = true
		w.prefixes = readPrefixList(&s, w.prefixes[:0], addPath)
	case AttrOrigin:
		a.origin = int(s.getc())
	case AttrASPath:
		a.rawPath = s.b
		a.pathASLen = asLen
		a.hasPath = true
		a.path, a.pathCount = appendBdPath(a.path[:0], s.b, asLen)
	case AttrNextHop:
		s.get(a.nexthop[:])
	case AttrMED:
		a.med = s.getl()
	case AttrLocalPref:
		a.lp = s.getl()
	case AttrAggregator:
		a.aggAS = s.asn(asLen)
		s.get(a.aggAddr[:])
	case AttrCommunities:
		a.hasComm = true
		a.comm = appendBdCommunities(a.comm[:0], s.b[:l/4*4])
	case AttrAS4Path:
		a.rawNewPath = s.b
		a.scratch, a.newPathCnt = appendBdPath(a.scratch[:0], s.b, 4)
	case AttrAS4Aggregator:
		a.newAggAS = int64(s.getl())
		s.get(a.newAggAddr[:])
	}
}

func (a *bdAttr) mpAnnounce(s *mstream, addPath bool) {
	if s.canRead() > 0 && s.b[s.pos] != 0 {
		n := &a.announce[AFIIPv6][SAFIUnicast]
		if n.set {
			return
		}
		n.set = true
		n.nhLen = s.getc()
		s.get(n.nh[:])
		if n.nhLen == 32 {
			s.skip(16)
		}
		return
	}
	afi := int(s.getw())
	safi := int(s.getc())
	if afi > bdMaxAFI || safi > bdMaxSAFI || a.announce[afi][safi].set {
		return
	}
	n := &a.announce[afi][safi]
	n.set = true
	n.nhLen = s.getc()
	n.nh = [16]byte{}
	if afi == AFIIPv4 {
		s.get(n.nh[:4])
	} else {
		s.get(n.nh[:])
		if n.nhLen == 32 {
			s.skip(16)
		}
	}
	snpa := int(s.getc())
	for ; snpa > 0; snpa-- {
		s.skip(int(s.getc()))
	}
	n.prefixes = readPrefixList(s, n.prefixes[:0], addPath)
}

// appendBdPath renders an AS path as process_attr_aspath_string does and
// returns its count (sets count 1).
func appendBdPath(dst, p []byte, asLen int) ([]byte, int) {
	const maxLen = 8000
	start := len(dst)
	count := 0
	space := false
	typ := byte(SegSequence)
	var segType byte
	seen := false
	for len(p) > 0 {
		if len(p) < 2 {
			return append(dst[:start], "! Error !"...), 0
		}
		st, sl := p[0], int(p[1])
		if st != SegSet && st != SegSequence && st != SegConfedSet && st != SegConfedSequence {
			return append(dst[:start], "! Error !"...), 0
		}
		if 2+sl*asLen > len(p) {
			return append(dst[:start], "! Error !"...), 0
		}
		if typ != SegSequence {
			dst = append(dst, delim(typ, false))
		}
		if space {
			dst = append(dst, ' ')
		}
		if st != SegSequence {
			dst = append(dst, delim(st, true))
		}
		space = false
		switch st {
		case SegSequence, SegConfedSequence:
			count += sl
		default:
			count++
		}
		for i := 0; i < sl; i++ {
			if space {
				if st == SegSet || st == SegConfedSet {
					dst = append(dst, ',')
				} else {
					dst = append(dst, ' ')
				}
			} else {
				space = true
			}
			dst = strconv.AppendUint(dst, uint64(asn(p[2+i*asLen:], asLen)), 10)
			if len(dst)-start > maxLen-100 {
				return append(dst, "..."...), count
			}
		}
		typ = st
		segType, seen = st, true
		p = p[2+sl*asLen:]
	}
	if seen && segType != SegSequence {
		dst = append(dst, delim(segType, false))
	}
	return dst, count
}

func delim(t byte, start bool) byte {
	switch t {
	case SegSet:
		if start {
			return '{'
		}
		return '}'
	case SegConfedSet:
		if start {
			return '['
		}
		return ']'
	case SegConfedSequence:
		if start {
			return '('
		}
		return ')'
	}
	return ' '
}

func appendBdCommunities(dst, v []byte) []byte {
	const bufsiz = 8192
	for i := 0; i+4 <= len(v); i += 4 {
		c := binary.BigEndian.Uint32(v[i:])
		var piece []byte
		var tmp [32]byte
		switch c {
		case 0xFFFFFF01:
			piece = append(tmp[:0], " no-export"...)
		case 0xFFFFFF02:
			piece = append(tmp[:0], " no-advertise"...)
		case 0xFFFFFF03:
			piece = append(tmp[:0], " local-AS"...)
		default:
			piece = append(tmp[:0], ' ')
			piece = strconv.AppendUint(piece, uint64(c>>16), 10)
			piece = append(piece, ':')
			piece = strconv.AppendUint(piece, uint64(c&0xffff), 10)
		}
		if len(dst)+len(piece) >= bufsiz {
			if c >= 0xFFFFFF01 && c <= 0xFFFFFF03 {
				continue // strlcat refuses
			}
			piece = piece[:bufsiz-1-len(dst)] // snprintf truncates
		}
		dst = append(dst, piece...)
	}
	return dst
}

// asn32Trans mimics process_asn32_trans, including its early return and
// its merge, which repeats the first AS_PATH segment.
func (a *bdAttr) asn32Trans(asLen int) {
	if asLen == 4 {
		return
	}
	if a.flag&bit(AttrAggregator) != 0 && a.flag&bit(AttrAS4Aggregator) != 0 {
		if a.aggAS != 23456 {
			return
		}
		a.aggAS = uint32(a.newAggAS)
		a.aggAddr = a.newAggAddr
	}
	if a.flag&bit(AttrAS4Path) == 0 || !a.hasPath {
		return
	}
	if a.pathCount < a.newPathCnt {
		return
	}
	want := a.pathCount - a.newPathCnt
	m := a.scratchPath[:0]
	cnt := 0
	p := a.rawPath
	for cnt < want {
		if len(p) < 2 {
			break
		}
		st, sl := p[0], int(p[1])
		if 2+sl*2 > len(p) {
			break
		}
		segStart := len(m)
		m = append(m, st, byte(sl))
		for i := 0; i < sl; i++ {
			m = binary.BigEndian.AppendUint32(m, uint32(binary.BigEndian.Uint16(p[2+2*i:])))
		}
		if st == SegSet || st == SegConfedSet {
			cnt++
		} else {
			if sl == 0 {
				break // bgpdump would loop forever here
			}
			cnt += sl
			if cnt > want {
				over := cnt - want
				m[segStart+1] -= byte(over)
				m = m[:len(m)-over*4]
			}
		}
	}
	m = append(m, a.rawNewPath...)
	a.scratchPath = m
	a.path, _ = appendBdPath(a.path[:0], m, 4)
}
