package visibility

import (
	"encoding/binary"
	"net/netip"
)

// ---- prefixes ----

func mask32(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func mask64(bits int) uint64 {
	if bits <= 0 {
		return 0
	}
	if bits >= 64 {
		return ^uint64(0)
	}
	return ^uint64(0) << (64 - bits)
}

// key4 returns the dense-map key of an IPv4 prefix: masked address and length.
func key4(p netip.Prefix) uint64 {
	a := p.Addr().As4()
	b := p.Bits()
	return uint64(binary.BigEndian.Uint32(a[:])&mask32(b))<<8 | uint64(b)
}

func key6(p netip.Prefix) v6key {
	a := p.Addr().As16()
	b := p.Bits()
	return v6key{
		hi:   binary.BigEndian.Uint64(a[:8]) & mask64(b),
		lo:   binary.BigEndian.Uint64(a[8:]) & mask64(b-64),
		bits: uint8(b),
	}
}

// lookup returns the id of an interned prefix.
func (e *Engine) lookup(p netip.Prefix) (uint32, bool) {
	if e.lastOK && p == e.lastPfx {
		return e.lastID, true
	}
	if !p.IsValid() {
		return 0, false
	}
	var id uint32
	var ok bool
	if p.Addr().Is4() {
		id, ok = e.v4ids[key4(p)]
	} else {
		id, ok = e.v6ids[key6(p)]
	}
	if ok {
		e.lastPfx, e.lastID, e.lastOK = p, id, true
	}
	return id, ok
}

// intern returns the id of p, adding it when new.
func (e *Engine) intern(p netip.Prefix) (uint32, bool) {
	if id, ok := e.lookup(p); ok || !p.IsValid() {
		return id, ok
	}
	var id uint32
	if p.Addr().Is4() {
		id = e.newPrefix(p.Masked(), false)
		e.v4ids[key4(p)] = id
	} else {
		id = e.newPrefix(p.Masked(), true)
		e.v6ids[key6(p)] = id
	}
	e.lastPfx, e.lastID, e.lastOK = p, id, true
	return id, true
}

func (e *Engine) newPrefix(p netip.Prefix, v6 bool) uint32 {
	var k v6key
	if v6 {
		k = key6(p)
	} else {
		k4 := key4(p)
		k = v6key{lo: k4 >> 8, bits: uint8(k4)}
	}
	if n := len(e.free); n > 0 {
		id := e.free[n-1]
		e.free = e.free[:n-1]
		e.keys[id] = k
		e.st[id] = pstate{}
		if v6 {
			e.st[id].flags = flagV6
		}
		return id
	}
	id := uint32(len(e.st))
	e.keys = append(e.keys, k)
	var f uint8
	if v6 {
		f = flagV6
	}
	e.st = append(e.st, pstate{flags: f})
	for w := range e.bits {
		e.bits[w] = append(e.bits[w], 0)
	}
	return id
}

// prefix returns the prefix with id.
func (e *Engine) prefix(id uint32) netip.Prefix {
	k := e.keys[id]
	if e.st[id].flags&flagV6 == 0 {
		a := uint32(k.lo)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), int(k.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.bits))
}

func (p *pstate) fam() int { return int(p.flags & flagV6) }
