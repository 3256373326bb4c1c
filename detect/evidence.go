package detect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// recordChanges keeps, per tracked ASN, the prefixes that went invisible
// recently (Lookback, or longer while an event of the ASN or of its country
// is open) and marks those that came back. It runs for skipped bins too:
// a collector outage's flips are marked restored when the feed returns.
func (d *Detector) recordChanges(b *bgpwatch.Bin) {
	d.logChanges(b, false)
}

// logChanges applies a bin's changes to the tracked ASNs' withdrawal logs:
// a withdrawal is logged, a prefix coming back marks its latest unrestored
// withdrawal restored. A bin in time order (late false) prunes the log and
// appends; a bin that comes again after Resume (late true, see
// replayChanges) may be older than the log's end, so its withdrawals are
// inserted in time order once each, and a return only restores a
// withdrawal from before it.
func (d *Detector) logChanges(b *bgpwatch.Bin, late bool) {
	for i := range b.Changes {
		ch := &b.Changes[i]
		a := d.asnIdx[ch.Origin]
		if a == nil {
			continue
		}
		if !ch.Visible {
			if late {
				a.addLogged(ch.Prefix, ch.Time)
				continue
			}
			// Prune from the bin's start, not the flip's time: an event
			// starting in this bin starts at b.Start, and with a Lookback
			// of 0 the bin's earlier flips would otherwise be lost.
			d.prune(a, b.Start)
			a.log = append(a.log, withdrawal{prefix: ch.Prefix, at: ch.Time})
			continue
		}
		for j := len(a.log) - 1; j >= 0; j-- {
			w := &a.log[j]
			if w.prefix == ch.Prefix && w.restored.IsZero() && (!late || w.at.Before(ch.Time)) {
				w.restored = ch.Time
				break
			}
		}
	}
}

// prune drops log entries no open event can use any more.
func (d *Detector) prune(a *asnEntity, now time.Time) {
	if len(a.log) == 0 {
		return
	}
	keep := now.Add(-d.cfg.Lookback)
	if a.ev != nil {
		keep = minTime(keep, a.ev.start.Add(-d.cfg.Lookback))
	}
	if c := d.ccIdx[a.country]; c != nil && c.ev != nil {
		keep = minTime(keep, c.ev.start.Add(-d.cfg.Lookback))
	}
	if !a.log[0].at.Before(keep) {
		return
	}
	i := 0
	for i < len(a.log) && a.log[i].at.Before(keep) {
		i++
	}
	n := copy(a.log, a.log[i:])
	clear(a.log[n:])
	a.log = a.log[:n]
}

func minTime(x, y time.Time) time.Time {
	if y.Before(x) {
		return y
	}
	return x
}

// evidence lists the prefixes of the given ASNs that went invisible from
// Lookback before the start until the end (or now), leaving out those that
// were visible again before the start. One entry per prefix (the earliest),
// ordered by time and prefix, at most MaxWithdrawn.
func (d *Detector) evidence(o *open, asns []*asnEntity) []bgpwatch.WithdrawnPrefix {
	from := o.start.Add(-d.cfg.Lookback)
	seen := make(map[netip.Prefix]int)
	var out []bgpwatch.WithdrawnPrefix
	for _, a := range asns {
		for _, w := range a.log {
			if w.at.Before(from) || (!o.end.IsZero() && !w.at.Before(o.end)) {
				continue
			}
			if !w.restored.IsZero() && w.restored.Before(o.start) {
				continue
			}
			if i, ok := seen[w.prefix]; ok {
				if w.at.Before(out[i].WithdrawnAt) {
					out[i] = bgpwatch.WithdrawnPrefix{Prefix: w.prefix, Origin: a.asn, WithdrawnAt: w.at}
				}
				continue
			}
			seen[w.prefix] = len(out)
			out = append(out, bgpwatch.WithdrawnPrefix{Prefix: w.prefix, Origin: a.asn, WithdrawnAt: w.at})
		}
	}
	slices.SortFunc(out, func(x, y bgpwatch.WithdrawnPrefix) int {
		if c := x.WithdrawnAt.Compare(y.WithdrawnAt); c != 0 {
			return c
		}
		if c := x.Prefix.Compare(y.Prefix); c != 0 {
			return c
		}
		return cmp.Compare(x.Origin, y.Origin)
	})
	if len(out) > d.cfg.MaxWithdrawn {
		out = out[:d.cfg.MaxWithdrawn]
	}
	return out
}

