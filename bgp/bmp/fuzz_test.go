package bmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// seedStreams are small BMP streams built by the test helpers: every
// message type, ADD-PATH and 2-byte sessions, Loc-RIB, End-of-RIB.
func seedStreams() [][]byte {
	ph := peerHdr(PeerGlobal, 0, "198.51.100.1", 64500, 1700000000)
	ph6 := peerHdr(PeerGlobal, FlagL, "2001:db8::1", 64501, 1700000000)
	loc := peerHdr(PeerLocRIB, 0, "0.0.0.0", 64496, 0)
	legacy := peerHdr(PeerGlobal, FlagA, "198.51.100.3", 64503, 1)
	init := bmpMsg(TypeInitiation, []byte{0, 2, 0, 2, 'r', '1', 0, 1, 0, 3, 'F', 'R', 'R'})
	upAP := peerUp(ph, openMsg(64501, capAS4(64501), capAddPath(1, 1)), openMsg(23456, capAS4(4200000000), capAddPath(1, 2)))
	rmAP := bmpMsg(TypeRouteMonitoring, ph, update(pfx("192.0.2.0/24", 3, true), append(pfx("203.0.113.0/24", 7, true), pfx("203.0.113.128/25", 8, true)...), []uint32{64500, 4200000001}, true))
	rm6 := bmpMsg(TypeRouteMonitoring, ph6, update(nil, pfx("198.51.100.0/24", 0, false), []uint32{64501}, true))
	rmLoc := bmpMsg(TypeRouteMonitoring, loc, update(nil, pfx("198.51.100.0/24", 0, false), []uint32{64501, 64502}, true))
	rmLegacy := bmpMsg(TypeRouteMonitoring, legacy, update(nil, pfx("198.51.100.0/23", 0, false), []uint32{64503, 23456}, false))
	eor := bmpMsg(TypeRouteMonitoring, ph, update(nil, nil, nil, true))
	stats := bmpMsg(TypeStatistics, ph, []byte{0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 9, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0, 9, 0, 11, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 5})
	down := bmpMsg(TypePeerDown, ph, []byte{2, 0, 1})
	mirror := bmpMsg(TypeRouteMirroring, ph, []byte{0, 0, 0, 2, 0, 1})
	term := bmpMsg(TypeTermination, []byte{0, 1, 0, 2, 0, 1})
	cat := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	return [][]byte{
		cat(init, upAP, rmAP, eor, stats, down),
		cat(init, rm6, rmLoc, rmLegacy, mirror, term),
		upAP, rmAP, rmLegacy, stats,
	}
}

// exercise runs every consumer of a BMP stream over data; it must never
// panic, whatever the bytes.
func exercise(data []byte) {
	r := NewReaderBytes(data)
	d := NewDecoder("fuzz", Options{RIBs: 1<<numRIB - 1, Now: func() time.Time { return time.Unix(1, 0) }})
	for {
		b, off, err := r.Next()
		if err != nil {
			break
		}
		obs, _ := d.Decode(b, off, nil)
		for _, o := range obs {
			if !o.Prefix.IsValid() && o.Kind != bgpwatch.PeerDown {
				panic(fmt.Sprintf("observation without prefix: %+v", o))
			}
		}
	}
	d.Close(time.Unix(2, 0), nil)
	_ = d.State()
	var dm Dumper
	dm.DumpStream(bytes.NewReader(data), "fuzz", io.Discard, io.Discard)
	ParseOpen(data)
	ReadCapture(bytes.NewReader(data))
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedStreams() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { exercise(data) })
}

// TestDecodeCaptureMessages runs the fuzz body over each message of the
// real capture and over every truncation of its first messages.
func TestDecodeCaptureMessages(t *testing.T) {
	_, data := captureStream(t, ciscoCapture)
	r := NewReaderBytes(data)
	for n := 0; ; n++ {
		b, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		exercise(b)
		if n < 20 {
			for i := range b {
				exercise(b[:i])
			}
		}
	}
}

// TestWriteFuzzCorpus writes the seed streams into testdata/fuzz (run
// with BMP_WRITE_CORPUS=1 when the seeds change).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("BMP_WRITE_CORPUS") != "1" {
		t.Skip("set BMP_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedStreams() {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
