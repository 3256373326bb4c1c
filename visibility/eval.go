package visibility

import "github.com/bgpwatch/bgpwatch"

// ---- visibility ----

// eval re-derives visibility and attribution of prefix id and records flips.
func (e *Engine) eval(id uint32) {
	p := &e.st[id]
	f := p.fam()
	vis := int(p.cnt) >= e.thr[f]
	attr := p.origin
	if p.flags&flagExc != 0 {
		attr = e.vote(id)
	}
	was := p.flags&flagVisible != 0
	if !vis && !was {
		p.attr = attr
		return
	}
	if vis && was && attr == p.attr {
		return
	}
	if was {
		e.count(id, p.attr, -1)
	}
	if vis {
		e.count(id, attr, +1)
		p.flags |= flagVisible
	} else {
		p.flags &^= flagVisible
	}
	if vis != was {
		o := attr
		if !vis {
			o = p.attr
		}
		e.recordChange(id, vis, o)
	}
	p.attr = attr
}

func (e *Engine) recordChange(id uint32, vis bool, origin bgpwatch.ASN) {
	p := &e.st[id]
	if e.quiet[p.fam()] {
		return
	}
	t := e.changeTime()
	if p.chg > 0 {
		c := &e.changes[p.chg-1]
		c.t, c.visible, c.origin = t, vis, origin
		return
	}
	e.changes = append(e.changes, changeRec{id: id, t: t, origin: origin, visible: vis, initial: !vis})
	p.chg = int32(len(e.changes))
}
