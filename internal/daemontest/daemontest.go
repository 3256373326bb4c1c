// Package daemontest runs the routing daemons of bgpwatch's tests (BIRD
// in birdtest, FRR's bgpd in frrtest) as processes: in a process group of
// their own, waited for until they are ready, stopped with SIGTERM (then
// SIGKILL), their output kept for the test's log.
package daemontest

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Timeouts of Start and Stop.
const (
	readyWithin = 10 * time.Second
	stopWithin  = 5 * time.Second
)

// FreePort returns a TCP port of addr that is free at the time of the
// call. Daemons listen there rather than on 179, so that the daemons of
// test binaries running at the same time on one address do not collide.
func FreePort(t testing.TB, addr netip.Addr) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("daemontest: address %s: %v", addr, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// Dials returns a readiness check for Start: address accepts a connection
// on network ("unix" for a control socket, "tcp" for a BGP listener).
func Dials(network, address string) func() bool {
	return func() bool {
		c, err := net.Dial(network, address)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// Process is a daemon started by Start.
type Process struct {
	cmd    *exec.Cmd
	out    bytes.Buffer // written by exec's copying goroutine until exited
	exited chan struct{}
}

// Start runs cmd in a process group of its own, keeping its standard
// output and error (Output), and checks ready every 20 ms until it holds.
// It fails the test, with the output and the content of the daemon's log
// file logPath, when the daemon exits first or is not ready within 10 s
// (then it is killed first, so that its output can be read).
func Start(t testing.TB, cmd *exec.Cmd, logPath string, ready func() bool) *Process {
	t.Helper()
	name := filepath.Base(cmd.Path)
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(readyWithin)
	for !ready() {
		select {
		case <-p.exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited: %s\n%s", name, p.Output(), log)
		default:
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			<-p.exited
			t.Fatalf("%s not ready after %s: %s", name, readyWithin, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// Output is what the daemon wrote on its standard output and error; read
// it once the daemon has exited (Stop).
func (p *Process) Output() string { return p.out.String() }

// Stop terminates the daemon (SIGTERM; SIGKILL after 5 s) and waits for
// it to exit; a no-op when it has exited.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopWithin):
		p.cmd.Process.Kill()
		<-p.exited
	}
}
