package visibility

import (
	"bufio"
	"errors"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// need returns the path of a sample data file (internal/shareddata),
// skipping (failing under CI=true) when it or bgpdump is absent.
func need(t *testing.T, rel string) string {
	t.Helper()
	p := shareddata.Path(t, rel)
	if _, err := exec.LookPath("bgpdump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bgpdump missing (apt install bgpdump): %v", err)
		}
		t.Skipf("bgpdump missing (apt install bgpdump), skipping: %v", err)
	}
	return p
}

type dumpRoute struct {
	peer   bgpwatch.Peer
	prefix netip.Prefix
	origin ASN
}

// bgpdumpRoutes runs bgpdump -m on a RIB file and returns its entries.
func bgpdumpRoutes(t *testing.T, path, collector string) []dumpRoute {
	t.Helper()
	cmd := exec.Command("bgpdump", "-m", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var routes []dumpRoute
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) < 7 || f[2] != "B" {
			continue
		}
		addr, err1 := netip.ParseAddr(f[3])
		pasn, err2 := bgpwatch.ParseASN(f[4])
		pfx, err3 := netip.ParsePrefix(f[5])
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("bgpdump line %q: %v", sc.Text(), err)
		}
		routes = append(routes, dumpRoute{
			peer:   bgpwatch.Peer{Collector: collector, ASN: pasn, Addr: addr},
			prefix: pfx.Masked(),
			origin: pathOrigin(f[6]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // bgpdump exits non-zero on the deliberately truncated file
	if len(routes) == 0 {
		t.Fatal("bgpdump printed no routes")
	}
	return routes
}

// pathOrigin is the origin of a bgpdump AS path by bgpwatch's origin
// rule (bgpwatch.PathOrigin): bgpdump writes AS_SEQUENCE members as
// numbers, an AS_SET as {a,b}, confederation segments as (a b) and
// [a,b]. 0 when not attributed or unparsable.
func pathOrigin(path string) ASN {
	var o bgpwatch.PathOrigin
	confed := false
	for _, tok := range strings.Fields(path) {
		switch {
		case confed || strings.HasPrefix(tok, "("):
			confed = !strings.HasSuffix(tok, ")")
			o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentConfedSequence, Len: 1})
		case strings.HasPrefix(tok, "["):
			o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentConfedSet, Len: 1})
		case strings.HasPrefix(tok, "{"):
			members := strings.Split(strings.Trim(tok, "{}"), ",")
			last, ok := bgpdumpASN(members[len(members)-1])
			if !ok {
				return 0
			}
			o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentSet, Len: len(members), Last: last})
		default:
			a, ok := bgpdumpASN(tok)
			if !ok {
				return 0
			}
			o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentSequence, Len: 1, Last: a})
		}
	}
	return o.ASN()
}

