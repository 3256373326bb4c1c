package bmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// benchStream turns the UPDATEs of a real RouteViews update file into a
// BMP stream: one pre-policy Route Monitoring message per UPDATE, from
// the peer that sent it. It returns the stream and its prefix count.
func benchStream(b *testing.B) ([]byte, int) {
	f, err := mrt.Open(shareddata.Path(b, "mrt/routeviews/route-views2.updates.20260222.1530.bz2"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	var m mrt.Message
	var u mrt.Update
	for {
		rec, err := f.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			continue
		}
		if !rec.IsMessage() || rec.Message(&m) != nil || !m.AS4 || m.AddPath || m.Local {
			continue
		}
		typ, body, err := mrt.ParseMessage(m.Data)
		if err != nil || typ != mrt.MsgUpdate || mrt.ParseUpdate(body, &u) != nil {
			continue
		}
		ph := make([]byte, PeerHeaderLen)
		if m.PeerAddr.Is6() {
			ph[1] = FlagV
			a := m.PeerAddr.As16()
			copy(ph[10:], a[:])
		} else {
			a := m.PeerAddr.As4()
			copy(ph[22:], a[:])
		}
		binary.BigEndian.PutUint32(ph[26:], m.PeerAS)
		binary.BigEndian.PutUint32(ph[34:], rec.Timestamp)
		msg := []byte{Version, 0, 0, 0, 0, TypeRouteMonitoring}
		msg = append(msg, ph...)
		msg = append(msg, m.Data[:binary.BigEndian.Uint16(m.Data[16:])]...)
		binary.BigEndian.PutUint32(msg[1:], uint32(len(msg)))
		out.Write(msg)
	}
	// Count what the decoder reports, once.
	d := NewDecoder("bench", Options{})
	r := NewReaderBytes(out.Bytes())
	n := 0
	var obs []bgpwatch.Observation
	for {
		msg, off, err := r.Next()
		if err != nil {
			break
		}
		obs, err = d.Decode(msg, off, obs[:0])
		if err != nil {
			b.Fatalf("offset %d: %v", off, err)
		}
		n += len(obs)
	}
	return out.Bytes(), n
}

// BenchmarkRouteMonitoring decodes a BMP stream of real UPDATEs (framing,
// per-peer header, UPDATE, prefixes into observations) on one goroutine
// and reports routes (announced and withdrawn prefixes) per second.
// scripts/bench-bmp.sh runs it on one core.
func BenchmarkRouteMonitoring(b *testing.B) {
	stream, routes := benchStream(b)
	if routes < 10000 {
		b.Fatalf("only %d routes in the stream", routes)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	var obs []bgpwatch.Observation
	for i := 0; i < b.N; i++ {
		d := NewDecoder("bench", Options{})
		r := NewReaderBytes(stream)
		for {
			msg, off, err := r.Next()
			if err != nil {
				break
			}
			obs, _ = d.Decode(msg, off, obs[:0])
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(routes)*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
	// The process's CPU time: the figure a loaded machine does not skew
	// (the wall-clock one counts the time other processes had the core).
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(routes)*float64(b.N)/cpu.Seconds(), "routes/cpu-s")
	}
	b.ReportMetric(float64(routes), "routes/op")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
