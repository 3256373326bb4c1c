package netmeta

import (
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Network is what the public sources say about one ASN, resolved.
type Network struct {
	ASN          bgpwatch.ASN
	Name         string // from PeeringDB, else CAIDA's organisation, else APNIC
	NameSource   string // DatasetPeeringDB, ... ; "" without a name
	Access       bgpwatch.Access
	AccessSource string    // bgpwatch.AccessSource*; "" while unknown
	AccessDate   time.Time // date of the source's data
	Users        *bgpwatch.Users
}

// Inputs is everything Resolve combines.
type Inputs struct {
	Datasets  map[string]Dataset      // by Dataset.Name; any may be missing
	Curated   []Operator              // Curated()
	Names     map[bgpwatch.ASN]string // registered names, for name evidence
	Countries map[bgpwatch.ASN]string // RIR countries, to pick APNIC's row
}

// Resolve applies the precedence rules to every ASN any input mentions.
//
// Access, strongest first: the curated mobile operators table; PeeringDB
// (PeeringDBAccess); CAIDA's classification (Content → hosting;
// Transit/Access → fixed only when APNIC measures users behind the AS in
// its own country and its registered name does not suggest a mobile
// network, since CAIDA does not tell transit from access nor fixed from
// mobile; the curated table knows the mobile ones); then a registered or PeeringDB
// name that suggests a mobile network (weak, source "name"). Unknown
// stays unknown. The user's CSV overrides all of it (in the store).
//
// Users: APNIC's estimate for the ASN in its RIR country, else in the
// economy where it has the most users.
func Resolve(in Inputs) map[bgpwatch.ASN]Network {
	out := map[bgpwatch.ASN]Network{}
	get := func(a bgpwatch.ASN) Network {
		n, ok := out[a]
		if !ok {
			n = Network{ASN: a, Access: bgpwatch.AccessUnknown}
		}
		return n
	}
	setName := func(a bgpwatch.ASN, name, src string) {
		if name == "" {
			return
		}
		n := get(a)
		if n.Name == "" {
			n.Name, n.NameSource = name, src
			out[a] = n
		}
	}
	setAccess := func(a bgpwatch.ASN, acc bgpwatch.Access, src string, day time.Time) {
		if acc == bgpwatch.AccessUnknown || acc == "" {
			return
		}
		n := get(a)
		if n.AccessSource != "" {
			return // a stronger source already decided
		}
		n.Access, n.AccessSource, n.AccessDate = acc, src, day
		out[a] = n
	}

	// Users first: CAIDA's Transit/Access needs them.
	if ds, ok := in.Datasets[DatasetAPNIC]; ok {
		best := map[bgpwatch.ASN]Row{}
		for _, r := range ds.Rows {
			cur, seen := best[r.ASN]
			home := in.Countries[r.ASN]
			switch {
			case !seen:
			case home != "" && r.Country == home && cur.Country != home:
			case home != "" && cur.Country == home:
				continue
			case r.Users <= cur.Users:
				continue
			}
			best[r.ASN] = r
		}
		for a, r := range best {
			n := get(a)
			n.Users = &bgpwatch.Users{Estimate: r.Users, Share: r.Share, Country: r.Country, Source: "apnic", Date: ds.Date}
			out[a] = n
		}
	}

	for _, op := range in.Curated {
		setAccess(op.ASN, op.Access, bgpwatch.AccessSourceCurated, op.Checked)
	}
	if ds, ok := in.Datasets[DatasetPeeringDB]; ok {
		for _, r := range ds.Rows {
			day := r.Updated
			if day.IsZero() {
				day = ds.Date
			}
			setAccess(r.ASN, PeeringDBAccess(r.Kind), bgpwatch.AccessSourcePeeringDB, day.UTC().Truncate(24*time.Hour))
			setName(r.ASN, r.Name, DatasetPeeringDB)
		}
	}
	if ds, ok := in.Datasets[DatasetCAIDATypes]; ok {
		for _, r := range ds.Rows {
			switch r.Kind {
			case CAIDAContent:
				setAccess(r.ASN, bgpwatch.AccessHosting, bgpwatch.AccessSourceCAIDA, ds.Date)
			case CAIDATransitAccess:
				// An access network by CAIDA and APNIC: fixed, unless its
				// name says mobile (then the name evidence below decides).
				if n, ok := out[r.ASN]; ok && n.Users != nil && n.Users.Estimate > 0 &&
					(in.Countries[r.ASN] == "" || n.Users.Country == in.Countries[r.ASN]) &&
					!NameSuggestsMobile(in.Names[r.ASN]) {
					setAccess(r.ASN, bgpwatch.AccessFixed, bgpwatch.AccessSourceCAIDA, ds.Date)
				}
			}
		}
	}
	if ds, ok := in.Datasets[DatasetCAIDAOrgs]; ok {
		for _, r := range ds.Rows {
			setName(r.ASN, r.Name, DatasetCAIDAOrgs)
		}
	}
	if ds, ok := in.Datasets[DatasetAPNIC]; ok {
		for _, r := range ds.Rows {
			setName(r.ASN, r.Name, DatasetAPNIC)
		}
	}
	// Name evidence, weakest: the registered name, else the names above.
	check := func(a bgpwatch.ASN, name string) {
		if NameSuggestsMobile(name) {
			setAccess(a, bgpwatch.AccessMobile, bgpwatch.AccessSourceName, time.Time{})
		}
	}
	for a, name := range in.Names {
		check(a, name)
	}
	for a, n := range out {
		if in.Names[a] == "" {
			check(a, n.Name)
		}
	}
	return out
}
