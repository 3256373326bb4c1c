package bmp

import "sync"

// NameSet keeps the names routers go by unique: two routers that give
// the same sysName (a default hostname, a copied configuration) would
// otherwise share vantage points, and a session of one would take over
// the other's routes whenever both peer with the same neighbour address
// (an IXP route server), so that one router's Peer Down dropped routes
// the other still has. The first router to claim a name has it; a second
// one connected at the same time goes by "name@address". The zero value
// is ready to use; its methods are safe for concurrent use.
type NameSet struct {
	mu    sync.Mutex
	owner map[string]*Decoder
}

// claim returns the name d goes by for the sysName name, and holds it for
// d until release. d's fallback name (its address) makes a taken name
// unique; d.mu is held by the caller.
func (ns *NameSet) claim(d *Decoder, name string) string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.owner == nil {
		ns.owner = map[string]*Decoder{}
	}
	if o := ns.owner[name]; o != nil && o != d {
		name += "@" + d.addr
	}
	for n, o := range ns.owner { // a renamed router lets its old name go
		if o == d && n != name {
			delete(ns.owner, n)
		}
	}
	ns.owner[name] = d
	return name
}

// release lets go of the names d holds (its router disconnected).
func (ns *NameSet) release(d *Decoder) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for n, o := range ns.owner {
		if o == d {
			delete(ns.owner, n)
		}
	}
}
