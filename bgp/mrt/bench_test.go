package mrt

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// BenchmarkFormatter renders a real RIB as bgpdump -m lines, per route.
func BenchmarkFormatter(b *testing.B) {
	raw := rawFile(b, "ris/rrc05.bview.20020722.2337.gz")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var out []byte
	lines := 0
	for i := 0; i < b.N; i++ {
		r := NewReader(bytes.NewReader(raw), "bench")
		var f Formatter
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			out, _ = f.Append(out[:0], rec, nil)
			lines += bytes.Count(out, []byte{'\n'})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(lines), "ns/line")
}

// BenchmarkReader frames records of an uncompressed stream.
func BenchmarkReader(b *testing.B) {
	raw := rawFile(b, "ris/rrc21.updates.20160811.1600.gz")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := NewReader(bytes.NewReader(raw), "bench")
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
