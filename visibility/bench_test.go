package visibility

import (
	"bufio"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// synthetic returns n4 IPv4 and n6 IPv6 distinct prefixes (about a real
// table's length mix: mostly /24, some shorter) and peers full-feed peers.
func synthetic(n4, n6, peers int) ([]netip.Prefix, []bgpwatch.Peer) {
	pfx := make([]netip.Prefix, 0, n4+n6)
	for i := range n4 + n6 {
		pfx = append(pfx, synthPrefix(i, n4))
	}
	ps := make([]bgpwatch.Peer, peers)
	for i := range ps {
		ps[i] = bgpwatch.Peer{Collector: []string{"rrc00", "route-views2"}[i%2], ASN: ASN(64500 + i), Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
	}
	return pfx, ps
}

// synthPrefix returns synthetic's prefix i of n4 IPv4 and any number of
// IPv6 prefixes.
func synthPrefix(i, n4 int) netip.Prefix {
	if i < n4 {
		// /24s spread over 1.0.0.0-223.255.255.0, every 16th a /20 on its own range
		a := uint32(0x01000000) + uint32(i)*256
		bits := 24
		if i%16 == 0 {
			a, bits = uint32(0xe0000000)-uint32(i/16+1)*4096, 20
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits)
	}
	i -= n4
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = 0x20, 0x01, byte(i>>16), byte(i>>8), byte(i), 0
	return netip.PrefixFrom(netip.AddrFrom16(b), 48)
}

func originOf(i int) ASN { return ASN(1 + i%50000) }

// load applies a full RIB dump in MRT order (prefix by prefix, every peer)
// and closes one bin.
func load(tb testing.TB, e *Engine, pfx []netip.Prefix, peers []bgpwatch.Peer, t time.Time) {
	emit := func(*bgpwatch.Bin) error { return nil }
	if err := e.AdvanceTo(t, emit); err != nil {
		tb.Fatal(err)
	}
	o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableRoute}
	for i, p := range pfx {
		o.Prefix, o.Origin = p, originOf(i)
		for _, pr := range peers {
			o.Peer = pr
			e.Apply(&o)
		}
	}
	if err := e.AdvanceTo(t.Add(bgpwatch.BinStep), emit); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkApplyTableLoad applies a 1M-prefix × 60-peer RIB dump in MRT
// order, the first pass interning every prefix. Run with
// -benchtime=60000000x to time exactly one full table.
func BenchmarkApplyTableLoad(b *testing.B) {
	const nPeers = 60
	pfx, peers := synthetic(1_000_000, 0, nPeers)
	e := New(DefaultConfig(), func(ASN) string { return "KZ" })
	emit := func(*bgpwatch.Bin) error { return nil }
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := e.AdvanceTo(t, emit); err != nil {
		b.Fatal(err)
	}
	o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableRoute}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		j := (i / nPeers) % len(pfx)
		o.Prefix, o.Origin, o.Peer = pfx[j], originOf(j), peers[i%nPeers]
		e.Apply(&o)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	if err := e.AdvanceTo(t.Add(bgpwatch.BinStep), emit); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApplyUpdates applies withdrawals and re-announcements to a
// loaded 1M-prefix × 60-peer table, closing a bin every 100k updates.
// random: every update hits a random (prefix, peer), the worst case for
// caches. burst: as in real churn, a route change reaches the peers of a
// prefix one after another (here 30 peers per prefix).
func BenchmarkApplyUpdates(b *testing.B) {
	const nPeers = 60
	pfx, peers := synthetic(1_000_000, 0, nPeers)
	e := New(DefaultConfig(), func(ASN) string { return "KZ" })
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	load(b, e, pfx, peers, t)
	emit := func(*bgpwatch.Bin) error { return nil }
	r := rand.New(rand.NewPCG(1, 2))
	type pick struct{ p, s int32 }
	picks := make([]pick, 1<<16)
	for i := range picks {
		picks[i] = pick{int32(r.IntN(len(pfx))), int32(r.IntN(nPeers))}
	}
	now := t.Add(bgpwatch.BinStep)
	for _, mode := range []string{"random", "burst"} {
		b.Run(mode, func(b *testing.B) {
			o := bgpwatch.Observation{Time: now}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				if i%100_000 == 0 {
					now = now.Add(bgpwatch.BinStep)
					if err := e.AdvanceTo(now, emit); err != nil {
						b.Fatal(err)
					}
					o.Time = now
				}
				var k pick
				if mode == "random" {
					k = picks[(i/2)&(len(picks)-1)]
				} else {
					k = pick{picks[(i/60)&(len(picks)-1)].p, int32(i / 2 % 30)}
				}
				o.Prefix, o.Peer, o.Origin = pfx[k.p], peers[k.s], originOf(int(k.p))
				if i%2 == 0 {
					o.Kind = bgpwatch.Withdraw
				} else {
					o.Kind = bgpwatch.Announce
				}
				e.Apply(&o)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkMemory loads 1M IPv4 + 200k IPv6 prefixes × 100 full-feed peers,
// runs a full dump refresh (TableStart … TableEnd) and reports the heap in
// use and the process's peak RSS (VmHWM) in MiB. Run it alone with
// -benchtime=1x so the peak belongs to it.
func BenchmarkMemory(b *testing.B) {
	for range b.N {
		pfx, peers := synthetic(1_000_000, 200_000, 100)
		e := New(DefaultConfig(), func(ASN) string { return "KZ" })
		t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		start := time.Now()
		load(b, e, pfx, peers, t)
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
		// A second dump of the same table, as every RIB file after the first.
		t = t.Add(bgpwatch.BinStep)
		for _, c := range []string{"rrc00", "route-views2"} {
			o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableStart, Peer: bgpwatch.Peer{Collector: c}}
			e.Apply(&o)
		}
		start = time.Now()
		load(b, e, pfx, peers, t)
		for _, c := range []string{"rrc00", "route-views2"} {
			o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableEnd, Peer: bgpwatch.Peer{Collector: c}}
			e.Apply(&o)
		}
		b.ReportMetric(time.Since(start).Seconds(), "reload-s")
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		if hwm := peakRSS(); hwm > 0 {
			b.ReportMetric(float64(hwm)/(1<<20), "peakRSS-MiB")
		}
		ps := e.Peers()
		if len(ps) != 100 || ps[0].V4 != 1_000_000 || ps[0].V6 != 200_000 || !ps[0].FullFeedV4 {
			b.Fatalf("peers %+v", ps[0])
		}
		runtime.KeepAlive(pfx)
	}
}

// peakRSS returns VmHWM from /proc/self/status in bytes, 0 when unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return n << 10
		}
	}
	return 0
}

// cpuTime returns the process's user+system CPU time: the machine is shared,
// so wall-clock ns/op alone overstates the cost when other jobs run.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkApplyRefresh re-applies a 1M-prefix × 60-peer RIB dump in MRT
// order to a loaded table inside TableStart … TableEnd: the steady state of
// replaying RIB after RIB.
func BenchmarkApplyRefresh(b *testing.B) {
	const nPeers = 60
	pfx, peers := synthetic(1_000_000, 0, nPeers)
	e := New(DefaultConfig(), func(ASN) string { return "KZ" })
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	load(b, e, pfx, peers, t)
	t = t.Add(bgpwatch.BinStep)
	for _, c := range []string{"rrc00", "route-views2"} {
		o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableStart, Peer: bgpwatch.Peer{Collector: c}}
		e.Apply(&o)
	}
	o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableRoute}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		j := (i / nPeers) % len(pfx)
		o.Prefix, o.Origin, o.Peer = pfx[j], originOf(j), peers[i%nPeers]
		e.Apply(&o)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMemoryWorld builds the state of every RIS and RouteViews
