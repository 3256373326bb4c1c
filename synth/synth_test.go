package synth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
)

var (
	smallOnce  sync.Once
	smallDir   string
	smallTruth *Truth
	smallErr   error
)

// generated returns the small scenario's archive, generated once per run.
func generated(t *testing.T) (string, *Truth) {
	t.Helper()
	smallOnce.Do(func() {
		smallDir, smallErr = os.MkdirTemp("", "synth-small-")
		if smallErr != nil {
			return
		}
		sc, _ := Builtin("small")
		smallTruth, smallErr = Generate(context.Background(), sc, smallDir, Options{})
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallDir, smallTruth
}

func TestMain(m *testing.M) {
	code := m.Run()
	if smallDir != "" {
		os.RemoveAll(smallDir)
	}
	os.Exit(code)
}

func needBgpdump(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("bgpdump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bgpdump not installed (apt-get install bgpdump)")
		}
		t.Skip("bgpdump not installed (apt-get install bgpdump); skipping")
	}
	return p
}

func TestBuiltinsValidate(t *testing.T) {
	for _, name := range BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			sc, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := Builtin("nope"); !errors.Is(err, bgpwatch.ErrNotFound) {
		t.Fatalf("unknown scenario: got %v, want ErrNotFound", err)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Scenario)
	}{
		{"no collectors", func(s *Scenario) { s.Collectors = nil }},
		{"end before start", func(s *Scenario) { s.End = s.Start }},
		{"unaligned start", func(s *Scenario) { s.Start = s.Start.Add(time.Minute) }},
		{"unknown asn", func(s *Scenario) { s.Happenings[0].ASNs = asns(1) }},
		{"unknown peer", func(s *Scenario) { s.Happenings[2].Peer = "192.0.2.1" }},
		{"2-byte speaker with 4-byte asn", func(s *Scenario) { s.Collectors[0].Peers[5].ASN = 4200000000 }},
		{"bad country", func(s *Scenario) { s.Networks[0].Country = "KZX" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, _ := Builtin("small")
			tt.mod(&sc)
			if err := sc.Validate(); !errors.Is(err, bgpwatch.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	dir, tr := generated(t)
	var ris, rv, ribs, rvribs int
	for _, f := range tr.Files {
		if _, err := os.Stat(filepath.Join(dir, f.Path)); err != nil {
			t.Fatalf("listed file missing: %v", err)
		}
		switch {
		case strings.HasPrefix(f.Path, "rrc00/2024.01/updates."):
			ris++
		case strings.HasPrefix(f.Path, "rrc00/2024.01/bview."):
			ribs++
		case strings.HasPrefix(f.Path, "route-views2/bgpdata/2024.01/UPDATES/updates."):
			rv++
		case strings.HasPrefix(f.Path, "route-views2/bgpdata/2024.01/RIBS/rib."):
			rvribs++
		default:
			t.Errorf("unexpected path %s", f.Path)
		}
	}
	// 36 hours: 432 RIS update files, 144 RouteViews ones, bviews at
	// 00/08/16 (5), RIBs every 2 h (18).
	if ris != 432 || rv != 144 || ribs != 5 || rvribs != 18 {
		t.Fatalf("files: ris updates %d (want 432), rv updates %d (want 144), bviews %d (want 5), rv ribs %d (want 18)", ris, rv, ribs, rvribs)
	}
	for _, p := range []string{"asn-info.csv", "truth.json", "rir/delegated-ripencc-20240101", "rir/delegated-ripencc-extended-20240101", "rir/delegated-arin-20240101"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "asn-info.csv"))
	if !strings.HasPrefix(string(b), "asn,name,access\n") || !strings.Contains(string(b), "\n12298,mobile operator (synthetic),mobile\n") {
		t.Errorf("asn-info.csv: unexpected content %.200q", b)
	}
	loaded, err := LoadTruth(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Events) != 1 || loaded.Events[0].ASN != 12298 || loaded.Events[0].EndedAt == nil {
		t.Fatalf("truth events: %+v", loaded.Events)
	}
	if got := len(loaded.ASNSeries(12298)); got != 36*12 {
		t.Fatalf("series bins %d, want %d", got, 36*12)
	}
}

// TestRIRFiles checks the delegation files against the real files' format:
// version line, summary lines with the right counts, 7 or 8 fields.
func TestRIRFiles(t *testing.T) {
	dir, _ := generated(t)
	for _, name := range []string{"delegated-ripencc-20240101", "delegated-ripencc-extended-20240101"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "rir", name))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			want := 7
			if strings.Contains(name, "extended") {
				want = 8
			}
			hdr := strings.Split(lines[0], "|")
			if len(hdr) != 7 || hdr[0] != "2" || hdr[1] != "ripencc" {
				t.Fatalf("version line %q", lines[0])
			}
			records, _ := strconv.Atoi(hdr[3])
			summary := map[string]int{}
			counted := map[string]int{}
			n := 0
			for _, l := range lines[1:] {
				f := strings.Split(l, "|")
				if len(f) == 6 && f[5] == "summary" {
					summary[f[2]], _ = strconv.Atoi(f[4])
					continue
				}
				if len(f) != want {
					t.Fatalf("%d fields in %q, want %d", len(f), l, want)
				}
				counted[f[2]]++
				n++
				if f[2] == "ipv4" {
					if _, err := netip.ParseAddr(f[3]); err != nil {
						t.Fatalf("bad ipv4 row %q", l)
					}
				}
			}
			if n != records {
				t.Errorf("header says %d records, file has %d", records, n)
			}
			for k, v := range counted {
				if summary[k] != v {
					t.Errorf("summary %s = %d, rows %d", k, summary[k], v)
				}
			}
		})
	}
}