// trackContrib maintains the national ASNs' minimum during a country
// event; on the event's first bin it snapshots their baselines (an ASN in
// its own event keeps that event's baseline).
func (d *Detector) trackContrib(c *countryEntity) {
	o := c.ev
	if !o.snapped {
		o.snapped = true
		o.contrib = o.contrib[:0]
		for _, a := range d.national[c.cc] {
			var base int32
			if a.ev != nil {
				base = a.ev.base
			} else {
				base = a.hist.get(&d.scratch)
			}
			if int(base) < d.cfg.ContribMinSlash24 {
				continue
			}
			o.contrib = append(o.contrib, contribState{a: a, base: base, min: a.last})
		}
		return
	}
	for i := range o.contrib {
		o.contrib[i].min = min(o.contrib[i].min, o.contrib[i].a.last)
	}
}

func dropRatio(base, m int32) float64 {
	if base <= 0 {
		return 0
	}
	r := 1 - float64(m)/float64(base)
	return max(0, r)
}

// event is an open event's common part: its scope, country, times and
// counts.
func (o *open) event(scope bgpwatch.Scope, cc string) bgpwatch.Event {
	return bgpwatch.Event{
		Scope:           scope,
		Country:         cc,
		StartedAt:       o.start,
		EndedAt:         o.end,
		BaselineSlash24: int(o.base),
		MinSlash24:      int(o.min),
		DropRatio:       dropRatio(o.base, o.min),
		AlertArea:       o.area,
	}
}

// eventASN is one network's row in an event, with its access type
// (unknown when not classified).
func (d *Detector) eventASN(asn bgpwatch.ASN, base, m int32) bgpwatch.EventASN {
	info := d.info(asn)
	acc := info.Access
	if acc == "" {
		acc = bgpwatch.AccessUnknown
	}
	return bgpwatch.EventASN{ASN: asn, Name: info.Name, Access: acc, BaselineSlash24: int(base), MinSlash24: int(m)}
}

func (d *Detector) asnEvent(a *asnEntity) bgpwatch.Event {
	o := a.ev
	ev := o.event(bgpwatch.ScopeASN, a.country)
	ev.ASN = a.asn
	ev.ASNs = []bgpwatch.EventASN{d.eventASN(a.asn, o.base, o.min)}
	ev.Access = eventAccess(ev.ASNs[0].Access)
	ev.Withdrawn = d.evidence(o, []*asnEntity{a})
	return ev
}

func (d *Detector) countryEvent(c *countryEntity) bgpwatch.Event {
	o := c.ev
	var cs []contribState
	for _, k := range o.contrib {
		if k.min < k.base && below(k.min, k.base, d.cfg.ContribDrop) {
			cs = append(cs, k)
		}
	}
	slices.SortFunc(cs, func(x, y contribState) int {
		if c := cmp.Compare(y.base-y.min, x.base-x.min); c != 0 {
			return c
		}
		return cmp.Compare(x.a.asn, y.a.asn)
	})
	ev := o.event(bgpwatch.ScopeCountry, c.cc)
	ents := make([]*asnEntity, 0, len(cs))
	var lost [4]int64 // fixed, mobile, mixed, other
	for _, k := range cs {
		ea := d.eventASN(k.a.asn, k.base, k.min)
		ev.ASNs = append(ev.ASNs, ea)
		ents = append(ents, k.a)
		l := int64(k.base - k.min)
		switch ea.Access {
		case bgpwatch.AccessFixed:
			lost[0] += l
		case bgpwatch.AccessMobile:
			lost[1] += l
		case bgpwatch.AccessMixed:
			lost[2] += l
		default:
			lost[3] += l
		}
	}
	ev.Access = classify(lost[0], lost[1], lost[2], d.cfg.MinorShare)
	ev.Withdrawn = d.evidence(o, ents)
	return ev
}

// eventAccess maps an ASN's access type to an event access class: hosting,
// transit and unknown networks are "unknown" (they carry no end users of a
// known kind).
func eventAccess(a bgpwatch.Access) bgpwatch.Access {
	switch a {
	case bgpwatch.AccessFixed, bgpwatch.AccessMobile, bgpwatch.AccessMixed:
		return a
	}
	return bgpwatch.AccessUnknown
}

// classify weighs the contributing ASNs by the /24s they lost: fixed and
// mobile count for themselves, mixed ASNs for both; hosting, transit and
// unknown ASNs are ignored. A kind whose share of the classified loss is
// below minor is ignored, so one small mobile ASN next to a large fixed
// outage still reads "fixed". Nothing classified → unknown.
func classify(fixed, mobile, mixed int64, minor float64) bgpwatch.Access {
	total := fixed + mobile + mixed
	if total <= 0 {
		return bgpwatch.AccessUnknown
	}
	f := float64(fixed+mixed) / float64(total)
	m := float64(mobile+mixed) / float64(total)
	switch {
	case m < minor:
		return bgpwatch.AccessFixed
	case f < minor:
		return bgpwatch.AccessMobile
	}
	return bgpwatch.AccessMixed
}
