package bmp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// writePcap writes segments of data (seq offsets into it) as an
// Ethernet/IPv4/TCP pcap of one connection 192.0.2.1:40000 →
// 192.0.2.9:11019, whose SYN comes first.
func writePcap(data []byte, order []int, segLen int) []byte {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	b.Write(hdr)
	const isn = 0xfffffff0 // wraps inside the stream
	frame := func(seq uint32, flags byte, payload []byte) {
		f := make([]byte, 14+20+20)
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
		ip[8], ip[9] = 64, 6
		copy(ip[12:], []byte{192, 0, 2, 1})
		copy(ip[16:], []byte{192, 0, 2, 9})
		tcp := ip[20:]
		binary.BigEndian.PutUint16(tcp, 40000)
		binary.BigEndian.PutUint16(tcp[2:], 11019)
		binary.BigEndian.PutUint32(tcp[4:], seq)
		tcp[12], tcp[13] = 5<<4, flags
		f = append(f, payload...)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec, 1700000000)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		b.Write(rec)
		b.Write(f)
	}
	frame(isn, 0x02, nil)
	for _, i := range order {
		end := min((i+1)*segLen, len(data))
		frame(isn+1+uint32(i*segLen), 0x18, data[i*segLen:end])
	}
	return b.Bytes()
}

func TestCaptureReassembly(t *testing.T) {
	_, data := captureStream(t, ciscoCapture)
	const segLen = 700
	n := (len(data) + segLen - 1) / segLen
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(n)
	// Retransmissions: some segments twice.
	order = append(order, order[:n/5]...)
	ss, err := ReadCapture(bytes.NewReader(writePcap(data, order, segLen)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Gap || !bytes.Equal(ss[0].Data, data) {
		t.Fatalf("reordered, retransmitted: %d streams, gap %v, equal %v", len(ss), ss[0].Gap, bytes.Equal(ss[0].Data, data))
	}
	// A segment missing from the capture: the stream stops before it.
	missing := without(order[:n], 7)
	ss, err = ReadCapture(bytes.NewReader(writePcap(data, missing, segLen)))
	if err != nil {
		t.Fatal(err)
	}
	if !ss[0].Gap || !bytes.Equal(ss[0].Data, data[:7*segLen]) || ss[0].Lost == 0 {
		t.Errorf("missing segment 7: gap %v, %d bytes (want %d), lost %d", ss[0].Gap, len(ss[0].Data), 7*segLen, ss[0].Lost)
	}
	// Damage: a packet record claiming more than the file holds.
	bad := writePcap(data, order[:3], segLen)
	_, err = ReadCapture(bytes.NewReader(bad[:len(bad)-5]))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("capture: offset ")) {
		t.Errorf("truncated capture: %v", err)
	}
}

// without returns order without segment skip.
func without(order []int, skip int) []int {
	var out []int
	for _, i := range order {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

// TestCaptureFormats: the same session read from pcapng and nanosecond
// pcap (written by editcap) gives the same stream.
func TestCaptureFormats(t *testing.T) {
	path, data := captureStream(t, ciscoCapture)
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("editcap (tshark) not installed")
		}
		t.Skip("editcap not installed")
	}
	for _, format := range []string{"pcapng", "nsecpcap"} {
		out := filepath.Join(t.TempDir(), "c."+format)
		if b, err := exec.Command(editcap, "-F", format, path, out).CombinedOutput(); err != nil {
			t.Fatalf("editcap %s: %v %s", format, err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := ReadCapture(f)
		f.Close()
		if err != nil || len(ss) != 1 || !bytes.Equal(ss[0].Data, data) {
			t.Errorf("%s: %v, %d streams", format, err, len(ss))
		}
	}
}
