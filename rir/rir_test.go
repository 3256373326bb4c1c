package rir

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// sharedData returns a path under the shared test data (package shareddata).
func sharedData(t *testing.T, rel string) string { return shareddata.Path(t, rel) }

func TestRealDelegations(t *testing.T) {
	tests := []struct {
		file      string
		country   string
		asns      int
		sample    bgpwatch.ASN
		sampleCC  string
		summaryAS int // the asn summary line's count
	}{
		{"rir/delegated-ripencc-latest.20140803", "KZ", 102, 9198, "KZ", 26493},
		{"rir/delegated-afrinic-extended-latest.20230323", "ZA", -1, 1228, "ZA", 3326},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			path := sharedData(t, tt.file)
			r := New()
			if err := r.LoadDelegations(path); err != nil {
				t.Fatal(err)
			}
			if got := r.CountryOf(tt.sample); got != tt.sampleCC {
				t.Errorf("CountryOf(%d) = %q, want %q", tt.sample, got, tt.sampleCC)
			}
			if tt.asns >= 0 {
				if got := len(r.ASNs(tt.country)); got != tt.asns {
					t.Errorf("%d %s ASNs, want %d", got, tt.country, tt.asns)
				}
			}
			// Every asn row is seen once; the count matches the summary line.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows := 0
			err = ReadDelegations(f, path, func(rec Record) error {
				if rec.Type == "asn" {
					rows++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rows != tt.summaryAS {
				t.Errorf("%d asn rows, summary says %d", rows, tt.summaryAS)
			}
		})
	}
}

func TestAFRINICFreePoolIgnored(t *testing.T) {
	r := New()
	if err := r.LoadDelegations(sharedData(t, "rir/delegated-afrinic-extended-latest.20230323")); err != nil {
		t.Fatal(err)
	}
	// afrinic|ZZ|asn|5536|1||available|
	if got := r.CountryOf(5536); got != "" {
		t.Errorf("available AS5536 has country %q", got)
	}
	for _, cc := range r.Countries() {
		if cc == "ZZ" {
			t.Error("ZZ among the countries")
		}
	}
}

func TestDelegationsFormats(t *testing.T) {
	const classic = `# comment
2.3|apnic|20240101|3|19850701|20240101|+1000
apnic|*|asn|*|2|summary
apnic|*|ipv4|*|1|summary
apnic|JP|asn|173|1|20020801|allocated
apnic|AU|asn|4608|4|19900101|assigned
apnic|CN|ipv4|1.0.1.0|256|20110414|allocated

apnic||asn|7000|1||available
`
	const extended = `2|arin|1700000000|3|19700101|20240101|-0500
arin|*|asn|*|2|summary
arin|US|asn|4609|1|19910101|assigned|abc
arin|US|asn|5000|10|19910101|allocated|def
arin|ZZ|asn|6000|100||reserved|
arin|US|ipv6|2001:400::|32|19990101|allocated|abc
`
	r := New()
	if err := r.ReadDelegations(strings.NewReader(classic), "classic"); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadDelegations(strings.NewReader(extended), "extended"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		asn  bgpwatch.ASN
		want string
	}{
		{173, "JP"}, {4608, "AU"}, {4610, "AU"}, {4611, "AU"}, {4612, ""},
		{4609, "US"}, // the extended file was loaded last
		{5000, "US"}, {5009, "US"}, {5010, ""}, {6050, ""}, {7000, ""},
	} {
		if got := r.CountryOf(c.asn); got != c.want {
			t.Errorf("CountryOf(%d) = %q, want %q", c.asn, got, c.want)
		}
	}
	if got := r.ASNs("AU"); len(got) != 3 {
		t.Errorf("AU ASNs %v, want 4608, 4610, 4611", got)
	}
	var types []string
	err := ReadDelegations(strings.NewReader(extended), "x", func(rec Record) error {
		types = append(types, rec.Type+":"+rec.OpaqueID)
		return nil
	})
	if err != nil || strings.Join(types, " ") != "asn:abc asn:def asn: ipv6:abc" {
		t.Errorf("records %v, %v", types, err)
	}
}

func TestDelegationsErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"few fields", "2|ripencc|1|1|1|1|+0\nripencc|KZ|asn|9198\n", "f:2: bad format: 4 fields"},
		{"bad type", "ripencc|KZ|asx|9198|1|20000101|allocated\n", "f:1: bad format: type \"asx\""},
		{"bad count", "ripencc|KZ|asn|9198|x|20000101|allocated\n", "f:1: bad format: value \"x\""},
		{"range overflow", "ripencc|KZ|asn|4294967295|2|20000101|allocated\n", "f:1: invalid: asn count 2"},
		{"bad country", "ripencc|K1|asn|9198|1|20000101|allocated\n", "f:1: invalid country code \"K1\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().ReadDelegations(strings.NewReader(tt.in), "f")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, bgpwatch.ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestASNInfo(t *testing.T) {
	const good = "asn,name,access\nAS9198,JSC Kazakhtelecom,fixed\n 48503 , Tele2 Kazakhstan , mobile\n# comment\n35104,,\n"
	r := New()
	if err := r.ReadASNInfo(strings.NewReader(good), "info.csv"); err != nil {
		t.Fatal(err)
	}
	want := map[bgpwatch.ASN]bgpwatch.ASNInfo{
		9198:  {ASN: 9198, Name: "JSC Kazakhtelecom", Access: bgpwatch.AccessFixed, AccessSource: bgpwatch.AccessSourceUser},
		48503: {ASN: 48503, Name: "Tele2 Kazakhstan", Access: bgpwatch.AccessMobile, AccessSource: bgpwatch.AccessSourceUser},
		35104: {ASN: 35104, Access: bgpwatch.AccessUnknown},
		1:     {ASN: 1, Access: bgpwatch.AccessUnknown},
	}
	for a, w := range want {
		if got := r.Info(a); got != w {
			t.Errorf("Info(%d) = %+v, want %+v", a, got, w)
		}
	}
	// Column order is free, extra columns are ignored.
	r = New()
	if err := r.ReadASNInfo(strings.NewReader("access,notes,asn,name\nhosting,x,13335,Cloudflare\n"), "f"); err != nil {
		t.Fatal(err)
	}
	if got := r.Info(13335); got.Name != "Cloudflare" || got.Access != bgpwatch.AccessHosting {
		t.Errorf("Info(13335) = %+v", got)
	}

	bad := []struct{ name, in, want string }{
		{"empty", "", "f: bad format: empty file"},
		{"no access column", "asn,name\n1,x\n", "f:1: bad format: header \"asn,name\" has no access column"},
		{"bad asn", "asn,name,access\n1,a,fixed\nASX,b,fixed\n", "f:3: invalid ASN \"ASX\""},
		{"bad access", "asn,name,access\n1,a,cable\n", "f:2: AS1: invalid access \"cable\""},
		{"duplicate", "asn,name,access\n1,a,fixed\nAS1,b,fixed\n", "f:3: invalid: AS1 listed twice (first on line 2)"},
		{"bad quote", "asn,name,access\n1,\"a,fixed\n", "f:2: bad format"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := New().ReadASNInfo(strings.NewReader(tt.in), "f")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, bgpwatch.ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestASNamesAndPrecedence(t *testing.T) {
	path := sharedData(t, "asn/cidr-report.asnames.txt")
	r := New()
	if err := r.LoadASNames(path); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadASNInfo(strings.NewReader("asn,name,access\n9198,Kazakhtelecom (ours),fixed\n"), "info"); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadDelegations(strings.NewReader("ripencc|KZ|asn|9198|1|20000101|allocated\n"), "deleg"); err != nil {
		t.Fatal(err)
	}
	tests := []bgpwatch.ASNInfo{
		{ASN: 1, Name: "LVLT-1", Access: bgpwatch.AccessUnknown},                                                                        // names list only; its ", US" is not used
		{ASN: 9198, Name: "Kazakhtelecom (ours)", Country: "KZ", Access: bgpwatch.AccessFixed, AccessSource: bgpwatch.AccessSourceUser}, // asn-info beats the list
		{ASN: 18253, Access: bgpwatch.AccessUnknown},                                                                                    // --No Registry Entry--
	}
	for _, w := range tests {
		if got := r.Info(w.ASN); got != w {
			t.Errorf("Info(%d) = %+v, want %+v", w.ASN, got, w)
		}
	}
	n := 0
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ReadASNames(f, path, func(bgpwatch.ASN, string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 69032 {
		t.Errorf("%d names, want 69032", n)
	}
}

func TestASNamesErrors(t *testing.T) {
	for _, in := range []string{"9198 KAZ, KZ\n", "AS 9198 KAZ\n", "AS99999999999 X\n"} {
		err := ReadASNames(strings.NewReader("AS1 OK, US\n"+in), "names", func(bgpwatch.ASN, string) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), "names:2: ") || !errors.Is(err, bgpwatch.ErrInvalid) {
			t.Errorf("%q: err = %v, want names:2: ... invalid", in, err)
		}
	}
}

func TestLoadGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("lacnic|BR|asn|28573|1|20000101|allocated\n"))
	zw.Close()
	path := filepath.Join(t.TempDir(), "delegated-lacnic-latest") // no .gz: detected by content
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.LoadDelegations(path); err != nil {
		t.Fatal(err)
	}
	if got := r.CountryOf(28573); got != "BR" {
		t.Errorf("CountryOf(28573) = %q", got)
	}
	if err := r.LoadDelegations(filepath.Join(t.TempDir(), "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
