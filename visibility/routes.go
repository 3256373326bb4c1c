package visibility

import (
	"github.com/bgpwatch/bgpwatch"
)

// ---- route changes ----

func (e *Engine) announce(id uint32, s int32, pathID uint32, origin bgpwatch.ASN) {
	p := &e.st[id]
	held := e.held(id, s)
	var epoch uint32
	wasSeen := false
	if c := &e.colls[e.sess[s].coll]; c.inDump {
		wasSeen = c.see(id, e.sess[s].local)
		epoch = c.epoch
	}
	if p.flags&flagExc != 0 && e.hasEntries(id, s) {
		x := e.voteBefore(id, s)
		e.setEntry(id, s, pathID, origin, epoch)
		e.collapse(id, s)
		e.voteAfter(id, s, x)
		e.eval(id)
		return
	}
	if held {
		if pathID == 0 && origin == p.origin {
			return // refresh of the simple path: nothing changes
		}
		// The simple path becomes an explicit entry next to the new one.
		var oldEpoch uint32
		if wasSeen {
			oldEpoch = epoch
		}
		x := e.voteBefore(id, s)
		e.setEntry(id, s, 0, p.origin, oldEpoch)
		e.setEntry(id, s, pathID, origin, epoch)
		e.collapse(id, s)
		e.voteAfter(id, s, x)
		e.eval(id)
		return
	}
	if p.holders == 0 {
		p.origin = origin
	}
	x := e.voteBefore(id, s)
	if pathID != 0 || origin != p.origin {
		e.setEntry(id, s, pathID, origin, epoch)
	}
	e.gain(id, s)
	e.voteAfter(id, s, x)
	e.eval(id)
}

func (e *Engine) withdraw(id uint32, s int32, pathID uint32) {
	if !e.held(id, s) {
		return
	}
	p := &e.st[id]
	if p.flags&flagExc != 0 && e.hasEntries(id, s) {
		x := e.voteBefore(id, s)
		if !e.delEntry(id, s, pathID) {
			return
		}
		if e.hasEntries(id, s) {
			e.collapse(id, s)
		} else {
			e.lose(id, s)
		}
		e.voteAfter(id, s, x)
		e.eval(id)
		return
	}
	if pathID != 0 {
		return
	}
	x := e.voteBefore(id, s)
	e.lose(id, s)
	e.voteAfter(id, s, x)
	e.eval(id)
}

// dropAll removes every path of session s for prefix id.
func (e *Engine) dropAll(id uint32, s int32) {
	x := e.voteBefore(id, s)
	if e.st[id].flags&flagExc != 0 {
		e.delSession(id, s)
	}
	e.lose(id, s)
	e.voteAfter(id, s, x)
	e.eval(id)
}

// dropSession removes every route of session s (peer down).
func (e *Engine) dropSession(s int32) {
	sp := &e.sess[s]
	if sp.size[0] == 0 && sp.size[1] == 0 {
		return
	}
	bit := uint64(1) << (s & 63)
	for id, w := range e.bits[s>>6] {
		if w&bit != 0 {
			e.dropAll(uint32(id), s)
		}
	}
}
