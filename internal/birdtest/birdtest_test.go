package birdtest_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/birdtest"
)

// TestBIRDDaemon starts a daemon whose neighbor is a plain TCP listener,
// checks that it connects from its own address, exports the configured
// static routes, takes a new route set on Reconfigure, and stops.
func TestBIRDDaemon(t *testing.T) {
	birdtest.Need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	remote := netip.MustParseAddrPort(l.Addr().String())
	b := birdtest.New(t, netip.MustParseAddr("127.0.0.9"), 64999, remote)
	if b.Addr() != netip.MustParseAddr("127.0.0.9") || b.ASN() != 64999 {
		t.Fatalf("addr %v asn %d", b.Addr(), b.ASN())
	}
	routes := []birdtest.Route{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Origin: 64510},
		{Prefix: netip.MustParsePrefix("2001:db8:1::/48")},
	}
	b.WriteConfig(routes)
	b.Start()
	// BIRD connects to the listener from its own address (strict bind).
	l.(*net.TCPListener).SetDeadline(time.Now().Add(15 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("no connection from BIRD: %v", err)
	}
	c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.9" {
		t.Errorf("BIRD connected from %s", got)
	}
	if out := b.Birdc("show", "route", "count"); !strings.Contains(out, "2 of 2 routes") {
		t.Errorf("routes: %s", out)
	}
	if out := b.Birdc("show", "route", "10.1.0.0/16", "all"); !strings.Contains(out, "64510") {
		t.Errorf("origin not prepended: %s", out)
	}
	b.Reconfigure(routes[:1])
	if out := b.Birdc("show", "route", "count"); !strings.Contains(out, "1 of 1 routes") {
		t.Errorf("routes after Reconfigure: %s", out)
	}
	if got := b.Imported(); !strings.Contains(got, "Total: 0 of 1 routes") {
		t.Errorf("Imported = %q", got)
	}
	b.Stop()
	b.Stop() // idempotent
}
