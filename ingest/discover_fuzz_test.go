package ingest

import (
	"strings"
	"testing"
)

// FuzzClassify: any path yields a collector and a consistent kind/time.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"rrc00/2022.01/bview.20220105.0800.gz",
		"x/route-views2/bgpdata/2022.01/UPDATES/updates.20220105.0615.bz2",
		"rrc06.updates.20150401.0000.gz",
		"bgpdata/rib.99999999.9999",
		"/",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		af := classify(p)
		if af.Collector == "" || strings.Contains(af.Collector, "/") {
			t.Fatalf("classify(%q) collector %q", p, af.Collector)
		}
		if af.Kind == KindUnknown && !af.Time.IsZero() {
			t.Fatalf("classify(%q): time without kind", p)
		}
	})
}
