package netmeta

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// CAIDA AS classification types.
const (
	CAIDATransitAccess = "Transit/Access"
	CAIDAContent       = "Content"
	CAIDAEnterprise    = "Enterprise"
)

const maxLine = 1 << 16

// ParseAS2Types reads CAIDA's AS classification (YYYYMMDD.as2types.txt):
// "# format: as|source|type" and "# date: YYYYMMDD" comments, then
// as|source|type lines, type one of Transit/Access, Content, Enterprise.
func ParseAS2Types(r io.Reader, name string) (Dataset, error) {
	ds := Dataset{Name: DatasetCAIDATypes}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			k, v, ok := strings.Cut(strings.TrimSpace(line[1:]), ":")
			if ok && strings.TrimSpace(k) == "date" {
				d, err := parseDay(v)
				if err != nil {
					return ds, fmt.Errorf("%s:%d: %w", name, ln, err)
				}
				ds.Date = d
			}
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 3 {
			return ds, fmt.Errorf("%s:%d: %w: %d fields, want as|source|type", name, ln, ErrFormat, len(f))
		}
		asn, err := bgpwatch.ParseASN(f[0])
		if err != nil {
			return ds, fmt.Errorf("%s:%d: as: %w", name, ln, err)
		}
		t := strings.TrimSpace(f[2])
		switch t {
		case CAIDATransitAccess, CAIDAContent, CAIDAEnterprise:
		default:
			return ds, fmt.Errorf("%s:%d: %w: type %q, want Transit/Access, Content or Enterprise", name, ln, ErrFormat, t)
		}
		ds.Rows = append(ds.Rows, Row{ASN: asn, Kind: t, Users: -1, Share: -1})
	}
	if err := sc.Err(); err != nil {
		return ds, fmt.Errorf("%s:%d: %w: %v", name, ln+1, ErrFormat, err)
	}
	return ds, nil
}

// ParseASOrg reads CAIDA's AS-to-organisation file (YYYYMMDD.as-org2info.txt):
// two sections, each opened by a "# format:" line naming its fields —
// organisations (org_id|changed|org_name|country|source) and ASes
// (aut|changed|aut_name|org_id|opaque_id|source; older files lack
// opaque_id). Each AS becomes a row with its organisation's name and
// country. The dataset date comes from a "# date:" comment when there is
// one, else from the newest "changed".
func ParseASOrg(r io.Reader, name string) (Dataset, error) {
	ds := Dataset{Name: DatasetCAIDAOrgs}
	type org struct{ name, cc string }
	orgs := map[string]org{}
	type aut struct {
		asn     bgpwatch.ASN
		autName string
		orgID   string
		changed time.Time
	}
	var auts []aut
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	var cols map[string]int
	ncols := 0
	section := ""
	ln := 0
	var newest time.Time
	for sc.Scan() {
		ln++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			k, v, ok := strings.Cut(strings.TrimSpace(line[1:]), ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "format":
				cols = map[string]int{}
				names := strings.Split(strings.TrimSpace(v), "|")
				ncols = len(names)
				for i, c := range names {
					cols[strings.TrimSpace(c)] = i
				}
				_, isAut := cols["aut"]
				_, isOrg := cols["org_id"]
				switch {
				case isAut && isOrg:
					section = "aut"
				case isOrg:
					section = "org"
				default:
					return ds, fmt.Errorf("%s:%d: %w: format %q has neither aut nor org_id", name, ln, ErrFormat, strings.TrimSpace(v))
				}
			case "date":
				if d, err := parseDay(v); err == nil {
					ds.Date = d
				}
			}
			continue
		}
		if section == "" {
			return ds, fmt.Errorf("%s:%d: %w: data before any \"# format:\" line", name, ln, ErrFormat)
		}
		f := strings.Split(line, "|")
		if len(f) < ncols {
			return ds, fmt.Errorf("%s:%d: %w: %d fields, the format line names %d", name, ln, ErrFormat, len(f), ncols)
		}
		get := func(c string) string {
			if i, ok := cols[c]; ok {
				return strings.TrimSpace(f[i])
			}
			return ""
		}
		var changed time.Time
		if c := get("changed"); c != "" {
			if t, err := time.Parse("20060102", c); err == nil {
				changed = t
				if t.After(newest) {
					newest = t
				}
			}
		}
		if section == "org" {
			n := get("org_name")
			if n == "" {
				n = get("name")
			}
			orgs[get("org_id")] = org{name: n, cc: strings.ToUpper(get("country"))}
			continue
		}
		asn, err := bgpwatch.ParseASN(get("aut"))
		if err != nil {
			return ds, fmt.Errorf("%s:%d: aut: %w", name, ln, err)
		}
		n := get("aut_name")
		if n == "" {
			n = get("name")
		}
		auts = append(auts, aut{asn: asn, autName: n, orgID: get("org_id"), changed: changed})
	}
	if err := sc.Err(); err != nil {
		return ds, fmt.Errorf("%s:%d: %w: %v", name, ln+1, ErrFormat, err)
	}
	if ds.Date.IsZero() {
		ds.Date = newest
	}
	ds.Rows = make([]Row, 0, len(auts))
	for _, a := range auts {
		o := orgs[a.orgID]
		n := o.name
		if n == "" {
			n = a.autName
		}
		cc := o.cc
		if _, err := bgpwatch.ParseCountry(cc); err != nil {
			cc = ""
		}
		ds.Rows = append(ds.Rows, Row{ASN: a.asn, Country: cc, Name: n, Users: -1, Share: -1, Updated: a.changed})
	}
	return ds, nil
}