// collector at once: $VIS_SESSIONS full-feed sessions (default 1000) on 66
// collectors (26 RIS, 40 RouteViews; 15 or 16 sessions each; 650 peer
// ASNs, so many networks peer with several collectors), each holding
// $VIS_V4 IPv4 (default 1 050 000) and $VIS_V6 IPv6 (default 200 000)
// prefixes. 1 % of the prefixes are MOAS: a third of the sessions see a
// second origin. Each collector's RIB dump is applied in MRT order
// (TableStart, prefix by prefix every session, TableEnd), collector after
// collector, then the first collector's dump once more (the 8-hourly
// refresh). It reports the heap in use and obtained from the OS
// (MemStats HeapInuse, Sys) and the resident set (VmRSS after a
// collection with freed pages returned, peak VmHWM) in MiB, and the CPU
// time per Apply (everything included: bin closes, dump ends, the
// collector). The prefixes are made on the fly, so the process holds the
// engine's state only. $VIS_HEAPPROFILE names a file for the heap profile
// of the built state. Run it alone with -benchtime=1x
// (scripts/bench-memory.sh).
func BenchmarkMemoryWorld(b *testing.B) {
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	nSess, n4, n6 := envInt("VIS_SESSIONS", 1000), envInt("VIS_V4", 1_050_000), envInt("VIS_V6", 200_000)
	for range b.N {
		var colls []string
		for i := range 26 {
			colls = append(colls, "rrc"+strconv.Itoa(100 + i)[1:])
		}
		for i := range 40 {
			colls = append(colls, "route-views"+strconv.Itoa(i+2))
		}
		bySess := make([][]bgpwatch.Peer, len(colls))
		for s := range nSess {
			c := s % len(colls)
			p := bgpwatch.Peer{Collector: colls[c], ASN: ASN(64500 + s%650),
				Addr: netip.AddrFrom4([4]byte{10, byte(s >> 16), byte(s >> 8), byte(s)})}
			bySess[c] = append(bySess[c], p)
		}
		e := New(DefaultConfig(), func(ASN) string { return "KZ" })
		emit := func(*bgpwatch.Bin) error { return nil }
		t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		var applies int64
		dump := func(c int) {
			t = t.Add(bgpwatch.BinStep)
			if err := e.AdvanceTo(t, emit); err != nil {
				b.Fatal(err)
			}
			o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableStart, Peer: bgpwatch.Peer{Collector: colls[c]}}
			e.Apply(&o)
			o.Kind = bgpwatch.TableRoute
			for i := range n4 + n6 {
				// made on the fly: the process holds the engine's
				// state only, as when reading MRT files
				o.Prefix = synthPrefix(i, n4)
				for k, pr := range bySess[c] {
					o.Origin = originOf(i)
					if i%100 == 7 && k%3 == 0 {
						o.Origin = originOf(i) + 1 // MOAS
					}
					o.Peer = pr
					e.Apply(&o)
				}
				applies += int64(len(bySess[c]))
			}
			o.Kind = bgpwatch.TableEnd
			e.Apply(&o)
		}
		cpu := cpuTime()
		for c := range colls {
			dump(c)
		}
		dump(0)
		// Two bins on: the dump's bin and one without a dump (the
		// state between the 8-hourly dumps).
		if err := e.AdvanceTo(t.Add(2*bgpwatch.BinStep), emit); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(applies), "cpu-ns/apply")
		// The resident state: after a collection, with the freed pages
		// returned to the OS (the runtime's scavenger does so over a few
		// minutes by itself).
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapinuse-MiB")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
		b.ReportMetric(float64(procStatus("VmRSS:"))/(1<<20), "rss-MiB")
		b.ReportMetric(float64(procStatus("VmHWM:"))/(1<<20), "peakRSS-MiB")
		heapProfile(b)
		ps := e.Peers()
		if len(ps) != nSess || ps[0].V4 != n4 || ps[0].V6 != n6 || !ps[0].FullFeedV4 {
			b.Fatalf("%d peers, first %+v", len(ps), ps[0])
		}
	}
}