type lineCounts struct{ B, A, W, State int }

func bgpdumpCounts(t *testing.T, bin, path string) (lineCounts, []string) {
	t.Helper()
	out, _ := exec.Command(bin, "-m", path).Output() // damaged files exit non-zero
	var c lineCounts
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		f := strings.SplitN(l, "|", 4)
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "B":
			c.B++
		case "A":
			c.A++
		case "W":
			c.W++
		case "STATE":
			c.State++
		}
	}
	return c, lines
}

// TestBgpdump parses a sample of every kind of file with Debian's bgpdump
// and compares its line counts with what the generator wrote.
func TestBgpdump(t *testing.T) {
	bin := needBgpdump(t)
	dir, tr := generated(t)
	kinds := map[string]int{}
	for _, f := range tr.Files {
		key := f.Collector + "/" + f.Kind + "/" + f.Damage
		if f.State > 0 {
			key += "/state"
		}
		kinds[key]++
		if kinds[key] > 3 {
			continue
		}
		t.Run(f.Path, func(t *testing.T) {
			got, _ := bgpdumpCounts(t, bin, filepath.Join(dir, f.Path))
			want := lineCounts{f.RIB, f.Announce, f.Withdraw, f.State}
			if f.Damage != "" {
				if got.B > want.B || got.A > want.A || got.W > want.W {
					t.Fatalf("damaged file: bgpdump read %+v, more than written %+v", got, want)
				}
				return
			}
			if got != want {
				t.Fatalf("bgpdump -m: %+v, written %+v", got, want)
			}
		})
	}
	for _, k := range []string{"rrc00/rib/", "rrc00/updates/", "rrc00/updates//state", "rrc00/updates/truncate", "route-views2/rib/", "route-views2/updates/"} {
		if kinds[k] == 0 {
			t.Errorf("no file of kind %s", k)
		}
	}
}

// TestMRTSource reads every file with the project's reader.
func TestMRTSource(t *testing.T) {
	dir, tr := generated(t)
	for _, f := range tr.Files {
		src, err := mrtsource.Open(filepath.Join(dir, f.Path), mrtsource.Options{Collector: f.Collector})
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		var got lineCounts
		var down, damage int
		for {
			o, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				damage++
				if damage > 100 {
					break
				}
				continue
			}
			switch o.Kind {
			case bgpwatch.TableRoute:
				got.B++
			case bgpwatch.Announce:
				got.A++
			case bgpwatch.Withdraw:
				got.W++
			case bgpwatch.PeerDown:
				down++
			}
		}
		src.Close()
		want := lineCounts{B: f.RIB, A: f.Announce, W: f.Withdraw}
		if f.Damage != "" {
			if damage == 0 && f.Records > 0 {
				t.Errorf("%s (%s): no damage reported", f.Path, f.Damage)
			}
			continue
		}
		if damage > 0 || got != want || down != f.PeerDown {
			t.Errorf("%s: mrtsource %+v down %d damage %d, written %+v down %d", f.Path, got, down, damage, want, f.PeerDown)
		}
	}
}

