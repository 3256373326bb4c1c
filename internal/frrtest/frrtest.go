// Package frrtest runs a real FRRouting bgpd with its BMP module for
// bgpwatch's BMP tests: one daemon per test, in its own directory with
// its own configuration, pid file, zebra and vty socket paths (no zebra,
// no systemd, no kernel routes), listening for BGP on its own loopback
// address and streaming its pre-policy Adj-RIB-In to a BMP station.
//
// Need skips a test when FRR is not installed, and fails it under
// CI=true, where scripts/install-deps must have installed frr.
package frrtest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bgpwatch/bgpwatch/internal/daemontest"
)

// Bgpd is the path of FRR's BGP daemon as Debian installs it.
const Bgpd = "/usr/lib/frr/bgpd"

// Need returns the bgpd path, or skips the test (fails it under CI=true)
// when FRR or its BMP module is missing.
func Need(t testing.TB) string {
	t.Helper()
	_, err := os.Stat(Bgpd)
	if err == nil {
		_, err = os.Stat("/usr/lib/x86_64-linux-gnu/frr/modules/bgpd_bmp.so")
		if os.IsNotExist(err) {
			matches, _ := filepath.Glob("/usr/lib/*/frr/modules/bgpd_bmp.so")
			if len(matches) > 0 {
				err = nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FRR with its BMP module is required under CI (scripts/install-deps installs frr): %v", err)
		}
		t.Skip("FRR not installed (apt-get install frr); skipping BMP router test")
	}
	return Bgpd
}

// Neighbor is a BGP peer of the daemon; the daemon waits for it to
// connect (passive).
type Neighbor struct {
	Addr netip.Addr
	ASN  uint32
}

// FRR is one bgpd run by a test.
type FRR struct {
	t    testing.TB
	dir  string
	addr netip.Addr
	asn  uint32
	port uint16
	bmp  netip.AddrPort
	proc *daemontest.Process // the last started; nil before Start
}

// New prepares a daemon with router id and listening address addr (a
// loopback address such as 127.0.0.21), ASN asn, sending BMP to the
// station at bmp. It listens for BGP on a free port of addr (Port).
func New(t testing.TB, addr netip.Addr, asn uint32, bmp netip.AddrPort) *FRR {
	t.Helper()
	dir, err := os.MkdirTemp("", "bw-frr")
	if err != nil {
		t.Fatal(err)
	}
	f := &FRR{t: t, dir: dir, addr: addr, asn: asn, port: daemontest.FreePort(t, addr), bmp: bmp}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() && f.proc != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "bgpd.log"))
			t.Logf("FRR %s output:\n%s\nlog:\n%s", addr, f.proc.Output(), log)
		}
		os.RemoveAll(dir)
	})
	return f
}

// Addr is the daemon's address; Port its BGP port there; ASN its ASN.
func (f *FRR) Addr() netip.Addr { return f.addr }

// Port is the daemon's BGP listening port.
func (f *FRR) Port() uint16 { return f.port }

// ASN is the daemon's ASN.
func (f *FRR) ASN() uint32 { return f.asn }

// Start writes the configuration (neighbors passive, eBGP without
// policies, loopback next hops accepted (they are martians otherwise), BMP to the station with pre-policy monitoring of both
// families, reconnecting after 100 ms to 1 s) and runs the daemon.
func (f *FRR) Start(neighbors ...Neighbor) {
	f.t.Helper()
	bin := Need(f.t)
	conf := fmt.Sprintf("frr defaults traditional\nhostname frr-%[1]s\nlog file %[2]s/bgpd.log\n!\nrouter bgp %[3]d\n bgp router-id %[1]s\n no bgp ebgp-requires-policy\n no bgp network import-check\n bgp allow-martian-nexthop\n",
		f.addr, f.dir, f.asn)
	for _, n := range neighbors {
		conf += fmt.Sprintf(" neighbor %[1]s remote-as %[2]d\n neighbor %[1]s passive\n neighbor %[1]s ebgp-multihop 2\n neighbor %[1]s timers connect 1\n", n.Addr, n.ASN)
	}
	// Pre-policy monitoring reads the Adj-RIB-In that FRR keeps only
	// with soft-reconfiguration inbound: without it every route is
	// reported as withdrawn.
	for _, af := range []string{"ipv4", "ipv6"} {
		conf += " address-family " + af + " unicast\n"
		for _, n := range neighbors {
			conf += fmt.Sprintf("  neighbor %[1]s activate\n  neighbor %[1]s soft-reconfiguration inbound\n", n.Addr)
		}
		conf += " exit-address-family\n"
	}
	conf += fmt.Sprintf(" !\n bmp targets bgpwatch\n  bmp connect %s port %d min-retry 100 max-retry 1000\n  bmp monitor ipv4 unicast pre-policy\n  bmp monitor ipv6 unicast pre-policy\n exit\n!\n",
		f.bmp.Addr(), f.bmp.Port())
	path := filepath.Join(f.dir, "bgpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		f.t.Fatal(err)
	}
	// As root bgpd would switch to the frr user: -S keeps it as it is
	// (it needs no privilege on a high port and its own files).
	cmd := exec.Command(bin, "-f", path, "-i", filepath.Join(f.dir, "bgpd.pid"), "-z", filepath.Join(f.dir, "zserv.api"),
		"--vty_socket", f.dir, "-P", "0", "-M", "bmp", "-Z", "-S", "-n",
		"-l", f.addr.String(), "-p", fmt.Sprint(f.port))
	f.proc = daemontest.Start(f.t, cmd, filepath.Join(f.dir, "bgpd.log"),
		daemontest.Dials("tcp", netip.AddrPortFrom(f.addr, f.port).String()))
}

// Stop terminates the daemon; a no-op when it is not running.
func (f *FRR) Stop() {
	if f.proc != nil {
		f.proc.Stop()
	}
}
