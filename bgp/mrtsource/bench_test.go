package mrtsource

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/klauspost/compress/gzip"
)

// benchFile writes the complete records of a shared sample, repeated, as a
// gzip MRT file (a stand-in for a full RIB until the generator's is used).
func benchFile(b *testing.B, rel string, times int) (string, int) {
	src := dataFile(b, rel)
	out := filepath.Join(b.TempDir(), "bench.gz")
	o, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	zw := gzip.NewWriter(o)
	routes := 0
	var rib mrt.RIB
	for i := 0; i < times; i++ {
		f, err := mrt.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := f.Next()
			if err != nil {
				break
			}
			if rec.IsRIB() && rec.RIB(&rib) == nil {
				routes += len(rib.Entries)
			}
			var h [12]byte
			binary.BigEndian.PutUint32(h[0:], rec.Timestamp)
			binary.BigEndian.PutUint16(h[4:], rec.Type)
			binary.BigEndian.PutUint16(h[6:], rec.Subtype)
			binary.BigEndian.PutUint32(h[8:], uint32(len(rec.Body)))
			zw.Write(h[:])
			zw.Write(rec.Body)
		}
		f.Close()
	}
	zw.Close()
	o.Close()
	return out, routes
}

// BenchmarkSourceRIB measures replay's decode path: gzip + MRT + attributes
// to observations, per route.
func BenchmarkSourceRIB(b *testing.B) {
	path, routes := benchFile(b, "routeviews/route-views2.rib.20140523.0600_firstMB.bz2", 2)
	b.ResetTimer()
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		s, err := Open(path, Options{Collector: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*routes), "ns/route")
	_ = n
}

// BenchmarkSourceUpdates measures the update path on a real RIS file.
func BenchmarkSourceUpdates(b *testing.B) {
	path := dataFile(b, "ris/rrc21.updates.20160811.1600.gz")
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		s, err := Open(path, Options{Collector: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Next(); err != nil {
				break
			}
			n++
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/obs")
}
