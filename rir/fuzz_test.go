package rir

import (
	"errors"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
)

// The parsers must never panic, must wrap ErrInvalid in their format
// errors, and what they accept must read back consistently.

func FuzzDelegations(f *testing.F) {
	f.Add("2|ripencc|1407103199|86140|19830705|20140803|+0200\nripencc|*|asn|*|26493|summary\nripencc|KZ|asn|9198|1|19970502|allocated\n")
	f.Add("afrinic|ZA|asn|1228|3|19910301|allocated|F36B9F4B\nafrinic|ZZ|asn|5536|1||available|\n")
	f.Add("apnic|AU|asn|4608|1024|19900101|assigned\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := New()
		err := r.ReadDelegations(strings.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, bgpwatch.ErrInvalid) && !strings.Contains(err.Error(), "read:") {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, cc := range r.Countries() {
			if _, err := bgpwatch.ParseCountry(cc); err != nil {
				t.Fatalf("country %q accepted", cc)
			}
		}
		for a := range r.single {
			if r.CountryOf(a) == "" {
				t.Fatalf("AS%d lost its country", a)
			}
		}
	})
}

func FuzzASNInfo(f *testing.F) {
	f.Add("asn,name,access\nAS9198,JSC Kazakhtelecom,fixed\n48503,Tele2,mobile\n")
	f.Add("access,asn,name\n,1,\"a, b\"\n")
	f.Add("asn,name,access\n1,a,cable\n")
	f.Fuzz(func(t *testing.T, in string) {
		var got []bgpwatch.ASNInfo
		err := ReadASNInfo(strings.NewReader(in), "fuzz", func(i bgpwatch.ASNInfo) error {
			got = append(got, i)
			return nil
		})
		if err != nil {
			if !errors.Is(err, bgpwatch.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, i := range got {
			if _, err := bgpwatch.ParseAccess(string(i.Access)); err != nil || i.Access == "" {
				t.Fatalf("access %q accepted", i.Access)
			}
		}
	})
}

func FuzzASNames(f *testing.F) {
	f.Add("AS1           LVLT-1, US\nAS18253       --No Registry Entry--\n")
	f.Add("AS9198\tKAZTELECOM-AS, KZ\n\n# c\n")
	f.Fuzz(func(t *testing.T, in string) {
		err := ReadASNames(strings.NewReader(in), "fuzz", func(a bgpwatch.ASN, n string) error {
			if n != strings.TrimSpace(n) {
				t.Fatalf("name %q not trimmed", n)
			}
			return nil
		})
		if err != nil && !errors.Is(err, bgpwatch.ErrInvalid) && !strings.Contains(err.Error(), "read:") {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
	})
}
