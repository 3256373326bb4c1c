package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// TestDumpBMP: dump reads a BMP capture and the same session as a raw
// BMP byte stream (found by content, not by name) and prints the same
// lines for both; a truncated stream prints what it has and reports the
// offset.
func TestDumpBMP(t *testing.T) {
	pcap := shareddata.Path(t, "stream/bmp.cisco.peer_down.pcap")
	code, fromPcap, stderr := runCLI(t, nil, "dump", pcap)
	if code != 0 || stderr != "" {
		t.Fatalf("dump pcap: exit %d, stderr %q", code, stderr)
	}
	kinds := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(fromPcap), "\n") {
		f := strings.Split(l, "|")
		if len(f) < 6 || f[0] != "BGP4MP" {
			t.Fatalf("line %q", l)
		}
		kinds[f[2]]++
	}
	if kinds["A"] != 45 || kinds["W"] != 23 || kinds["STATE"] != 13 {
		t.Errorf("line kinds %v, want 45 A, 23 W, 13 STATE", kinds)
	}
	if !strings.Contains(fromPcap, "BGP4MP|1705334746|STATE|203.0.113.44|64496|6|1\n") {
		t.Error("peer down of 203.0.113.44 missing")
	}

	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := bmp.ReadCapture(f)
	f.Close()
	if err != nil || len(streams) != 1 {
		t.Fatalf("capture: %v, %d streams", err, len(streams))
	}
	raw := filepath.Join(t.TempDir(), "session.dat")
	if err := os.WriteFile(raw, streams[0].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, fromRaw, stderr := runCLI(t, nil, "dump", raw)
	if code != 0 || stderr != "" || fromRaw != fromPcap {
		t.Errorf("raw stream: exit %d, stderr %q, same output %v", code, stderr, fromRaw == fromPcap)
	}

	cut := len(streams[0].Data) - 100
	if err := os.WriteFile(raw, streams[0].Data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	code, partial, stderr := runCLI(t, nil, "dump", raw)
	if code != 0 || !strings.HasPrefix(fromPcap, partial) || len(partial) == 0 {
		t.Errorf("truncated: exit %d, %d bytes printed", code, len(partial))
	}
	if !strings.Contains(stderr, raw+": offset ") || !strings.Contains(stderr, "stream ends inside a message") {
		t.Errorf("truncated: stderr %q", stderr)
	}
}
