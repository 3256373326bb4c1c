package fetch

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
)

// Registry is where one RIR publishes its daily delegation statistics.
// Template is a URL in which {yyyy} is replaced by the year and {date} by
// YYYYMMDD.
type Registry struct {
	Name     string
	Template string
}

// DefaultRegistries are the five RIRs' extended delegation files on their
// public FTP/HTTPS servers. RIPE NCC and APNIC compress theirs (the cache
// keeps them decompressed, as replay --delegations reads them).
func DefaultRegistries() []Registry {
	return []Registry{
		{Name: "afrinic", Template: "https://ftp.afrinic.net/pub/stats/afrinic/{yyyy}/delegated-afrinic-extended-{date}"},
		{Name: "apnic", Template: "https://ftp.apnic.net/stats/apnic/{yyyy}/delegated-apnic-extended-{date}.gz"},
		{Name: "arin", Template: "https://ftp.arin.net/pub/stats/arin/delegated-arin-extended-{date}"},
		{Name: "lacnic", Template: "https://ftp.lacnic.net/pub/stats/lacnic/delegated-lacnic-extended-{date}"},
		{Name: "ripencc", Template: "https://ftp.ripe.net/pub/stats/ripencc/{yyyy}/delegated-ripencc-extended-{date}.bz2"},
	}
}

// MirrorRegistries points every registry at a mirror: the scheme and host of
// each template are replaced by base (a URL, optionally with a path prefix),
// the path is kept.
func MirrorRegistries(base string, regs []Registry) ([]Registry, error) {
	b, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || b.Scheme == "" || b.Host == "" {
		return nil, fmt.Errorf("registry mirror %q: want an absolute URL", base)
	}
	out := make([]Registry, len(regs))
	for i, r := range regs {
		u, err := url.Parse(r.Template)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", r.Name, err)
		}
		out[i] = Registry{Name: r.Name, Template: b.String() + u.Path}
	}
	return out, nil
}

// SetRegistry replaces (or adds) the template of one registry given as
// "name=TEMPLATE".
func SetRegistry(regs []Registry, spec string) ([]Registry, error) {
	name, tmpl, ok := strings.Cut(spec, "=")
	if !ok || name == "" || !strings.Contains(tmpl, "{date}") {
		return nil, fmt.Errorf("registry %q: want name=URL-template with {date} (and optionally {yyyy})", spec)
	}
	out := append([]Registry(nil), regs...)
	for i := range out {
		if out[i].Name == name {
			out[i].Template = tmpl
			return out, nil
		}
	}
	return append(out, Registry{Name: name, Template: tmpl}), nil
}

func (o Options) registries() []Registry {
	if o.Registries != nil {
		return o.Registries
	}
	return DefaultRegistries()
}

// maxDelegationLookback is how many earlier days are tried when a
// registry's file for the asked date is missing.
const maxDelegationLookback = 7

func delegationItem(r Registry, day time.Time) Item {
	day = day.UTC().Truncate(24 * time.Hour)
	u := strings.ReplaceAll(r.Template, "{yyyy}", day.Format("2006"))
	u = strings.ReplaceAll(u, "{date}", day.Format("20060102"))
	name := path.Base(u)
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".bz2"), ".gz")
	return Item{Collector: r.Name, Kind: KindDelegation, Time: day, URL: u, Rel: path.Join("rir", r.Name, name)}
}

// SelectDelegations lists each registry's delegation file for the given
// day (UTC). When one is missing upstream, Fetch tries up to seven earlier
// days and reports the one it used as Resolved.
func SelectDelegations(o Options, day time.Time) []Item {
	var out []Item
	for _, r := range o.registries() {
		out = append(out, delegationItem(r, day))
	}
	return out
}

// delegationAlternatives lists the earlier days' files of a registry.
func (f *fetcher) delegationAlternatives(it Item) []Item {
	for _, r := range f.o.registries() {
		if r.Name != it.Collector {
			continue
		}
		var out []Item
		for d := 1; d <= maxDelegationLookback; d++ {
			out = append(out, delegationItem(r, it.Time.AddDate(0, 0, -d)))
		}
		return out
	}
	return nil
}
