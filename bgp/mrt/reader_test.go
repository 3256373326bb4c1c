package mrt

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// rawFile returns the decompressed content of a shared data file.
func rawFile(t testing.TB, rel string) []byte {
	t.Helper()
	p := filepath.Join(dataDir(t), rel)
	f, err := OpenWith(p, OpenOptions{NoExternal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Read through the reader's own source: reopen raw bytes.
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if Detect(raw) == Gzip {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return raw
}

type readResult struct {
	offsets []int64
	errs    []error
}

func readAll(r *Reader) readResult {
	var res readResult
	for i := 0; i < 1e7; i++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.errs = append(res.errs, err)
			continue
		}
		res.offsets = append(res.offsets, rec.Offset)
	}
	return res
}

func record(ts uint32, typ, sub uint16, body []byte) []byte {
	b := make([]byte, 12, 12+len(body))
	binary.BigEndian.PutUint32(b, ts)
	binary.BigEndian.PutUint16(b[4:], typ)
	binary.BigEndian.PutUint16(b[6:], sub)
	binary.BigEndian.PutUint32(b[8:], uint32(len(body)))
	return append(b, body...)
}

func stateChange(ts uint32) []byte {
	body := []byte{0, 1, 0, 2, 0, 0, 0, 1, 10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 1}
	return record(ts, TypeBGP4MP, SubStateChange, body)
}

func TestReaderDamage(t *testing.T) {
	a, b, c := stateChange(1000), stateChange(1001), stateChange(1002)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		in       []byte
		wantRecs []int64
		wantErrs []int64 // offsets
	}{
		{"clean", cat(a, b, c), []int64{0, 32, 64}, nil},
		{"empty", nil, nil, nil},
		{"truncated header", cat(a, b, c[:5]), []int64{0, 32}, []int64{64}},
		{"truncated body", cat(a, b, c[:20]), []int64{0, 32}, []int64{64}},
		{"garbage between", cat(a, []byte("garbage!!"), b, c), []int64{0, 41, 73}, []int64{32}},
		{"impossible length", cat(a, record(1001, TypeBGP4MP, 0, nil)[:8], []byte{0xff, 0xff, 0xff, 0xff}, b, c), []int64{0, 44, 76}, []int64{32}},
		{"unknown type", cat(a, record(1001, 200, 0, []byte{1, 2}), b), []int64{0, 46}, []int64{32}},
		{"length too short", cat(a, record(1001, TypeBGP4MP, 0, make([]byte, 20))[:11], []byte{4}, b[12:], c), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(NewReader(bytes.NewReader(tt.in), "test.mrt"))
			if tt.wantRecs != nil && !equal(res.offsets, tt.wantRecs) {
				t.Errorf("records at %v, want %v (errors %v)", res.offsets, tt.wantRecs, res.errs)
			}
			var eo []int64
			for _, err := range res.errs {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *FormatError", err)
				}
				if fe.File != "test.mrt" {
					t.Errorf("error file %q", fe.File)
				}
				eo = append(eo, fe.Offset)
			}
			if tt.wantRecs != nil && !equal(eo, tt.wantErrs) {
				t.Errorf("errors at %v, want %v (%v)", eo, tt.wantErrs, res.errs)
			}
		})
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFormatErrorText(t *testing.T) {
	e := &FormatError{File: "x.gz", Offset: 42, Reason: "truncated record"}
	if got, want := e.Error(), "x.gz: offset 42: truncated record"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestTruncateEverywhere cuts a real update file at many points: the
// records before the cut must all be delivered, then one FormatError (or a
// clean EOF when the cut falls on a record boundary), and never a panic.
func TestTruncateEverywhere(t *testing.T) {
	raw := rawFile(t, "ris/rrc06.updates.20150401.0000.gz")
	full := readAll(NewReader(bytes.NewReader(raw), "full"))
	if len(full.errs) != 0 || len(full.offsets) < 100 {
		t.Fatalf("clean read: %d records, errors %v", len(full.offsets), full.errs)
	}
	for cut := 0; cut < len(raw); cut += 97 {
		res := readAll(NewReader(bytes.NewReader(raw[:cut]), "cut"))
		want := 0
		boundary := false
		for i, o := range full.offsets {
			end := int64(len(raw))
			if i+1 < len(full.offsets) {
				end = full.offsets[i+1]
			}
			if end <= int64(cut) {
				want++
			}
			if end == int64(cut) || o == int64(cut) {
				boundary = true
			}
		}
		if len(res.offsets) != want {
			t.Fatalf("cut at %d: %d records, want %d", cut, len(res.offsets), want)
		}
		if !boundary && len(res.errs) != 1 {
			t.Fatalf("cut at %d: errors %v, want one", cut, res.errs)
		}
	}
}

// TestDamagedRIS2000 reads the RIS file whose framing breaks after a few
// records: the reader reports the damage and resynchronises.
func TestDamagedRIS2000(t *testing.T) {
	f, err := Open(filepath.Join(dataDir(t), "edge", "rrc00.updates.20000325.0345.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := readAll(f.Reader)
	if len(res.errs) == 0 {
		t.Fatal("no damage reported")
	}
	var fe *FormatError
	if !errors.As(res.errs[0], &fe) || fe.Offset != 188 {
		t.Fatalf("first error %v, want a FormatError at offset 188", res.errs[0])
	}
	if len(res.offsets) < 1000 {
		t.Fatalf("only %d records after resync", len(res.offsets))
	}
}

// TestBzip2Paths checks that the external decoder and the Go one deliver
// the same records, also on a truncated stream.
func TestBzip2Paths(t *testing.T) {
	for _, rel := range []string{"routeviews/route-views.jinx.updates.20150401.0000.bz2", "routeviews/route-views6.rib6.20151101.0600_firstMB.bz2"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			p := filepath.Join(dataDir(t), rel)
			var results [2]readResult
			for i, opt := range []OpenOptions{{}, {NoExternal: true}} {
				f, err := OpenWith(p, opt)
				if err != nil {
					t.Fatal(err)
				}
				results[i] = readAll(f.Reader)
				if f.BytesRead() == 0 || f.Size() == 0 {
					t.Errorf("BytesRead %d Size %d", f.BytesRead(), f.Size())
				}
				f.Close()
			}
			if !equal(results[0].offsets, results[1].offsets) || len(results[0].errs) != len(results[1].errs) {
				t.Fatalf("external: %d records %v; Go: %d records %v", len(results[0].offsets), results[0].errs, len(results[1].offsets), results[1].errs)
			}
		})
	}
}
