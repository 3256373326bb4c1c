package synth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/netmeta"
)

// Synthetic users per IPv4 prefix: mobile operators serve many more users
// per address (CGNAT) than fixed-line networks.
const (
	usersPerPrefixFixed  = 6000
	usersPerPrefixMobile = 30000
)

// writeNetworkMetadata writes, for the scenario's named networks, network
// metadata in the public sources' formats (netmeta.FileNames under dir),
// so that replays can load it with --metadata-dir offline, and an ASN
// names list (CIDR report layout) at namesPath. What each source says
// mirrors the sources' habits: PeeringDB knows the larger networks (and
// lists mobile operators as Cable/DSL/ISP, as real ones do), CAIDA
// classifies every network, APNIC estimates users for access networks.
// Every number is synthetic.
func writeNetworkMetadata(dir, namesPath string, w *world, start time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	var named []*asEntry
	var all []*asEntry
	for i := range w.ases {
		a := &w.ases[i]
		all = append(all, a)
		if a.named {
			named = append(named, a)
		}
	}
	sort.Slice(named, func(i, j int) bool { return named[i].asn < named[j].asn })
	sort.Slice(all, func(i, j int) bool { return all[i].asn < all[j].asn })
	day := start.UTC().Truncate(24 * time.Hour)

	// ASN names, CIDR report layout.
	var nb strings.Builder
	for _, a := range all {
		if a.name != "" {
			fmt.Fprintf(&nb, "AS%-10d %s, %s\n", a.asn, a.name, a.country)
		}
	}
	if err := os.WriteFile(namesPath, []byte(nb.String()), 0o644); err != nil {
		return fmt.Errorf("write asn names: %w", err)
	}

	// APNIC: users of access networks per country.
	type apnicEntry struct {
		Rank    int     `json:"rank"`
		AS      uint32  `json:"AS"`
		Name    string  `json:"AS Name"`
		CC      string  `json:"CC"`
		Users   int64   `json:"Users"`
		PctCC   float64 `json:"Percent of CC Pop"`
		PctNet  float64 `json:"Percent of Internet"`
		Samples int64   `json:"Samples"`
	}
	byCC := map[string][]apnicEntry{}
	totals := map[string]int64{}
	var world int64
	for _, a := range named {
		per := int64(0)
		switch a.access {
		case bgpwatch.AccessFixed:
			per = usersPerPrefixFixed
		case bgpwatch.AccessMobile, bgpwatch.AccessMixed:
			per = usersPerPrefixMobile
		}
		if per == 0 || a.country == "" {
			continue
		}
		u := per * int64(a.v4)
		byCC[a.country] = append(byCC[a.country], apnicEntry{AS: a.asn, Name: firstWord(a.name), CC: a.country, Users: u, Samples: u / 14})
		totals[a.country] += u
		world += u
	}
	var entries []apnicEntry
	ccs := make([]string, 0, len(byCC))
	for cc := range byCC {
		ccs = append(ccs, cc)
	}
	sort.Strings(ccs)
	for _, cc := range ccs {
		es := byCC[cc]
		sort.Slice(es, func(i, j int) bool {
			return es[i].Users > es[j].Users || es[i].Users == es[j].Users && es[i].AS < es[j].AS
		})
		for i := range es {
			es[i].Rank = i + 1
			es[i].PctCC = round2(100 * float64(es[i].Users) / float64(totals[cc]))
			es[i].PctNet = round4(100 * float64(es[i].Users) / 4.5e9)
		}
		entries = append(entries, es...)
	}
	if entries == nil {
		entries = []apnicEntry{}
	}
	if err := writeJSON(filepath.Join(dir, netmeta.FileNames[netmeta.DatasetAPNIC]), map[string]any{
		"copyright":   "synthetic data in the layout of APNIC Labs' AS population estimates",
		"description": "Estimated users per AS per economy (synthetic)",
		"Date":        day.Format("02/01/2006"),
		"Window":      "60 days",
		"Data":        entries,
	}); err != nil {
		return err
	}

	// PeeringDB: the networks with at least 50 IPv4 prefixes.
	type pdbNet struct {
		ID        int      `json:"id"`
		ASN       uint32   `json:"asn"`
		Name      string   `json:"name"`
		InfoType  string   `json:"info_type"`
		InfoTypes []string `json:"info_types"`
		InfoScope string   `json:"info_scope"`
		Updated   string   `json:"updated"`
		Status    string   `json:"status"`
	}
	nets := []pdbNet{}
	for i, a := range named {
		if a.v4 < 50 {
			continue
		}
		t := ""
		switch a.access {
		case bgpwatch.AccessFixed, bgpwatch.AccessMobile, bgpwatch.AccessMixed:
			t = "Cable/DSL/ISP"
		case bgpwatch.AccessTransit:
			t = "NSP"
		case bgpwatch.AccessHosting:
			t = "Content"
		}
		nets = append(nets, pdbNet{ID: 1000 + i, ASN: a.asn, Name: a.name, InfoType: t, InfoTypes: []string{t},
			InfoScope: "Regional", Updated: day.AddDate(0, 0, -30-i).Format(time.RFC3339), Status: "ok"})
	}
	if err := writeJSON(filepath.Join(dir, netmeta.FileNames[netmeta.DatasetPeeringDB]), map[string]any{"data": nets, "meta": map[string]any{}}); err != nil {
		return err
	}

	// CAIDA: every named network classified; organisations by name.
	caidaDay := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	var tb, ob strings.Builder
	fmt.Fprintf(&tb, "# format: as|source|type\n# date: %s\n# name: as2type\n# types: Content|Enterprise|Transit/Access\n", caidaDay.Format("20060102"))
	fmt.Fprintf(&ob, "# name: AS Org\n# date: %s\n# format:org_id|changed|org_name|country|source\n", caidaDay.Format("20060102"))
	for _, a := range named {
		t := netmeta.CAIDATransitAccess
		if a.access == bgpwatch.AccessHosting {
			t = netmeta.CAIDAContent
		}
		fmt.Fprintf(&tb, "%d|CAIDA_class|%s\n", a.asn, t)
		fmt.Fprintf(&ob, "ORG-S%d-RIPE|%s|%s|%s|RIPE\n", a.asn, caidaDay.AddDate(-1, 0, 0).Format("20060102"), orgName(a.name), a.country)
	}
	ob.WriteString("# format:aut|changed|aut_name|org_id|opaque_id|source\n")
	for _, a := range named {
		fmt.Fprintf(&ob, "%d|%s|%s|ORG-S%d-RIPE|s%d_RIPE|RIPE\n", a.asn, caidaDay.AddDate(-1, 0, 0).Format("20060102"), firstWord(a.name), a.asn, a.asn)
	}
	if err := os.WriteFile(filepath.Join(dir, netmeta.FileNames[netmeta.DatasetCAIDATypes]), []byte(tb.String()), 0o644); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, netmeta.FileNames[netmeta.DatasetCAIDAOrgs]), []byte(ob.String()), 0o644); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// firstWord is a registry handle such as KAZTELECOM-AS.
func firstWord(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return ""
}

// orgName is the name without its registry handle.
func orgName(name string) string {
	if _, rest, ok := strings.Cut(name, " "); ok {
		return strings.ReplaceAll(rest, "|", "/")
	}
	return name
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }
