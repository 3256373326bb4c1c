package netmeta

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// pdbFile is the PeeringDB API's answer for net objects (GET /api/net, or
// the public dump net-0.json): {"data": [...], "meta": {...}}.
type pdbFile struct {
	Data []pdbNet `json:"data"`
}

type pdbNet struct {
	ASN       *int64   `json:"asn"`
	Name      string   `json:"name"`
	InfoType  string   `json:"info_type"`
	InfoTypes []string `json:"info_types"`
	InfoScope string   `json:"info_scope"`
	Status    string   `json:"status"`
	Updated   string   `json:"updated"`
}

// ParsePeeringDB reads PeeringDB net objects. Objects whose status is
// set and not "ok" (deleted, pending) are skipped. Kind is info_types
// joined by ";" (info_type when info_types is empty). The dataset date is
// the newest "updated".
func ParsePeeringDB(r io.Reader, name string) (Dataset, error) {
	ds := Dataset{Name: DatasetPeeringDB}
	var f pdbFile
	if err := decodeJSON(r, name, &f); err != nil {
		return ds, err
	}
	if f.Data == nil {
		return ds, fmt.Errorf("%s: %w: no \"data\" array (want PeeringDB net objects)", name, ErrFormat)
	}
	ds.Rows = make([]Row, 0, len(f.Data))
	for i, n := range f.Data {
		where := func(field string) string { return fmt.Sprintf("%s: data[%d].%s", name, i, field) }
		if n.Status != "" && n.Status != "ok" {
			continue
		}
		asn, ok := jsonASN(n.ASN)
		if !ok {
			return ds, fmt.Errorf("%s: %w: want an AS number", where("asn"), ErrFormat)
		}
		var upd time.Time
		if n.Updated != "" {
			t, err := time.Parse(time.RFC3339, n.Updated)
			if err != nil {
				return ds, fmt.Errorf("%s: %w: %q is not RFC 3339", where("updated"), ErrFormat, n.Updated)
			}
			upd = t.UTC()
			if upd.After(ds.Date) {
				ds.Date = upd.Truncate(24 * time.Hour)
			}
		}
		types := make([]string, 0, len(n.InfoTypes)+1)
		for _, t := range n.InfoTypes {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		if len(types) == 0 && strings.TrimSpace(n.InfoType) != "" {
			types = append(types, strings.TrimSpace(n.InfoType))
		}
		ds.Rows = append(ds.Rows, Row{
			ASN: asn, Name: strings.TrimSpace(n.Name),
			Kind: strings.Join(types, ";"), Users: -1, Share: -1, Updated: upd,
		})
	}
	return ds, nil
}

// PeeringDBAccess maps PeeringDB info types to an access type:
// Cable/DSL/ISP → fixed (an access network; the curated table knows the
// mobile ones), NSP → transit, Content → hosting, anything else (Enterprise,
// Educational/Research, Non-Profit, Route Server, Network Services,
// Government, Not Disclosed, "") → unknown. An access network that also
// sells transit counts as access.
func PeeringDBAccess(kind string) bgpwatch.Access {
	has := func(t string) bool {
		for _, k := range strings.Split(kind, ";") {
			if strings.EqualFold(strings.TrimSpace(k), t) {
				return true
			}
		}
		return false
	}
	switch {
	case has("Cable/DSL/ISP"):
		return bgpwatch.AccessFixed
	case has("NSP"):
		return bgpwatch.AccessTransit
	case has("Content"):
		return bgpwatch.AccessHosting
	}
	return bgpwatch.AccessUnknown
}
