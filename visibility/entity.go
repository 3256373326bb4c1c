package visibility

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// entity is the visible state of one origin ASN or one country.
type entity struct {
	asn     bgpwatch.ASN
	country string // for an ASN: its country; for a country: its code
	ctry    *entity
	v4, v6  int      // visible prefixes
	keys    []uint64 // sorted key4 of the visible IPv4 prefixes (after flush)
	ops     []uint64 // pending changes to keys: key<<1 | 1 for add, key<<1 for remove
	slash24 int
	dirty   bool
	shown   bool // present in the output map with non-zero counts
	isCtry  bool
}

func (e *Engine) entity(a bgpwatch.ASN) *entity {
	if en, ok := e.ents[a]; ok {
		return en
	}
	en := &entity{asn: a, country: e.countryOf(a)}
	if en.country != "" {
		c, ok := e.ctrs[en.country]
		if !ok {
			c = &entity{country: en.country, isCtry: true}
			e.ctrs[en.country] = c
		}
		en.ctry = c
	}
	e.ents[a] = en
	return en
}

// count adds (+1) or removes (-1) visible prefix id for origin a.
func (e *Engine) count(id uint32, a bgpwatch.ASN, delta int) {
	if a == 0 {
		return
	}
	en := e.entity(a)
	v6 := e.st[id].flags&flagV6 != 0
	var op uint64
	if !v6 {
		k := e.keys[id]
		op = (k.lo<<8 | uint64(k.bits)) << 1
		if delta > 0 {
			op |= 1
		}
	}
	for x := en; x != nil; x = x.ctry {
		if v6 {
			x.v6 += delta
		} else {
			x.v4 += delta
			x.ops = append(x.ops, op)
		}
		if !x.dirty {
			x.dirty = true
			e.dirty = append(e.dirty, x)
		}
	}
}

// flush brings the output maps up to date with the dirty entities.
func (e *Engine) flush() {
	// Entities shown at zero in the previous bin leave the maps now.
	for _, a := range e.zeroASN {
		if c, ok := e.outASN[a]; ok && c == (bgpwatch.Counts{}) {
			delete(e.outASN, a)
		}
	}
	for _, cc := range e.zeroCtry {
		if c, ok := e.outCtry[cc]; ok && c == (bgpwatch.Counts{}) {
			delete(e.outCtry, cc)
		}
	}
	e.zeroASN, e.zeroCtry = e.zeroASN[:0], e.zeroCtry[:0]
	for _, en := range e.dirty {
		en.dirty = false
		if len(en.ops) > 0 {
			e.applyOps(en)
		}
		c := bgpwatch.Counts{Prefixes: en.v4, Slash24: en.slash24, V6Prefixes: en.v6}
		zero := c == (bgpwatch.Counts{})
		if zero && !en.shown {
			continue
		}
		if !en.isCtry {
			e.outASN[en.asn] = c
			if zero {
				e.zeroASN = append(e.zeroASN, en.asn)
			}
		} else {
			e.outCtry[en.country] = c
			if zero {
				e.zeroCtry = append(e.zeroCtry, en.country)
			}
		}
		en.shown = !zero
	}
	e.dirty = e.dirty[:0]
}

// applyOps merges the pending adds and removes into the sorted keys and
// recomputes the /24 equivalents.
func (e *Engine) applyOps(en *entity) {
	ops := en.ops
	slices.Sort(ops)
	// Net effect per key: adds minus removes is -1, 0 or +1.
	net := ops[:0]
	for i := 0; i < len(ops); {
		k := ops[i] >> 1
		d := 0
		for ; i < len(ops) && ops[i]>>1 == k; i++ {
			if ops[i]&1 == 1 {
				d++
			} else {
				d--
			}
		}
		switch {
		case d > 0:
			net = append(net, k<<1|1)
		case d < 0:
			net = append(net, k<<1)
		}
	}
	out := e.scratch[:0]
	i := 0
	for _, op := range net {
		k := op >> 1
		for i < len(en.keys) && en.keys[i] < k {
			out = append(out, en.keys[i])
			i++
		}
		if op&1 == 1 {
			out = append(out, k)
		} else if i < len(en.keys) && en.keys[i] == k {
			i++
		}
	}
	out = append(out, en.keys[i:]...)
	e.scratch = en.keys[:0]
	en.keys = out
	en.ops = en.ops[:0]
	en.slash24 = int(union(en.keys) >> 8)
}

// union returns the number of addresses covered by sorted key4 values.
func union(keys []uint64) uint64 {
	var total, end uint64
	for _, k := range keys {
		start := k >> 8
		size := uint64(1) << (32 - k&0xff)
		if start >= end {
			total += size
			end = start + size
		} else if start+size > end { // cannot happen for CIDR blocks; kept for safety
			total += start + size - end
			end = start + size
		}
	}
	return total
}

// VisiblePrefixes returns the prefixes currently visible and attributed to
// asn, IPv4 first, each family sorted by address and length.
func (e *Engine) VisiblePrefixes(asn bgpwatch.ASN) []netip.Prefix {
	var out []netip.Prefix
	for id := range e.st {
		p := &e.st[id]
		if p.flags&flagVisible != 0 && p.attr == asn && asn != 0 {
			out = append(out, e.prefix(uint32(id)))
		}
	}
	slices.SortFunc(out, netip.Prefix.Compare)
	return out
}

// PeerStat describes one collector session.
type PeerStat struct {
	Peer       bgpwatch.Peer
	V4, V6     int  // prefixes in its table
	FullFeedV4 bool // full-feed for IPv4 as of the last bin close
	FullFeedV6 bool
	LastSeen   time.Time // time of its last observation
}

// Peers returns every session seen so far, sorted by collector, peer ASN
// and address.
func (e *Engine) Peers() []PeerStat {
	out := make([]PeerStat, 0, len(e.sess))
	for i := range e.sess {
		s := &e.sess[i]
		out = append(out, PeerStat{
			Peer: s.peer, V4: s.size[famV4], V6: s.size[famV6],
			FullFeedV4: s.ff[famV4], FullFeedV6: s.ff[famV6], LastSeen: s.last,
		})
	}
	slices.SortFunc(out, func(a, b PeerStat) int {
		if c := cmp.Compare(a.Peer.Collector, b.Peer.Collector); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Peer.ASN, b.Peer.ASN); c != 0 {
			return c
		}
		return a.Peer.Addr.Compare(b.Peer.Addr)
	})
	return out
}
