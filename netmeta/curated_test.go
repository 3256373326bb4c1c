package netmeta

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
	"github.com/bgpwatch/bgpwatch/rir"
)

func TestCurated(t *testing.T) {
	ops := Curated()
	if len(ops) < 20 {
		t.Fatalf("%d operators", len(ops))
	}
	countries := map[string]bool{}
	for _, o := range ops {
		countries[o.Country] = true
	}
	for _, cc := range []string{"KZ", "IR", "IQ", "EG", "SD", "MM", "BD", "PK", "IN", "BY"} {
		if !countries[cc] {
			t.Errorf("no mobile operator for %s", cc)
		}
	}
	for _, bad := range []string{
		"asn,country,operator,access,source,checked\n1,KZ,X,mobile,not a url,2026-01-01\n",
		"asn,country,operator,access,source,checked\n1,KZ,X,fixed,https://a.example/,2026-01-01\n",
		"asn,country,operator,access,source,checked\n1,KZ,X,mobile,https://a.example/,yesterday\n",
		"asn,country,operator,access,source,checked\n1,KZ,,mobile,https://a.example/,2026-01-01\n",
		"asn,country,operator,access,source,checked\n1,KZ,X,mobile,https://a.example/,2026-01-01\n1,KZ,Y,mobile,https://a.example/,2026-01-01\n",
		"asn,cc\n",
		"asn,country,operator,access,source,checked\n1,KZ,X,mobile,https://a.example/,0001-01-01\n",
		"asn,country,operator,access,source,checked\n0,KZ,X,mobile,https://a.example/,2026-01-01\n",
	} {
		if _, err := ReadCurated(strings.NewReader(bad), "t.csv"); err == nil || !strings.HasPrefix(err.Error(), "t.csv") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

// stopWords are words of operator names too generic to tie a row to a
// registered AS name.
var stopWords = map[string]bool{
	"MOBILE": true, "TELECOM": true, "SERVICE": true, "LLC": true, "JSC": true, "LTD": true,
	"LIMITED": true, "THE": true, "AND": true, "IRAQ": true, "EGYPT": true, "SUDAN": true,
	"KAZAKHSTAN": true, "PAKISTAN": true, "INDIA": true, "BELARUS": true, "MYANMAR": true,
	"ORANGE": true, "IDEA": true,
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// nameFits reports whether a registered AS name names the operator: a
// non-generic word of the operator's name is a word of the registered
// name, or (4 letters or more) part of it.
func nameFits(operator, registered string) bool {
	reg := words(registered)
	squashed := strings.Join(reg, "")
	for _, w := range words(operator) {
		if len(w) < 2 || stopWords[w] {
			continue
		}
		for _, r := range reg {
			if r == w {
				return true
			}
		}
		if len(w) >= 4 && strings.Contains(squashed, w) {
			return true
		}
	}
	return false
}

// TestCuratedAgainstRegistryNames checks every curated row against the
// CIDR report's AS names: the ASN exists, its registered name fits the
// operator and its registered country is the row's.
func TestCuratedAgainstRegistryNames(t *testing.T) {
	path := shareddata.Path(t, "asn/cidr-report.asnames.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[bgpwatch.ASN]string{}
	if err := rir.ReadASNames(f, path, func(a bgpwatch.ASN, n string) error { names[a] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	// The registered country is the last ", CC" of the line.
	f2, _ := os.Open(path)
	defer f2.Close()
	cc := map[bgpwatch.ASN]string{}
	sc := bufio.NewScanner(f2)
	for sc.Scan() {
		line := sc.Text()
		num, _, _ := strings.Cut(line, " ")
		a, err := bgpwatch.ParseASN(strings.TrimSpace(strings.SplitN(num, "\t", 2)[0]))
		if err != nil {
			continue
		}
		if i := strings.LastIndex(line, ","); i >= 0 {
			cc[a] = strings.TrimSpace(line[i+1:])
		}
	}
	for _, o := range Curated() {
		n, ok := names[o.ASN]
		if !ok || n == "" {
			t.Errorf("AS%d (%s): not in the registry's AS names", o.ASN, o.Operator)
			continue
		}
		if !nameFits(o.Operator, n) {
			t.Errorf("AS%d: registered name %q does not fit operator %q", o.ASN, n, o.Operator)
		}
		if c := cc[o.ASN]; c != o.Country {
			t.Errorf("AS%d (%s): registered country %q, row says %s", o.ASN, o.Operator, c, o.Country)
		}
	}
	// The check itself must be able to fail.
	if nameFits("Kcell", "KAZTELECOM-AS") || !nameFits("Zain Iraq", "ZAINAS-") {
		t.Error("nameFits is not discriminating")
	}
}
