package netmeta

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func fuzzDataset(f *testing.F, ds string) {
	if raw, err := os.ReadFile(filepath.Join("testdata", FileNames[ds])); err == nil {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(ds, bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, r := range d.Rows {
			if r.Share > 1 || (r.Users < 0 && r.Users != -1) {
				t.Fatalf("row %+v out of range", r)
			}
		}
	})
}

func FuzzAPNIC(f *testing.F)     { fuzzDataset(f, DatasetAPNIC) }
func FuzzPeeringDB(f *testing.F) { fuzzDataset(f, DatasetPeeringDB) }
func FuzzAS2Types(f *testing.F)  { fuzzDataset(f, DatasetCAIDATypes) }
func FuzzASOrg(f *testing.F)     { fuzzDataset(f, DatasetCAIDAOrgs) }

func FuzzCurated(f *testing.F) {
	f.Add(curatedCSV)
	f.Fuzz(func(t *testing.T, in []byte) {
		ops, err := ReadCurated(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, o := range ops {
			if o.Source == "" || o.Checked.IsZero() {
				t.Fatalf("row without source or date: %+v", o)
			}
		}
	})
}
