package visibility

import (
	"encoding/binary"

	"github.com/bgpwatch/bgpwatch"
)

// ---- sessions ----

func (e *Engine) collector(name string) int {
	if c, ok := e.collIdx[name]; ok {
		return c
	}
	c := len(e.colls)
	e.colls = append(e.colls, collector{name: name})
	e.collIdx[name] = c
	return c
}

// session returns the dense id of a peer's session, adding it when new.
func (e *Engine) session(p *bgpwatch.Peer) int32 {
	// RIB dumps list each prefix's routes in peer-index order and updates
	// come in runs from one peer: try the last session and its successor
	// before the hash cache.
	if l := e.lastSess; l < int32(len(e.sess)) {
		if e.sess[l].peer == *p {
			return l
		}
		if l+1 < int32(len(e.sess)) && e.sess[l+1].peer == *p {
			e.lastSess = l + 1
			return l + 1
		}
	}
	c := &e.pcache[peerHash(p)]
	if c.s > 0 && c.peer == *p {
		e.lastSess = c.s - 1
		return c.s - 1
	}
	s, ok := e.sessIdx[*p]
	if !ok {
		s = int32(len(e.sess))
		if int(s) >= e.stride*64 {
			e.grow()
		}
		c := e.collector(p.Collector)
		col := &e.colls[c]
		e.sess = append(e.sess, session{peer: *p, coll: c, local: int32(len(col.sess))})
		e.sessIdx[*p] = s
		col.sess = append(col.sess, s)
		if col.inDump {
			col.widen()
		}
	}
	c.peer, c.s = *p, s+1
	e.lastSess = s
	return s
}

// peerHash picks the session cache slot of a peer: RIB dumps cycle through
// all peers for every prefix, so a map lookup hashing the collector name on
// every observation would dominate Apply.
func peerHash(p *bgpwatch.Peer) uint32 {
	a := p.Addr.As16()
	h := uint32(p.ASN)*0x9e3779b1 ^ binary.LittleEndian.Uint32(a[12:])*0x85ebca6b ^ binary.LittleEndian.Uint32(a[8:])*0xc2b2ae35 ^ uint32(len(p.Collector))
	h ^= h >> 15
	h *= 0x2c1b3c6d
	return h >> (32 - peerCacheBits)
}

const peerCacheBits = 12

type peerSlot struct {
	peer bgpwatch.Peer
	s    int32 // session id + 1; 0 for an empty slot
}

// grow adds a plane of 64 sessions to the holder bitsets: the planes
// there are stay where they are, so growing costs no copy and no
// transient second bitset.
func (e *Engine) grow() {
	ns := e.stride + 1
	e.bits = append(e.bits, make([]uint64, len(e.st), cap(e.bits[0])))
	for f := range 2 {
		e.ffMask[f] = append(e.ffMask[f], 0)
		e.ffSingle[f] = append(e.ffSingle[f], 0)
	}
	e.stride = ns
}

func (e *Engine) held(id uint32, s int32) bool {
	return e.bits[s>>6][id]&(1<<(s&63)) != 0
}

// gain records that session s now holds prefix id.
func (e *Engine) gain(id uint32, s int32) {
	p := &e.st[id]
	f := p.fam()
	sp := &e.sess[s]
	if sp.ff[f] && !e.othersHold(id, sp.ffOthers[f]) {
		p.cnt++
	}
	e.bits[s>>6][id] |= 1 << (s & 63)
	p.holders++
	sp.size[f]++
}

// lose records that session s no longer holds prefix id.
func (e *Engine) lose(id uint32, s int32) {
	p := &e.st[id]
	f := p.fam()
	sp := &e.sess[s]
	e.bits[s>>6][id] &^= 1 << (s & 63)
	if sp.ff[f] && !e.othersHold(id, sp.ffOthers[f]) {
		p.cnt--
	}
	p.holders--
	sp.size[f]--
	if p.holders == 0 && p.flags&flagIdle == 0 {
		p.flags |= flagIdle
		e.idle = append(e.idle, id)
	}
}

func (e *Engine) othersHold(id uint32, others []int32) bool {
	for _, o := range others {
		if e.held(id, o) {
			return true
		}
	}
	return false
}