// TestTruthFromArchive recomputes the per-bin visibility independently:
// it replays the archive as bgpdump prints it (first RIB of each collector,
// then every update file), keeps each peer's table, and counts per bin the
// prefixes more than half of the full-feed peer ASNs hold.
func TestTruthFromArchive(t *testing.T) {
	bin := needBgpdump(t)
	dir, tr := generated(t)
	full := map[string]bgpwatch.ASN{} // full-feed session address → ASN
	groups := map[bool]map[bgpwatch.ASN]bool{false: {}, true: {}}
	for _, c := range tr.Collectors {
		for _, p := range c.Peers {
			if p.FullFeed {
				full[p.Addr] = p.ASN
				if p.V4 {
					groups[false][p.ASN] = true
				}
				if p.V6 {
					groups[true][p.ASN] = true
				}
			}
		}
	}
	type line struct {
		ts     int64
		op     string
		peer   string
		prefix netip.Prefix
		origin bgpwatch.ASN
	}
	var lines []line
	seenRIB := map[string]bool{}
	for _, f := range tr.Files {
		if f.Kind == "rib" && seenRIB[f.Collector] {
			continue
		}
		seenRIB[f.Collector] = true
		_, out := bgpdumpCounts(t, bin, filepath.Join(dir, f.Path))
		for _, l := range out {
			fs := strings.Split(l, "|")
			if len(fs) < 5 {
				continue
			}
			ts, _ := strconv.ParseInt(fs[1], 10, 64)
			ln := line{ts: ts, op: fs[2], peer: fs[3]}
			if ln.op == "B" || ln.op == "A" || ln.op == "W" {
				k := 5
				if strings.HasSuffix(fs[0], "_AP") {
					k = 6 // path id after the prefix
				}
				ln.prefix, _ = netip.ParsePrefix(fs[5])
				if ln.op != "W" {
					path := strings.Fields(fs[k+1])
					a, _ := bgpwatch.ParseASN(path[len(path)-1])
					ln.origin = a
				}
			} else if ln.op == "STATE" && fs[5] != "6" {
				continue
			}
			lines = append(lines, ln)
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return int(a.ts - b.ts) })
	tables := map[string]map[netip.Prefix]int{} // peer → prefix → routes (path ids)
	origin := map[netip.Prefix]bgpwatch.ASN{}
	k := 0
	step := int64(tr.Series.Step)
	for bi := 0; bi < len(tr.Series.ASNs["12298"].Slash24); bi++ {
		end := tr.Series.Start.Unix() + int64(bi+1)*step
		for ; k < len(lines) && lines[k].ts < end; k++ {
			l := lines[k]
			tb := tables[l.peer]
			if tb == nil {
				tb = map[netip.Prefix]int{}
				tables[l.peer] = tb
			}
			switch l.op {
			case "B", "A":
				tb[l.prefix] = 1
				origin[l.prefix] = l.origin
			case "W":
				delete(tb, l.prefix)
			case "STATE":
				clear(tb)
			}
		}
		// Union per full-feed ASN, then > half of the ASNs.
		holders := map[netip.Prefix]map[bgpwatch.ASN]bool{}
		for peer, tb := range tables {
			asn, ok := full[peer]
			if !ok {
				continue
			}
			for p := range tb {
				if holders[p] == nil {
					holders[p] = map[bgpwatch.ASN]bool{}
				}
				holders[p][asn] = true
			}
		}
		perASN := map[bgpwatch.ASN][]netip.Prefix{}
		for p, h := range holders {
			if len(h)*2 > len(groups[p.Addr().Is6()]) {
				perASN[origin[p]] = append(perASN[origin[p]], p)
			}
		}
		for asnStr, sd := range tr.Series.ASNs {
			asn, _ := bgpwatch.ParseASN(asnStr)
			got := countPrefixes(perASN[asn])
			want := bgpwatch.Counts{Prefixes: sd.Prefixes[bi], Slash24: sd.Slash24[bi], V6Prefixes: sd.V6Prefixes[bi]}
			if got != want {
				t.Fatalf("AS%s bin %d (%s): archive gives %+v, truth %+v", asnStr, bi, time.Unix(end-step, 0).UTC().Format(time.RFC3339), got, want)
			}
		}
	}
	// The truth must show the scripted outage: AS12298 well below its
	// baseline during the event, back after it.
	s := tr.ASNSeries(12298)
	at := func(ts string) int {
		for _, p := range s {
			if p.Time.Format(time.RFC3339) == ts {
				return p.Slash24
			}
		}
		t.Fatalf("no bin %s", ts)
		return 0
	}
	base := at("2024-01-02T05:00:00Z")
	if during := at("2024-01-02T06:00:00Z"); during*3 > base {
		t.Errorf("AS12298 during outage %d /24s, baseline %d", during, base)
	}
	if after := at("2024-01-02T08:00:00Z"); after != base {
		t.Errorf("AS12298 after restoration %d /24s, baseline %d", after, base)
	}
}

