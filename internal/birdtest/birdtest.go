// Package birdtest runs real BIRD 2 daemons for bgpwatch's live-peering
// tests: each daemon gets its own directory, configuration and control
// socket, peers from its own loopback address (127.0.0.x) with one bgpwatch
// listener, and exports a set of static routes that a test can change
// while it runs (Reconfigure). Daemons are stopped at the test's cleanup;
// a failed test logs each daemon's log file.
//
// Need skips a test when BIRD is not installed, and fails it under CI=true,
// where scripts/install-deps must have installed bird2.
package birdtest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/daemontest"
)

// DefaultRemoteASN is the ASN a daemon expects bgpwatch to have, unless
// the test sets BIRD.RemoteASN before WriteConfig.
const DefaultRemoteASN = 65000

// Route is one static route a daemon exports, with the origin ASN it
// prepends (0: the daemon's own ASN is the origin).
type Route struct {
	Prefix netip.Prefix
	Origin uint32
	// Source is the static protocol the route comes from: 0 the
	// default one, n > 0 an extra one. Routes for the same prefix from
	// different sources are different paths in BIRD's table, which it
	// sends with their own path ids when AddPathTx is set (a single
	// static protocol holds one route per prefix).
	Source int
}

// BIRD is one BIRD 2 daemon run by a test.
type BIRD struct {
	// RemoteASN is bgpwatch's ASN as the daemon configures its neighbor.
	RemoteASN uint32
	// Password, when set before WriteConfig, is the session's TCP MD5
	// signature key (RFC 2385).
	Password string
	// AddPathTx, when set before WriteConfig, offers ADD-PATH transmit
	// (RFC 7911) for both families: when the neighbor can receive, the
	// daemon sends every path of a prefix, not only its best.
	AddPathTx bool
	// Passive, when set before WriteConfig, makes the daemon wait for
	// bgpwatch to connect to it (on Port) instead of connecting itself.
	Passive bool

	t      testing.TB
	dir    string
	addr   netip.Addr
	asn    uint32
	remote netip.AddrPort      // bgpwatch's listener
	port   uint16              // BIRD's own listening port
	proc   *daemontest.Process // nil when not running
}

// Need returns the paths of the bird and birdc binaries, or skips the test
// (fails it under CI=true) when they are missing.
func Need(t testing.TB) (bird, birdc string) {
	t.Helper()
	b, err1 := exec.LookPath("bird")
	if err1 != nil {
		b, err1 = "/usr/sbin/bird", statErr("/usr/sbin/bird")
	}
	c, err2 := exec.LookPath("birdc")
	if err2 != nil {
		c, err2 = "/usr/sbin/birdc", statErr("/usr/sbin/birdc")
	}
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("BIRD 2 is required under CI (scripts/install-deps installs bird2): %v %v", err1, err2)
		}
		t.Skip("BIRD 2 not installed (apt-get install bird2); skipping live peering test")
	}
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		// High ports need no privilege, but BIRD sets socket options
		// that may need root.
		t.Log("not root: BIRD may fail to start")
	}
	return b, c
}

func statErr(p string) error { _, err := os.Stat(p); return err }

// New prepares a daemon with router id and source address addr (a
// loopback address such as 127.0.0.2), local ASN asn, peering with the
// bgpwatch listener remote. It does not start it: WriteConfig, then Start.
func New(t testing.TB, addr netip.Addr, asn uint32, remote netip.AddrPort) *BIRD {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: keep the dir short.
	dir, err := os.MkdirTemp("", "bw-bird")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "bird.log"))
			t.Logf("BIRD %s log:\n%s", addr, log)
		}
		os.RemoveAll(dir)
	})
	// BIRD listens for incoming sessions too.
	port := daemontest.FreePort(t, addr)
	b := &BIRD{RemoteASN: DefaultRemoteASN, t: t, dir: dir, addr: addr, asn: asn, remote: remote, port: port}
	t.Cleanup(b.Stop)
	return b
}

// Addr is the daemon's address (its side of the session).
func (b *BIRD) Addr() netip.Addr { return b.addr }

// Port is the port the daemon listens on for incoming sessions (on Addr).
func (b *BIRD) Port() uint16 { return b.port }

// ASN is the daemon's local ASN.
func (b *BIRD) ASN() uint32 { return b.asn }

func (b *BIRD) sock() string { return filepath.Join(b.dir, "bird.ctl") }

