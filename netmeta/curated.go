package netmeta

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

//go:embed mobile_operators.csv
var curatedCSV []byte

// Operator is one row of the curated table of national mobile operators.
type Operator struct {
	ASN      bgpwatch.ASN
	Country  string
	Operator string
	Access   bgpwatch.Access // mobile (or mixed)
	Source   string          // public page that says so
	Checked  time.Time       // day the row was last verified
}

// CuratedVersion identifies the embedded table (a hash of its text), so
// that stored values resolved with another version are recomputed.
func CuratedVersion() string {
	sum := sha256.Sum256(curatedCSV)
	return hex.EncodeToString(sum[:8])
}

// Curated returns the embedded table of national mobile operators.
func Curated() []Operator {
	ops, err := ReadCurated(bytes.NewReader(curatedCSV), "mobile_operators.csv")
	if err != nil {
		panic(err) // the embedded file is checked by TestCurated
	}
	return ops
}

// firstChecked is the earliest believable day a source was read: before
// it there were no mobile data networks, and a date such as 0001-01-01 is
// a mistake, not a check.
var firstChecked = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// ReadCurated reads a curated operators CSV: '#' comment lines, a header
// asn,country,operator,access,source,checked, then one row per ASN. Every
// row needs an http(s) source and a checked date.
func ReadCurated(r io.Reader, name string) ([]Operator, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 6
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w: %v", name, ErrFormat, err)
	}
	want := []string{"asn", "country", "operator", "access", "source", "checked"}
	if strings.Join(head, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("%s: %w: header %q, want %s", name, ErrFormat, strings.Join(head, ","), strings.Join(want, ","))
	}
	var out []Operator
	seen := map[bgpwatch.ASN]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil { // a *csv.ParseError, which names its line
			return nil, fmt.Errorf("%s: %w: %v", name, ErrFormat, err)
		}
		line, _ := cr.FieldPos(0)
		asn, err := bgpwatch.ParseASN(rec[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: asn: %w", name, line, err)
		}
		if asn == 0 {
			return nil, fmt.Errorf("%s:%d: %w: AS 0 is reserved (RFC 7607), not a network", name, line, ErrFormat)
		}
		if seen[asn] {
			return nil, fmt.Errorf("%s:%d: %w: AS%d listed twice", name, line, ErrFormat, asn)
		}
		seen[asn] = true
		cc, err := bgpwatch.ParseCountry(rec[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: country: %w", name, line, err)
		}
		acc, err := bgpwatch.ParseAccess(rec[3])
		if err != nil || (acc != bgpwatch.AccessMobile && acc != bgpwatch.AccessMixed) {
			return nil, fmt.Errorf("%s:%d: %w: access %q, want mobile or mixed", name, line, ErrFormat, rec[3])
		}
		u, err := url.Parse(rec[4])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s:%d: %w: source %q, want the http(s) address of a public page", name, line, ErrFormat, rec[4])
		}
		day, err := time.Parse("2006-01-02", rec[5])
		if err != nil || day.Before(firstChecked) {
			return nil, fmt.Errorf("%s:%d: %w: checked %q, want the YYYY-MM-DD day the source was read (%s or later)",
				name, line, ErrFormat, rec[5], firstChecked.Format("2006-01-02"))
		}
		if strings.TrimSpace(rec[2]) == "" {
			return nil, fmt.Errorf("%s:%d: %w: empty operator", name, line, ErrFormat)
		}
		out = append(out, Operator{ASN: asn, Country: cc, Operator: strings.TrimSpace(rec[2]), Access: acc, Source: rec[4], Checked: day})
	}
}