func countPrefixes(ps []netip.Prefix) bgpwatch.Counts {
	var c bgpwatch.Counts
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if x := a.Addr().Compare(b.Addr()); x != 0 {
			return x
		}
		return a.Bits() - b.Bits()
	})
	var maxEnd, addrs uint64
	for _, p := range ps {
		if p.Addr().Is6() {
			c.V6Prefixes++
			continue
		}
		c.Prefixes++
		s := addrU32(p.Addr())
		e := s + 1<<(32-p.Bits())
		if e > maxEnd {
			addrs += e - max(s, maxEnd)
			maxEnd = e
		}
	}
	c.Slash24 = int(addrs / 256)
	return c
}

// TestDeterministic generates a short scenario twice and compares bytes.
func TestDeterministic(t *testing.T) {
	sc, _ := Builtin("small")
	sc.End = sc.Start.Add(3 * time.Hour)
	sc.Happenings = slices.DeleteFunc(sc.Happenings, func(h Happening) bool { return !h.At.Before(sc.End) })
	sc.Expect = nil
	sums := func(dir string) map[string][32]byte {
		out := map[string][32]byte{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				out[rel] = sha256.Sum256(b)
			}
			return nil
		})
		return out
	}
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, err := Generate(context.Background(), sc, d, Options{Seed: 42}); err != nil {
			t.Fatal(err)
		}
	}
	sa, sb := sums(a), sums(b)
	if len(sa) < 50 || len(sa) != len(sb) {
		t.Fatalf("file counts %d and %d", len(sa), len(sb))
	}
	for k, v := range sa {
		if sb[k] != v {
			t.Fatalf("%s differs between runs", k)
		}
	}
	c := t.TempDir()
	if _, err := Generate(context.Background(), sc, c, Options{Seed: 43}); err != nil {
		t.Fatal(err)
	}
	if sums(c)["rrc00/2024.01/bview.20240101.0000.gz"] == sa["rrc00/2024.01/bview.20240101.0000.gz"] {
		t.Fatal("another seed gave the same RIB")
	}
}

// TestEncoderUpdateTooLarge: an UPDATE beyond 4096 bytes is refused.
func TestEncoderUpdateTooLarge(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(bufio.NewWriter(&buf))
	s := &Session{PeerASN: 1, LocalASN: 2, PeerAddr: netip.MustParseAddr("192.0.2.1"), LocalAddr: netip.MustParseAddr("192.0.2.2"), AS4: true}
	var ws []NLRI
	for i := 0; i < 2000; i++ {
		ws = append(ws, NLRI{Prefix: netip.PrefixFrom(u32addr(uint32(i)<<8), 24)})
	}
	if err := e.Update(1, s, ws, nil, nil); !errors.Is(err, errTooLarge) {
		t.Fatalf("got %v, want errTooLarge", err)
	}
	if err := e.Update(1, s, ws[:10], nil, nil); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRIBEntry measures encoding one RIB entry (attributes included).
func BenchmarkRIBEntry(b *testing.B) {
	e := NewEncoder(io.Discard)
	a := &Attrs{Path: []uint32{3356, 1299, 9198}, NextHop: netip.MustParseAddr("80.81.192.10"), Communities: []uint32{3356<<16 | 100}}
	var buf []byte
	pfx := netip.MustParsePrefix("2.72.0.0/24")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			if i > 0 {
				if err := e.EndRIB(); err != nil {
					b.Fatal(err)
				}
			}
			e.BeginRIB(1, uint32(i), pfx, false)
		}
		buf = e.AppendRIBAttrs(buf[:0], a)
		e.AddRIBEntry(uint16(i%64), 1, 0, buf)
	}
}

// BenchmarkGenerateSmall generates six hours of the small scenario.
func BenchmarkGenerateSmall(b *testing.B) {
	sc, _ := Builtin("small")
	sc.End = sc.Start.Add(6 * time.Hour)
	sc.Happenings = slices.DeleteFunc(sc.Happenings, func(h Happening) bool { return !h.At.Before(sc.End) })
	for b.Loop() {
		if _, err := Generate(context.Background(), sc, b.TempDir(), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