// WriteConfig writes the daemon's configuration: one BGP session to the
// bgpwatch listener (BIRD connects; it listens on a free port of its own
// address, never 179), exporting
// routes as static blackhole routes, each with its origin prepended.
// Password, AddPathTx and Passive, when set, add the session's MD5 key,
// ADD-PATH transmit and passive mode.
func (b *BIRD) WriteConfig(routes []Route) {
	b.t.Helper()
	// One static protocol per source and family, in source order.
	type key struct {
		source int
		v6     bool
	}
	lines := map[key]*strings.Builder{{0, false}: {}, {0, true}: {}}
	sources := []int{0}
	for _, r := range routes {
		line := fmt.Sprintf("\troute %s blackhole { bgp_path.prepend(%d); };\n", r.Prefix, r.Origin)
		if r.Origin == 0 {
			line = fmt.Sprintf("\troute %s blackhole;\n", r.Prefix)
		}
		k := key{r.Source, !r.Prefix.Addr().Is4()}
		if lines[k] == nil {
			lines[k] = &strings.Builder{}
			if !slices.Contains(sources, r.Source) {
				sources = append(sources, r.Source)
			}
		}
		lines[k].WriteString(line)
	}
	slices.Sort(sources)
	var static strings.Builder
	for _, src := range sources {
		for _, v6 := range []bool{false, true} {
			l := lines[key{src, v6}]
			if l == nil {
				continue
			}
			name, fam := "s4", "ipv4"
			if v6 {
				name, fam = "s6", "ipv6"
			}
			if src != 0 {
				name += fmt.Sprintf("_%d", src)
			}
			fmt.Fprintf(&static, "protocol static %s {\n\t%s { import all; };\n%s}\n", name, fam, l)
		}
	}
	var opts, chanOpts string
	if b.Password != "" {
		opts += fmt.Sprintf("\tpassword %q;\n", b.Password)
	}
	if b.Passive {
		opts += "\tpassive on;\n"
	}
	if b.AddPathTx {
		chanOpts = " add paths tx;"
	}
	conf := fmt.Sprintf(`
router id %[1]s;
log "%[2]s/bird.log" all;
protocol device { scan time 60; }
%[3]sprotocol bgp bw {
	local %[1]s port %[10]d as %[5]d;
	neighbor %[6]s port %[7]d as %[9]d;
	connect delay time 1;
	connect retry time 1;
	error wait time 1, 2;
	hold time 30;
	multihop;
	strict bind;
%[4]s	ipv4 { import all; export all;%[11]s };
	ipv6 { import all; export all; next hop address 2001:db8:ffff::%[8]d;%[11]s };
}
`, b.addr, b.dir, static.String(), opts, b.asn, b.remote.Addr(), b.remote.Port(), b.addr.As4()[3], b.RemoteASN, b.port, chanOpts)
	if err := os.WriteFile(filepath.Join(b.dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Start runs the daemon and waits for its control socket.
func (b *BIRD) Start() {
	b.t.Helper()
	bin, _ := Need(b.t)
	cmd := exec.Command(bin, "-f", "-c", filepath.Join(b.dir, "bird.conf"), "-s", b.sock(), "-P", filepath.Join(b.dir, "bird.pid"))
	b.proc = daemontest.Start(b.t, cmd, filepath.Join(b.dir, "bird.log"), daemontest.Dials("unix", b.sock()))
}

// Stop terminates the daemon (it closes its session with a Cease
// notification); a no-op when it is not running.
func (b *BIRD) Stop() {
	if b.proc == nil {
		return
	}
	b.proc.Stop()
	b.proc = nil
	os.Remove(b.sock())
}

// Birdc runs a birdc command against the daemon and returns its output.
func (b *BIRD) Birdc(args ...string) string {
	b.t.Helper()
	_, c := Need(b.t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c, append([]string{"-s", b.sock()}, args...)...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("birdc %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Reconfigure makes the running daemon export routes instead (and take
// changed Password, AddPathTx or Passive settings; a changed session
// setting restarts the session).
func (b *BIRD) Reconfigure(routes []Route) {
	b.t.Helper()
	b.WriteConfig(routes)
	// "Reconfiguration in progress" when protocols restart (a session
	// setting changed, a static protocol was removed).
	if out := b.Birdc("configure"); !strings.Contains(out, "Reconfigured") && !strings.Contains(out, "Reconfiguration in progress") {
		b.t.Fatalf("birdc configure: %s", out)
	}
}

// Imported returns birdc's count of the routes the daemon holds and how
// many of them came from bgpwatch, e.g. "Total: 0 of 59 routes for 59
// networks in 2 tables".
func (b *BIRD) Imported() string {
	return strings.TrimSpace(b.Birdc("show", "route", "protocol", "bw", "count"))
}
