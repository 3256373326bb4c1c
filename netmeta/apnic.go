package netmeta

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// apnicFile is APNIC's AS population estimates in JSON
// (stats.labs.apnic.net/cgi-bin/aspop?f=j, also per economy with c=CC):
// a header and one entry per economy and AS.
type apnicFile struct {
	Date string       `json:"Date"` // dd/mm/yyyy
	Data []apnicEntry `json:"Data"`
}

type apnicEntry struct {
	Rank    *int64   `json:"rank"`
	AS      *int64   `json:"AS"`
	Name    string   `json:"AS Name"`
	Desc    string   `json:"Description"`
	CC      string   `json:"CC"`
	Users   *float64 `json:"Users"`
	PctCC   *float64 `json:"Percent of CC Pop"`
	PctNet  *float64 `json:"Percent of Internet"`
	Samples *float64 `json:"Samples"`
}

// ParseAPNIC reads APNIC's AS population estimates (JSON). Every entry
// needs AS, CC, Users and "Percent of CC Pop" (0..100).
func ParseAPNIC(r io.Reader, name string) (Dataset, error) {
	ds := Dataset{Name: DatasetAPNIC}
	var f apnicFile
	if err := decodeJSON(r, name, &f); err != nil {
		return ds, err
	}
	if f.Data == nil {
		return ds, fmt.Errorf("%s: %w: no \"Data\" array (want APNIC aspop JSON)", name, ErrFormat)
	}
	if f.Date != "" {
		d, err := parseDay(f.Date)
		if err != nil {
			return ds, fmt.Errorf("%s: \"Date\": %w", name, err)
		}
		ds.Date = d
	}
	ds.Rows = make([]Row, 0, len(f.Data))
	for i, e := range f.Data {
		where := func(field string) string { return fmt.Sprintf("%s: Data[%d].%s", name, i, field) }
		asn, ok := jsonASN(e.AS)
		if !ok {
			return ds, fmt.Errorf("%s: %w: want an AS number", where("AS"), ErrFormat)
		}
		cc, err := bgpwatch.ParseCountry(strings.TrimSpace(e.CC))
		if err != nil {
			return ds, fmt.Errorf("%s: %w", where("CC"), err)
		}
		if e.Users == nil || *e.Users < 0 || math.IsNaN(*e.Users) || *e.Users > 1e10 {
			return ds, fmt.Errorf("%s: %w: want a number of users >= 0", where("Users"), ErrFormat)
		}
		if e.PctCC == nil || !(*e.PctCC >= 0 && *e.PctCC <= 100.0001) {
			return ds, fmt.Errorf("%s: %w: want a percentage 0..100", where("Percent of CC Pop"), ErrFormat)
		}
		n := e.Name
		if n == "" {
			n = e.Desc
		}
		ds.Rows = append(ds.Rows, Row{
			ASN: asn, Country: cc, Name: strings.TrimSpace(n),
			Users: int64(*e.Users + 0.5), Share: min(*e.PctCC/100, 1),
		})
	}
	return ds, nil
}

// parseDay accepts APNIC's dd/mm/yyyy, ISO yyyy-mm-dd and CAIDA's yyyymmdd.
func parseDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"02/01/2006", "2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: date %q: want dd/mm/yyyy, yyyy-mm-dd or yyyymmdd", ErrFormat, s)
}
