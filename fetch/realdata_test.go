package fetch

import (
	"path/filepath"
	"testing"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// TestVerifyRealFiles checks verification against real public archive
// files: intact ones pass, cut-short or damaged ones fail.
func TestVerifyRealFiles(t *testing.T) {
	data := shareddata.Path(t, "mrt")
	for _, tc := range []struct {
		file, ext string
		ok        bool
	}{
		{"ris/rrc21.updates.20160811.1600.gz", ".gz", true},
		{"routeviews/route-views.jinx.updates.20150401.0000.bz2", ".bz2", true},
		{"routeviews/route-views2.rib.20140523.0600_firstMB.bz2", ".bz2", false}, // cut short
		{"edge/rrc00.updates.20000325.0345.gz", ".gz", false},                    // broken framing
		{"ris/rrc21.updates.20160811.1600.gz", ".bz2", false},                    // wrong container
	} {
		t.Run(tc.file+tc.ext, func(t *testing.T) {
			err := VerifyMRT(filepath.Join(data, tc.file), tc.ext)
			if (err == nil) != tc.ok {
				t.Errorf("VerifyMRT = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