// procStatus returns a /proc/self/status size field (e.g. "VmRSS:") in
// bytes, 0 when unknown.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return n << 10
		}
	}
	return 0
}

// BenchmarkApplyAddPathTable loads whole tables over ADD-PATH sessions:
// 60 full-feed peers, 10 of them sending 4 paths per prefix (a route
// server's or a route reflector's view), 1M IPv4 prefixes, in MRT order.
// The same origin on every path is the common case; every 8th prefix has
// a second origin on its last path (a MOAS seen only beside the best
// path). The dump is framed by its collectors' TableStart and TableEnd, as
// a RIB file is. It reports CPU per applied route and the heap kept.
func BenchmarkApplyAddPathTable(b *testing.B) {
	const nPeers, nAddPath, paths = 60, 10, 4
	for range b.N {
		pfx, peers := synthetic(1_000_000, 0, nPeers)
		e := New(DefaultConfig(), func(ASN) string { return "KZ" })
		emit := func(*bgpwatch.Bin) error { return nil }
		t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := e.AdvanceTo(t, emit); err != nil {
			b.Fatal(err)
		}
		mark := func(k bgpwatch.ObservationKind) {
			for _, c := range []string{"rrc00", "route-views2"} {
				o := bgpwatch.Observation{Time: t, Kind: k, Peer: bgpwatch.Peer{Collector: c}}
				e.Apply(&o)
			}
		}
		o := bgpwatch.Observation{Time: t, Kind: bgpwatch.TableRoute}
		routes := 0
		cpu := cpuTime()
		mark(bgpwatch.TableStart)
		for i, p := range pfx {
			o.Prefix = p
			for k, pr := range peers {
				o.Peer = pr
				n := 1
				if k < nAddPath {
					n = paths
				}
				for id := range n {
					o.Origin, o.PathID = originOf(i), 0
					if n > 1 {
						o.PathID = uint32(id + 1)
						if id == n-1 && i%8 == 0 {
							o.Origin = originOf(i + 1)
						}
					}
					e.Apply(&o)
					routes++
				}
			}
		}
		mark(bgpwatch.TableEnd)
		if err := e.AdvanceTo(t.Add(bgpwatch.BinStep), emit); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(routes), "cpu-ns/route")
		b.ReportMetric(float64(routes), "routes")
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		heapProfile(b)
		ps := e.Peers()
		if len(ps) != nPeers || ps[0].V4 != 1_000_000 || !ps[0].FullFeedV4 {
			b.Fatalf("peers %+v", ps[0])
		}
		runtime.KeepAlive(pfx)
	}
}

// heapProfile writes the heap profile to the file $VIS_HEAPPROFILE names,
// if any: the state a memory benchmark built, while it is still held.
func heapProfile(b *testing.B) {
	path := os.Getenv("VIS_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
