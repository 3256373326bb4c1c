package rir

import (
	"fmt"
	"io"
	"slices"

	"github.com/bgpwatch/bgpwatch"
)

// Registry combines the registry sources into one view of every ASN.
//
// Precedence: the delegation files alone decide an ASN's country (when
// several files cover an ASN, the file loaded last wins; only allocated and
// assigned rows count, the registries' free pool is ignored). The asn-info
// CSV decides name and access. Names from an ASN names list only fill in
// ASNs the asn-info CSV does not name, whatever the load order.
//
// Load everything first; afterwards a Registry is read-only and safe for
// concurrent use.
type Registry struct {
	single    map[bgpwatch.ASN]string // country of single-ASN delegations
	ranges    []asnRange              // multi-ASN delegations, in load order
	info      map[bgpwatch.ASN]bgpwatch.ASNInfo
	names     map[bgpwatch.ASN]string
	countries map[string]bool
}

type asnRange struct {
	first, last bgpwatch.ASN
	country     string
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{
		single:    map[bgpwatch.ASN]string{},
		info:      map[bgpwatch.ASN]bgpwatch.ASNInfo{},
		names:     map[bgpwatch.ASN]string{},
		countries: map[string]bool{},
	}
}

// LoadDelegations reads an RIR delegation statistics file (raw, gzip or
// bzip2).
func (r *Registry) LoadDelegations(path string) error {
	return load(path, r.ReadDelegations)
}

// LoadASNInfo reads an asn-info CSV file (raw, gzip or bzip2).
func (r *Registry) LoadASNInfo(path string) error { return load(path, r.ReadASNInfo) }

// LoadASNames reads an ASN names list (raw, gzip or bzip2).
func (r *Registry) LoadASNames(path string) error { return load(path, r.ReadASNames) }

func load(path string, read func(io.Reader, string) error) error {
	rd, closeFn, err := open(path)
	if err != nil {
		return fmt.Errorf("open registry file: %w", err)
	}
	defer closeFn()
	return read(rd, path)
}

// ReadDelegations adds the ASN delegations of a delegation statistics file.
func (r *Registry) ReadDelegations(rd io.Reader, name string) error {
	return ReadDelegations(rd, name, func(rec Record) error {
		if rec.Type != "asn" || !rec.Delegated() {
			return nil
		}
		first, last, err := rec.ASNRange()
		if err != nil {
			return err
		}
		if rec.Country == "" {
			return nil // delegated to nobody we can name
		}
		cc, err := bgpwatch.ParseCountry(rec.Country)
		if err != nil {
			return err
		}
		r.countries[cc] = true
		if first == last {
			r.single[first] = cc
			return nil
		}
		// A range hides earlier single entries it covers.
		if len(r.single) > 0 && uint64(last-first) < uint64(len(r.single)) {
			for a := first; ; a++ {
				delete(r.single, a)
				if a == last {
					break
				}
			}
		} else {
			for a := range r.single {
				if a >= first && a <= last {
					delete(r.single, a)
				}
			}
		}
		r.ranges = append(r.ranges, asnRange{first: first, last: last, country: cc})
		return nil
	})
}

// ReadASNInfo adds an asn-info CSV; it overrides names and access types.
func (r *Registry) ReadASNInfo(rd io.Reader, name string) error {
	return ReadASNInfo(rd, name, func(in bgpwatch.ASNInfo) error {
		if in.Access != bgpwatch.AccessUnknown && in.Access != "" {
			in.AccessSource = bgpwatch.AccessSourceUser
		}
		r.info[in.ASN] = in
		return nil
	})
}

// ReadASNames adds an ASN names list; its names fill in ASNs the asn-info
// CSV leaves unnamed.
func (r *Registry) ReadASNames(rd io.Reader, name string) error {
	return ReadASNames(rd, name, func(asn bgpwatch.ASN, n string) error {
		if n != "" {
			r.names[asn] = n
		}
		return nil
	})
}

// CountryOf returns the ISO country code an RIR delegated asn to, "" when
// no loaded delegation file covers it. It fits visibility.New.
func (r *Registry) CountryOf(asn bgpwatch.ASN) string {
	if cc, ok := r.single[asn]; ok {
		return cc
	}
	// A single entry is newer than every range covering it (adding a range
	// removes the single entries it covers); among ranges the newest wins.
	for i := len(r.ranges) - 1; i >= 0; i-- {
		if g := r.ranges[i]; asn >= g.first && asn <= g.last {
			return g.country
		}
	}
	return ""
}

// Info returns everything known about asn. Access is AccessUnknown when the
// asn-info CSV does not list it.
func (r *Registry) Info(asn bgpwatch.ASN) bgpwatch.ASNInfo {
	in, ok := r.info[asn]
	if !ok {
		in = bgpwatch.ASNInfo{ASN: asn, Access: bgpwatch.AccessUnknown}
	}
	if in.Name == "" {
		in.Name = r.names[asn]
	}
	in.Country = r.CountryOf(asn)
	return in
}

// ASNs returns the ASNs delegated to country cc, sorted.
func (r *Registry) ASNs(cc string) []bgpwatch.ASN {
	var out []bgpwatch.ASN
	for a, c := range r.single {
		if c == cc {
			out = append(out, a)
		}
	}
	for _, g := range r.ranges {
		if g.country != cc {
			continue
		}
		for a := g.first; ; a++ {
			if r.CountryOf(a) == cc {
				out = append(out, a)
			}
			if a == g.last {
				break
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Countries returns every country code seen in the delegation files, sorted.
func (r *Registry) Countries() []string {
	out := make([]string, 0, len(r.countries))
	for c := range r.countries {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Known returns every ASN the asn-info CSV or the names lists mention,
// sorted: the ASNs worth writing to the store's asns table together with
// the delegated ones.
func (r *Registry) Known() []bgpwatch.ASN {
	out := make([]bgpwatch.ASN, 0, len(r.info)+len(r.names)+len(r.single))
	for a := range r.info {
		out = append(out, a)
	}
	for a := range r.names {
		out = append(out, a)
	}
	for a := range r.single {
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
