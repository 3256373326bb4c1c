package rislive

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// firehose returns n RIS Live messages shaped like the public firehose's:
// mostly UPDATEs from many collectors and peers (IPv4 and IPv6), each
// with a path of 3 to 9 ASes (sometimes prepended, rarely ending in an
// AS_SET), communities, origin, MED and aggregator fields, one or two
// announcement groups of 1 to 8 prefixes, some withdrawals, and now and
// then a KEEPALIVE or RIS_PEER_STATE. The sequence is deterministic.
func firehose(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, 0, n)
	var b strings.Builder
	ts := 1700000000.0
	for i := range n {
		b.Reset()
		ts += r.Float64() * 0.002
		v6 := r.IntN(10) < 3
		peerASN := 1000 + r.IntN(60000)
		var peer string
		if v6 {
			peer = fmt.Sprintf("2001:7f8:%x::%x:1", r.IntN(64), peerASN)
		} else {
			peer = fmt.Sprintf("80.249.%d.%d", r.IntN(256), r.IntN(256))
		}
		host := fmt.Sprintf("rrc%02d.ripe.net", r.IntN(26))
		fmt.Fprintf(&b, `{"type":"ris_message","data":{"timestamp":%.2f,"peer":"%s","peer_asn":"%d","id":"%s-%d","host":"%s",`,
			ts, peer, peerASN, peer, i, host)
		switch k := r.IntN(100); {
		case k < 2:
			b.WriteString(`"type":"KEEPALIVE"}}`)
			out = append(out, []byte(b.String()))
			continue
		case k < 3:
			b.WriteString(`"type":"RIS_PEER_STATE","state":"down"}}`)
			out = append(out, []byte(b.String()))
			continue
		}
		b.WriteString(`"type":"UPDATE","path":[`)
		fmt.Fprintf(&b, "%d", peerASN)
		hops := 2 + r.IntN(7)
		for range hops {
			asn := 1 + r.IntN(400000)
			if r.IntN(20) == 0 {
				asn = 4200000000 + r.IntN(1000)
			}
			fmt.Fprintf(&b, ",%d", asn)
			if r.IntN(8) == 0 {
				fmt.Fprintf(&b, ",%d,%d", asn, asn)
			}
		}
		if r.IntN(200) == 0 {
			fmt.Fprintf(&b, ",[%d,%d]", 1+r.IntN(60000), 1+r.IntN(60000))
		}
		b.WriteString(`],"community":[`)
		for j := range r.IntN(6) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "[%d,%d]", 1+r.IntN(65535), r.IntN(65536))
		}
		fmt.Fprintf(&b, `],"origin":"IGP","med":%d,"aggregator":"%d:10.%d.%d.1"`, r.IntN(100), 1+r.IntN(60000), r.IntN(256), r.IntN(256))
		prefix := func() string {
			if v6 {
				return fmt.Sprintf("2a%02x:%x::/%d", r.IntN(256), r.IntN(65536), 32+r.IntN(17))
			}
			return fmt.Sprintf("%d.%d.%d.0/%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 16+r.IntN(9))
		}
		if r.IntN(10) > 0 {
			b.WriteString(`,"announcements":[`)
			for g := range 1 + r.IntN(2) {
				if g > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"next_hop":"%s","prefixes":[`, peer)
				for j := range 1 + r.IntN(8) {
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `"%s"`, prefix())
				}
				b.WriteString(`]}`)
			}
			b.WriteString(`]`)
		}
		if w := r.IntN(4); w > 0 {
			b.WriteString(`,"withdrawals":[`)
			for j := range w {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"%s"`, prefix())
			}
			b.WriteString(`]`)
		}
		b.WriteString(`}}`)
		out = append(out, []byte(b.String()))
	}
	return out
}

// BenchmarkDecode decodes firehose-shaped messages into observations
// (Decode + Observations, as the client does per message) and reports
// messages per second of wall time (msgs/s) and of the process's CPU
// time (msgs/cpu-s, garbage collection included: the figure that holds
// on a shared machine); scripts/bench-rislive.sh runs it on one core.
func BenchmarkDecode(b *testing.B) { benchDecode(b, Decode) }

// BenchmarkDecodeReference is BenchmarkDecode with the encoding/json
// decoder that Decode replaced, for comparison.
func BenchmarkDecodeReference(b *testing.B) {
	benchDecode(b, func(line []byte) (Message, error) {
		rm, err := refDecode(line)
		return Message{Type: rm.Type, Error: rm.Error, Data: rm.Data.toData()}, err
	})
}

func benchDecode(b *testing.B, decode func([]byte) (Message, error)) {
	msgs := firehose(10000)
	var size int
	for _, m := range msgs {
		size += len(m)
	}
	now := time.Unix(1700000000, 0)
	var obs []bgpwatch.Observation
	var nobs int
	b.SetBytes(int64(size / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		m, err := decode(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		obs, _, err = m.Observations(obs[:0], now)
		if err != nil {
			b.Fatal(err)
		}
		nobs += len(obs)
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "msgs/cpu-s")
	}
	b.ReportMetric(float64(nobs)/float64(b.N), "obs/msg")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
