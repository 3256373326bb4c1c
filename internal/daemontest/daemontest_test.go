package daemontest

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestStartStop runs a shell as the daemon: Start waits until it has
// written its ready file and keeps its output, Stop ends it with SIGTERM
// (well before the SIGKILL fallback) and is a no-op the second time.
func TestStartStop(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ready := filepath.Join(t.TempDir(), "ready")
	p := Start(t, exec.Command(sh, "-c", `echo started; sleep 0.2; : > "$0"; exec sleep 60`, ready), "", func() bool {
		return fileExists(ready)
	})
	if !fileExists(ready) {
		t.Fatal("Start returned before the daemon was ready")
	}
	t0 := time.Now()
	p.Stop()
	if took := time.Since(t0); took >= stopWithin {
		t.Errorf("Stop took %s: SIGTERM did not end the daemon", took)
	}
	select {
	case <-p.exited:
	default:
		t.Fatal("Stop returned with the daemon running")
	}
	p.Stop()
	if got := p.Output(); got != "started\n" {
		t.Errorf("output %q, want %q", got, "started\n")
	}
}

func TestFreePortAndDials(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	port := FreePort(t, lo)
	addr := netip.AddrPortFrom(lo, port).String()
	if Dials("tcp", addr)() {
		t.Fatalf("%s accepts before anything listens", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free port %d: %v", port, err)
	}
	defer l.Close()
	if !Dials("tcp", addr)() {
		t.Errorf("%s does not accept while listening", addr)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
