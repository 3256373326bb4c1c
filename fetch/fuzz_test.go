package fetch

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzParseIndex: any index page yields base names only, never a path.
func FuzzParseIndex(f *testing.F) {
	f.Add(`<a href="rib.20220105.0759.bz2">x</a><a href="../">up</a>`)
	f.Add(`<A HREF="/rrc00/2022.01/bview.20220105.0800.gz">`)
	f.Add(`<a href="/">Parent Directory</a><a href="rrc00/">rrc00/</a><a href="https://ripe.net/">x</a>`)
	f.Fuzz(func(t *testing.T, page string) {
		for _, n := range parseIndex(page) {
			if strings.Contains(n, "/") {
				t.Fatalf("name %q has a slash", n)
			}
		}
		for _, n := range parseSubdirs(page) {
			if strings.Contains(n, "/") || n == "" || n == "." || n == ".." {
				t.Fatalf("directory name %q", n)
			}
		}
	})
}

// FuzzDelegations: the delegation check never panics and copies what it
// accepts unchanged (up to line endings).
func FuzzDelegations(f *testing.F) {
	f.Add("2|ripencc|1|1|19830705|20240101|+0000\nripencc|*|asn|*|1|summary\nripencc|DE|asn|3320|1|19930901|allocated\n")
	f.Add("# comment\narin|US|ipv4|8.8.8.0|256|19921201|assigned|abc\n")
	f.Add("<html>\n")
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		rows, err := copyDelegations(&out, strings.NewReader(in))
		if err == nil && rows > 0 && !strings.HasPrefix(strings.ReplaceAll(in, "\r", ""), strings.TrimSuffix(strings.ReplaceAll(out.String(), "\r", ""), "\n")) {
			t.Fatalf("accepted input changed")
		}
		_, _ = io.Copy(io.Discard, &out)
	})
}

// FuzzHeaders: Range parsing never panics or goes below -1 (Retry-After:
// internal/retry's FuzzAfter).
func FuzzHeaders(f *testing.F) {
	f.Add("bytes 0-1/2", "120")
	f.Add("bytes x", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, cr, _ string) {
		if v := rangeStart(cr); v < -1 {
			t.Fatalf("rangeStart %d", v)
		}
	})
}