// bgpdumpASN parses an ASN as bgpdump prints it (asplain or asdot).
func bgpdumpASN(s string) (ASN, bool) {
	if hi, lo, ok := strings.Cut(s, "."); ok { // asdot
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		return ASN(h<<16 | l), err1 == nil && err2 == nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return ASN(n), err == nil
}

// bgpdump table: table sizes per peer, and the counts per origin ASN.
func expected(routes []dumpRoute, cfg Config) (sizes map[bgpwatch.Peer][2]int, asns map[ASN]Counts, fullFeed int) {
	type pk struct {
		peer bgpwatch.Peer
		pfx  netip.Prefix
	}
	held := map[pk]ASN{} // a dump holds one route per peer and prefix here (no ADD-PATH)
	for _, r := range routes {
		held[pk{r.peer, r.prefix}] = r.origin
	}
	sizes = map[bgpwatch.Peer][2]int{}
	for k := range held {
		s := sizes[k.peer]
		s[fam(k.pfx)]++
		sizes[k.peer] = s
	}
	ff := [2]map[ASN]bool{{}, {}}
	ffSess := [2]map[bgpwatch.Peer]bool{{}, {}}
	for f := range 2 {
		largest := 0
		for _, s := range sizes {
			largest = max(largest, s[f])
		}
		min := max(1, int(math.Ceil(cfg.FullFeedShare*float64(largest)-1e-9)))
		for p, s := range sizes {
			if s[f] >= min {
				ff[f][p.ASN] = true
				ffSess[f][p] = true
			}
		}
	}
	seen := map[netip.Prefix]map[ASN]map[ASN]bool{}
	for k, o := range held {
		if !ffSess[fam(k.pfx)][k.peer] {
			continue
		}
		if seen[k.pfx] == nil {
			seen[k.pfx] = map[ASN]map[ASN]bool{}
		}
		if seen[k.pfx][k.peer.ASN] == nil {
			seen[k.pfx][k.peer.ASN] = map[ASN]bool{}
		}
		seen[k.pfx][k.peer.ASN][o] = true
	}
	asns = map[ASN]Counts{}
	v4 := map[ASN][]netip.Prefix{}
	for pfx, by := range seen {
		if float64(len(by)) <= cfg.VisibleShare*float64(len(ff[fam(pfx)])) {
			continue
		}
		votes := map[ASN]int{}
		for _, os := range by {
			for o := range os {
				votes[o]++
			}
		}
		best, bestN := ASN(0), 0
		for o, n := range votes {
			if o != 0 && (n > bestN || n == bestN && o < best) {
				best, bestN = o, n
			}
		}
		if best == 0 {
			continue
		}
		c := asns[best]
		if fam(pfx) == 0 {
			c.Prefixes++
			v4[best] = append(v4[best], pfx)
		} else {
			c.V6Prefixes++
		}
		asns[best] = c
	}
	for a, ps := range v4 {
		c := asns[a]
		c.Slash24 = intervalSlash24(ps)
		asns[a] = c
	}
	return sizes, asns, len(ff[0])
}

// intervalSlash24 merges address intervals (an implementation independent
// of the Engine's key sort).
func intervalSlash24(ps []netip.Prefix) int {
	type iv struct{ lo, hi uint64 }
	var ivs []iv
	for _, p := range ps {
		a := p.Addr().As4()
		lo := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		ivs = append(ivs, iv{lo, lo + 1<<(32-p.Bits())})
	}
	slices.SortFunc(ivs, func(a, b iv) int { return int(int64(a.lo) - int64(b.lo)) })
	var total, curLo, curHi uint64
	for i, v := range ivs {
		if i == 0 || v.lo > curHi {
			total += curHi - curLo
			curLo, curHi = v.lo, v.hi
		} else if v.hi > curHi {
			curHi = v.hi
		}
	}
	total += curHi - curLo
	return int(total / 256)
}

func TestRealRIBs(t *testing.T) {
	tests := []struct {
		file, collector string
		peers           int
		minVisible      int // sanity: at least this many origin ASNs visible
	}{
		{"mrt/routeviews/route-views2.rib.20140523.0600_firstMB.bz2", "route-views2", 35, 100},
		{"mrt/ris/rrc05.bview.20020722.2337.gz", "rrc05", 36, 100},
	}
	for _, tt := range tests {
		t.Run(tt.collector, func(t *testing.T) {
			path := need(t, tt.file)
			cfg := DefaultConfig()
			wantSizes, wantASNs, wantFF := expected(bgpdumpRoutes(t, path, tt.collector), cfg)

			src, err := mrtsource.Open(path, mrtsource.Options{Collector: tt.collector})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			e := New(cfg, nil)
			var last *binCopy
			emit := func(b *bgpwatch.Bin) error {
				c := binCopy{start: b.Start, asns: map[ASN]Counts{}, fullFeed: b.FullFeed}
				for k, v := range b.ASNs {
					c.asns[k] = v
				}
				last = &c
				return nil
			}
			var end time.Time
			n := 0
			for {
				o, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Logf("damage reported (expected for a truncated file): %v", err)
					continue
				}
				if err := e.AdvanceTo(o.Time, emit); err != nil {
					t.Fatal(err)
				}
				e.Apply(&o)
				end = o.Time
				n++
			}
			if err := e.AdvanceTo(end.Add(cfg.Step), emit); err != nil {
				t.Fatal(err)
			}
			if last == nil {
				t.Fatal("no bin emitted")
			}
			t.Logf("%d observations, %d sessions, %d full-feed peer ASNs, %d origin ASNs visible", n, len(e.Peers()), last.fullFeed, len(last.asns))

			ps := e.Peers()
			if len(ps) != tt.peers && len(ps) != len(wantSizes) {
				t.Errorf("%d sessions, want %d", len(ps), len(wantSizes))
			}
			for _, p := range ps {
				w := wantSizes[p.Peer]
				if p.V4 != w[0] || p.V6 != w[1] {
					t.Errorf("peer %v: table %d IPv4 / %d IPv6, bgpdump implies %d / %d", p.Peer, p.V4, p.V6, w[0], w[1])
				}
			}
			if last.fullFeed != wantFF {
				t.Errorf("FullFeed = %d, want %d", last.fullFeed, wantFF)
			}
			if len(last.asns) < tt.minVisible {
				t.Errorf("only %d origin ASNs visible", len(last.asns))
			}
			bad := 0
			for a, w := range wantASNs {
				if g := last.asns[a]; g != w {
					if bad++; bad <= 10 {
						t.Errorf("AS%d: %+v, bgpdump implies %+v", a, g, w)
					}
				}
			}
			for a, g := range last.asns {
				if _, ok := wantASNs[a]; !ok {
					if bad++; bad <= 10 {
						t.Errorf("AS%d: %+v, bgpdump implies nothing visible", a, g)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d origin ASNs differ", bad, len(wantASNs))
			}
		})
	}
}

// BenchmarkApplyRealRIB applies the observations of the RouteViews RIB
// sample (decoded once, up front) to a fresh Engine: the real peer order
// and prefix mix. ns/op is per observation.
func BenchmarkApplyRealRIB(b *testing.B) {
	p := shareddata.Path(b, "mrt/routeviews/route-views2.rib.20140523.0600_firstMB.bz2")
	src, err := mrtsource.Open(p, mrtsource.Options{Collector: "route-views2"})
	if err != nil {
		b.Skipf("test data: %v", err)
	}
	defer src.Close()
	var obs []bgpwatch.Observation
	for {
		o, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			obs = append(obs, o)
		}
	}
	emit := func(*bgpwatch.Bin) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	n := 0
	for n < b.N {
		e := New(DefaultConfig(), nil)
		for i := range obs {
			if err := e.AdvanceTo(obs[i].Time, emit); err != nil {
				b.Fatal(err)
			}
			e.Apply(&obs[i])
		}
		if err := e.AdvanceTo(obs[len(obs)-1].Time.Add(bgpwatch.BinStep), emit); err != nil {
			b.Fatal(err)
		}
		n += len(obs)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(n), "obs")
}
