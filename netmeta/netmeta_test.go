package netmeta

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseFixture(t *testing.T, ds string) Dataset {
	t.Helper()
	d, err := ParseFile(ds, filepath.Join("testdata", FileNames[ds]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseFixtures(t *testing.T) {
	t.Run("apnic", func(t *testing.T) {
		d := parseFixture(t, DatasetAPNIC)
		if len(d.Rows) != 7 || !d.Date.Equal(day("2022-01-04")) {
			t.Fatalf("rows %d date %s", len(d.Rows), d.Date)
		}
		r := d.Rows[0]
		if r.ASN != 9198 || r.Country != "KZ" || r.Users != 5610000 || r.Share < 0.3911 || r.Share > 0.3913 || r.Name != "KAZTELECOM-AS" {
			t.Errorf("first row %+v", r)
		}
	})
	t.Run("peeringdb", func(t *testing.T) {
		d := parseFixture(t, DatasetPeeringDB)
		if len(d.Rows) != 5 { // the deleted object is skipped
			t.Fatalf("rows %d", len(d.Rows))
		}
		if !d.Date.Equal(day("2021-12-20")) {
			t.Errorf("date %s, want the newest updated", d.Date)
		}
		if d.Rows[0].Kind != "Cable/DSL/ISP;NSP" || d.Rows[3].Kind != "Content" {
			t.Errorf("kinds %q %q", d.Rows[0].Kind, d.Rows[3].Kind)
		}
	})
	t.Run("as2types", func(t *testing.T) {
		d := parseFixture(t, DatasetCAIDATypes)
		if len(d.Rows) != 8 || !d.Date.Equal(day("2021-12-01")) || d.Rows[4].Kind != CAIDAContent {
			t.Fatalf("%d rows, date %s, %+v", len(d.Rows), d.Date, d.Rows[4])
		}
	})
	t.Run("as-org2info", func(t *testing.T) {
		d := parseFixture(t, DatasetCAIDAOrgs)
		if len(d.Rows) != 5 || !d.Date.Equal(day("2022-01-01")) {
			t.Fatalf("%d rows, date %s", len(d.Rows), d.Date)
		}
		if r := d.Rows[2]; r.ASN != 206026 || r.Name != "Kar-Tel LLC" || r.Country != "KZ" {
			t.Errorf("row %+v: want the organisation's name and country", r)
		}
	})
}

func TestParseGzip(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", FileNames[DatasetCAIDATypes]))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	d, err := Parse(DatasetCAIDATypes, &b, "x.txt.gz")
	if err != nil || len(d.Rows) != 8 {
		t.Fatalf("%v, %d rows", err, len(d.Rows))
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		ds, in, want string
	}{
		{DatasetAPNIC, `{"Data": [{"AS": 1, "CC": "KZ", "Users": 5}]}`, `Data[0].Percent of CC Pop`},
		{DatasetAPNIC, `{"Data": [{"AS": 1, "CC": "K1", "Users": 5, "Percent of CC Pop": 1}]}`, `Data[0].CC`},
		{DatasetAPNIC, `{"Data": [{"AS": -4, "CC": "KZ"}]}`, `Data[0].AS`},
		{DatasetAPNIC, `{"Data": [{"AS": 0, "CC": "KZ", "Users": 5, "Percent of CC Pop": 1}]}`, `Data[0].AS`},
		{DatasetAPNIC, `{"Data": [{"AS": 4294967296, "CC": "KZ", "Users": 5, "Percent of CC Pop": 1}]}`, `Data[0].AS`},
		{DatasetAPNIC, `{"Data": [{"AS": 1, "CC": "KZ", "Users": 5, "Percent of CC Pop": 140}]}`, `0..100`},
		{DatasetAPNIC, `{"Date": "2022/13/45", "Data": []}`, `"Date"`},
		{DatasetAPNIC, `{"copyright": "x"}`, `no "Data" array`},
		{DatasetAPNIC, `{"Data": [`, `offset`},
		{DatasetPeeringDB, `{"data": [{"asn": 0}]}`, `data[0].asn`},
		{DatasetPeeringDB, `{"data": [{"asn": 5, "updated": "yesterday"}]}`, `data[0].updated`},
		{DatasetPeeringDB, `[]`, `offset`},
		{DatasetCAIDATypes, "1|CAIDA_class\n", `:1:`},
		{DatasetCAIDATypes, "# date: 20200101\n1|CAIDA_class|Transit/Access\nx|CAIDA_class|Content\n", `:3: as`},
		{DatasetCAIDATypes, "1|CAIDA_class|Tier1\n", `type "Tier1"`},
		{DatasetCAIDAOrgs, "1|20200101|X|ORG|o|RIPE\n", `before any "# format:"`},
		{DatasetCAIDAOrgs, "# format:aut|changed|aut_name|org_id|opaque_id|source\n1|2020\n", `:2:`},
		{DatasetCAIDAOrgs, "# format:foo|bar\n", `neither aut nor org_id`},
	}
	for _, c := range cases {
		_, err := Parse(c.ds, strings.NewReader(c.in), "f")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "f") {
			t.Errorf("%s %q: error %v, want one naming the file and %q", c.ds, c.in, err, c.want)
		}
	}
	if _, err := Parse(DatasetAPNIC, strings.NewReader("{"), "f"); !errors.Is(err, ErrFormat) {
		t.Errorf("want ErrFormat, got %v", err)
	}
}

func TestPeeringDBAccess(t *testing.T) {
	for kind, want := range map[string]bgpwatch.Access{
		"Cable/DSL/ISP":        bgpwatch.AccessFixed,
		"NSP;Cable/DSL/ISP":    bgpwatch.AccessFixed,
		"NSP":                  bgpwatch.AccessTransit,
		"Content":              bgpwatch.AccessHosting,
		"Content;NSP":          bgpwatch.AccessTransit,
		"Enterprise":           bgpwatch.AccessUnknown,
		"Educational/Research": bgpwatch.AccessUnknown,
		"":                     bgpwatch.AccessUnknown,
		"Not Disclosed":        bgpwatch.AccessUnknown,
	} {
		if got := PeeringDBAccess(kind); got != want {
			t.Errorf("%q: %s, want %s", kind, got, want)
		}
	}
}

func TestNameSuggestsMobile(t *testing.T) {
	for name, want := range map[string]bool{
		"KAR-TEL-MOBILE Kar-Tel LLC": true,
		"BHARTI-MOBILITY-AS-AP GPRS": true,
		"Sudan Cellular":             true,
		"KCELL-AS":                   false,
		"MOBINIL":                    false,
		"KAZTELECOM-AS":              false,
		"X 4G":                       true,
		"AS4GOOD":                    false,
	} {
		if got := NameSuggestsMobile(name); got != want {
			t.Errorf("%q: %v, want %v", name, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	l, err := LoadDir("testdata")
	if err != nil || len(l.Failed) > 0 || len(l.Datasets) != 4 {
		t.Fatalf("LoadDir: %v %v %d", err, l.Failed, len(l.Datasets))
	}
	sets := map[string]Dataset{}
	for _, d := range l.Datasets {
		sets[d.Name] = d
	}
	countries := map[bgpwatch.ASN]string{9198: "KZ", 21299: "KZ", 29355: "KZ", 48503: "KZ", 50482: "KZ", 203087: "KZ", 206026: "KZ", 39824: "KZ", 44244: "IR"}
	names := map[bgpwatch.ASN]string{206026: "KAR-TEL-MOBILE Kar-Tel LLC", 9198: "KAZTELECOM-AS"}
	got := Resolve(Inputs{Datasets: sets, Curated: Curated(), Names: names, Countries: countries})
	cases := []struct {
		asn    bgpwatch.ASN
		access bgpwatch.Access
		source string
		date   string
	}{
		{9198, bgpwatch.AccessFixed, bgpwatch.AccessSourcePeeringDB, "2021-11-02"}, // ISP+NSP → access network
		{48503, bgpwatch.AccessMobile, bgpwatch.AccessSourceCurated, "2026-12-07"}, // curated beats PeeringDB's ISP
		{29355, bgpwatch.AccessMobile, bgpwatch.AccessSourceCurated, "2026-12-07"},
		{35104, bgpwatch.AccessTransit, bgpwatch.AccessSourcePeeringDB, "2020-01-10"},
		{48716, bgpwatch.AccessHosting, bgpwatch.AccessSourcePeeringDB, "2021-12-20"},
		{50482, bgpwatch.AccessFixed, bgpwatch.AccessSourceCAIDA, "2021-12-01"}, // Transit/Access with APNIC users
		{203087, bgpwatch.AccessUnknown, "", ""},                                // Transit/Access without users: unknown
		{39824, bgpwatch.AccessUnknown, "", ""},                                 // Enterprise
		{206026, bgpwatch.AccessMobile, bgpwatch.AccessSourceName, ""},          // weak: the registered name
		{64999, bgpwatch.AccessUnknown, "", ""},
	}
	for _, c := range cases {
		n := got[c.asn]
		var d string
		if !n.AccessDate.IsZero() {
			d = n.AccessDate.Format("2006-01-02")
		}
		if (n.Access != c.access && !(c.access == bgpwatch.AccessUnknown && n.Access == "")) || n.AccessSource != c.source || d != c.date {
			t.Errorf("AS%d: %s from %q (%s), want %s from %q (%s)", c.asn, n.Access, n.AccessSource, d, c.access, c.source, c.date)
		}
	}
	u := got[9198].Users
	if u == nil || u.Country != "KZ" || u.Estimate != 5610000 || u.Source != "apnic" || !u.Date.Equal(day("2022-01-04")) {
		t.Errorf("AS9198 users %+v: want the KZ row, not the KG one", u)
	}
	if got[35104].Users != nil {
		t.Errorf("AS35104 has no APNIC row: users must be absent, got %+v", got[35104].Users)
	}
	if n := got[203087]; n.Name != "Astana Fibre ISP" || n.NameSource != DatasetCAIDAOrgs {
		t.Errorf("AS203087 name %q from %q", n.Name, n.NameSource)
	}
	if n := got[9198]; n.Name != "JSC Kazakhtelecom" || n.NameSource != DatasetPeeringDB {
		t.Errorf("AS9198 name %q from %q: PeeringDB first", n.Name, n.NameSource)
	}
}

func TestLoadDirReportsBadFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileNames[DatasetAPNIC]), []byte(`{"Data": [{"AS": 1}]}`), 0o644)
	raw, _ := os.ReadFile(filepath.Join("testdata", FileNames[DatasetCAIDATypes]))
	os.WriteFile(filepath.Join(dir, "20211201.as2types.txt"), raw, 0o644)
	l, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Datasets) != 1 || l.Datasets[0].Name != DatasetCAIDATypes {
		t.Fatalf("datasets %+v", l.Datasets)
	}
	if e := l.Failed[DatasetAPNIC]; e == nil || !strings.Contains(e.Error(), FileNames[DatasetAPNIC]) {
		t.Errorf("APNIC failure %v: want it reported with the file name", e)
	}
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("an empty directory must be an error")
	}
}
