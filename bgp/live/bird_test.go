package live_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bird is one BIRD 2 daemon run by a test, with its own config file and
// control socket, peering from its own loopback address.
type bird struct {
	t      *testing.T
	dir    string
	addr   netip.Addr
	asn    uint32
	remote netip.AddrPort // bgpwatch's listener
	cmd    *exec.Cmd
	exited chan struct{}
}

// birdRoute is one static route BIRD exports, with the origin ASN it
// prepends (0: BIRD's own ASN is the origin).
type birdRoute struct {
	Prefix netip.Prefix
	Origin uint32
}

// needBIRD returns the BIRD binaries or skips (fails under CI=true).
func needBIRD(t *testing.T) (birdBin, birdc string) {
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
		// BIRD needs CAP_NET_BIND_SERVICE only for low ports; we use high
		// ports, but it also wants to set socket options as root.
		t.Log("not root: BIRD may fail to start")
	}
	return b, c
}

func statErr(p string) error { _, err := os.Stat(p); return err }

func newBird(t *testing.T, addr netip.Addr, asn uint32, remote netip.AddrPort) *bird {
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
	b := &bird{t: t, dir: dir, addr: addr, asn: asn, remote: remote}
	t.Cleanup(b.stop)
	return b
}

func (b *bird) sock() string { return filepath.Join(b.dir, "bird.ctl") }

// writeConfig writes BIRD's configuration: the national routes (exported
// with the national ASN prepended, so it is their origin) and background.
func (b *bird) writeConfig(routes []birdRoute) {
	b.t.Helper()
	var st4, st6 strings.Builder
	for _, r := range routes {
		line := fmt.Sprintf("\troute %s blackhole { bgp_path.prepend(%d); };\n", r.Prefix, r.Origin)
		if r.Origin == 0 {
			line = fmt.Sprintf("\troute %s blackhole;\n", r.Prefix)
		}
		if r.Prefix.Addr().Is4() {
			st4.WriteString(line)
		} else {
			st6.WriteString(line)
		}
	}
	conf := fmt.Sprintf(`
router id %[1]s;
log "%[2]s/bird.log" all;
protocol device { scan time 60; }
protocol static s4 {
	ipv4 { import all; };
%[3]s}
protocol static s6 {
	ipv6 { import all; };
%[4]s}
protocol bgp bw {
	local %[1]s as %[5]d;
	neighbor %[6]s port %[7]d as 65000;
	connect delay time 1;
	connect retry time 1;
	error wait time 1, 2;
	hold time 30;
	multihop;
	strict bind;
	ipv4 { import all; export all; };
	ipv6 { import all; export all; next hop address 2001:db8:ffff::%[8]d; };
}
`, b.addr, b.dir, st4.String(), st6.String(), b.asn, b.remote.Addr(), b.remote.Port(), b.addr.As4()[3])
	if err := os.WriteFile(filepath.Join(b.dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bird) start() {
	b.t.Helper()
	bin, _ := needBIRD(b.t)
	cmd := exec.Command(bin, "-f", "-c", filepath.Join(b.dir, "bird.conf"), "-s", b.sock(), "-P", filepath.Join(b.dir, "bird.pid"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start bird: %v", err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	go func() { cmd.Wait(); close(b.exited) }()
	// Wait for the control socket.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", b.sock()); err == nil {
			c.Close()
			return
		}
		select {
		case <-b.exited:
			log, _ := os.ReadFile(filepath.Join(b.dir, "bird.log"))
			b.t.Fatalf("bird exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("bird control socket did not appear: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop terminates BIRD (it closes its session with a Cease notification).
func (b *bird) stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
	os.Remove(b.sock())
}

// birdc runs a BIRD client command.
func (b *bird) birdc(args ...string) string {
	b.t.Helper()
	_, c := needBIRD(b.t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c, append([]string{"-s", b.sock()}, args...)...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("birdc %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// reconfigure applies new routes to the running daemon.
func (b *bird) reconfigure(routes []birdRoute) {
	b.t.Helper()
	b.writeConfig(routes)
	if out := b.birdc("configure"); !strings.Contains(out, "Reconfigured") {
		b.t.Fatalf("birdc configure: %s", out)
	}
}

// imported returns how many routes BIRD imported from bgpwatch.
func (b *bird) imported() string {
	out := b.birdc("show", "route", "protocol", "bw", "count")
	return strings.TrimSpace(out)
}
