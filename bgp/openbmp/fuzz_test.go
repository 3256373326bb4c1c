package openbmp

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func seedRecords() [][]byte {
	msg := []byte{3, 0, 0, 0, 11, 4, 0, 2, 0, 1, 'r'}
	v4 := Header{Collector: "c1", RouterIP: netip.MustParseAddr("192.0.2.1"), RouterGroup: "g", Time: time.Unix(1700000000, 5000)}
	v6 := Header{RouterIP: netip.MustParseAddr("2001:db8::1")}
	return [][]byte{Append(nil, v4, msg), Append(nil, v6, msg), Append(nil, v4, nil)}
}

// FuzzParse: any bytes give a header and a message inside the record, or
// an error; never a panic. A parsed record encodes back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range seedRecords() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, msg, err := Parse(b)
		if err != nil {
			return
		}
		if int(h.Len)+len(msg) > len(b) {
			t.Fatalf("message runs past the record")
		}
		back := Append(nil, h, msg)
		h2, msg2, err := Parse(back)
		if err != nil || string(msg2) != string(msg) || h2.RouterIP != h.RouterIP || h2.Collector != h.Collector || h2.RouterGroup != h.RouterGroup {
			t.Fatalf("round trip: %v %+v %+v", err, h, h2)
		}
	})
}

// TestWriteFuzzCorpus writes the seeds into testdata/fuzz (run with
// OPENBMP_WRITE_CORPUS=1 when they change).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("OPENBMP_WRITE_CORPUS") != "1" {
		t.Skip("set OPENBMP_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedRecords() {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
