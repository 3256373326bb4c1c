package mrtsource

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

func dataFile(t testing.TB, rel string) string { return shareddata.Path(t, "mrt/"+rel) }

type result struct {
	obs   []bgpwatch.Observation
	errs  []error
	kinds map[bgpwatch.ObservationKind]int
	stats Stats
}

func readSource(t testing.TB, path string) result {
	t.Helper()
	s, err := Open(path, Options{Collector: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := result{kinds: map[bgpwatch.ObservationKind]int{}}
	for i := 0; ; i++ {
		o, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var fe *mrt.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			res.errs = append(res.errs, err)
			continue
		}
		if o.Peer.Collector != "test" {
			t.Fatalf("observation %d: collector %q", i, o.Peer.Collector)
		}
		res.obs = append(res.obs, o)
		res.kinds[o.Kind]++
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after EOF: %v", err)
	}
	res.stats = s.Stats()
	return res
}

func TestSourceFiles(t *testing.T) {
	tests := []struct {
		rel      string
		kinds    map[bgpwatch.ObservationKind]int
		wantErrs bool
	}{
		// Counts from bgpdump -m (all unicast).
		{"ris/rrc05.bview.20020722.2337.gz", map[bgpwatch.ObservationKind]int{bgpwatch.TableStart: 1, bgpwatch.TableRoute: 115521, bgpwatch.TableEnd: 1}, false},
		{"lab/bird.rib_addpath_ipv4.gz", map[bgpwatch.ObservationKind]int{bgpwatch.TableStart: 1, bgpwatch.TableRoute: 62, bgpwatch.TableEnd: 1}, false},
		// Truncated RIB: routes, but no TableEnd.
		{"routeviews/route-views2.rib.20140523.0600_firstMB.bz2", map[bgpwatch.ObservationKind]int{bgpwatch.TableStart: 1, bgpwatch.TableRoute: 270005}, true},
		{"ris/rrc21.updates.20160811.1600.gz", map[bgpwatch.ObservationKind]int{bgpwatch.Announce: 39256, bgpwatch.Withdraw: 1956}, false},
		{"routeviews/route-views2.updates.20260222.1530.bz2", map[bgpwatch.ObservationKind]int{bgpwatch.Announce: 111057, bgpwatch.Withdraw: 7606}, false},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.rel), func(t *testing.T) {
			res := readSource(t, dataFile(t, tt.rel))
			for k, n := range tt.kinds {
				if res.kinds[k] != n {
					t.Errorf("%v: %d, want %d", k, res.kinds[k], n)
				}
			}
			if k := res.kinds[bgpwatch.TableEnd]; tt.kinds[bgpwatch.TableEnd] == 0 && k != 0 {
				t.Errorf("TableEnd emitted %d times for a damaged file", k)
			}
			if (len(res.errs) > 0) != tt.wantErrs {
				t.Errorf("errors %v, want errors: %v", res.errs, tt.wantErrs)
			}
			if len(res.obs) > 0 && res.obs[0].Kind == bgpwatch.TableRoute {
				t.Errorf("TableRoute before TableStart")
			}
			if res.stats.Errors != len(res.errs) {
				t.Errorf("Stats.Errors %d, want %d", res.stats.Errors, len(res.errs))
			}
		})
	}
}

// TestOriginMatchesBgpdump checks Origin, peer and prefix of every
// announcement against the bgpdump-compatible rendering of the same file
// (2-byte and 4-byte sessions mixed, so AS4_PATH merging is exercised).
func TestOriginMatchesBgpdump(t *testing.T) {
	for _, rel := range []string{"ris/rrc00.updates.20071015.1505.gz", "ris/rrc05.updates.20100722.2015.gz", "lab/bird.mrtdump_bgp_addpath_ipv4"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			path := dataFile(t, rel)
			lines := bgpdumpLines(t, path)
			res := readSource(t, path)
			var obs []bgpwatch.Observation
			for _, o := range res.obs {
				if o.Kind == bgpwatch.Announce || o.Kind == bgpwatch.Withdraw {
					obs = append(obs, o)
				}
			}
			var want []string
			for _, l := range lines {
				f := strings.Split(l, "|")
				if len(f) < 6 || (f[2] != "A" && f[2] != "W") {
					continue
				}
				want = append(want, l)
			}
			if len(obs) != len(want) {
				t.Fatalf("%d observations, bgpdump %d lines", len(obs), len(want))
			}
			for i, l := range want {
				f := strings.Split(l, "|")
				o := obs[i]
				ap := strings.HasSuffix(f[0], "_AP")
				peer, _ := netip.ParseAddr(f[3])
				prefix, _ := netip.ParsePrefix(f[5])
				if peer != o.Peer.Addr || f[4] != o.Peer.ASN.String() || prefix != o.Prefix {
					t.Fatalf("line %d %q: observation %+v", i, l, o)
				}
				if f[2] == "W" {
					continue
				}
				pathField := f[6]
				if ap {
					pathField = f[7]
				}
				var origin uint64
				if as := strings.Fields(pathField); len(as) > 0 && !strings.ContainsAny(as[len(as)-1], "{}()[]") {
					origin, _ = strconv.ParseUint(as[len(as)-1], 10, 32)
				}
				if uint64(o.Origin) != origin {
					t.Fatalf("line %d %q: origin %d, want %d", i, l, o.Origin, origin)
				}
			}
		})
	}
}

func bgpdumpLines(t *testing.T, path string) []string {
	f, err := mrt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fm mrt.Formatter
	var out []byte
	for {
		rec, err := f.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		peers, _ := f.Peers()
		out, _ = fm.Append(out, rec, peers)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestNoAllocPerEntry: reading a RIB allocates nothing per route.
func TestNoAllocPerEntry(t *testing.T) {
	s, err := Open(dataFile(t, "ris/rrc05.bview.20020722.2337.gz"), Options{Collector: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 1000; i++ { // warm up buffers
		s.Next()
	}
	allocs := testing.AllocsPerRun(10000, func() {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Errorf("%.3f allocations per observation, want 0", allocs)
	}
}
