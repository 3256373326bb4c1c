// Package netguard keeps outgoing connections that a user chose the target
// of (webhook receivers) away from internal addresses: loopback, private
// and unique-local networks, link-local (cloud metadata services live at
// 169.254.169.254), multicast, unspecified, carrier-grade NAT and the
// reserved IPv4 ranges, in every spelling (IPv4-mapped and NAT64 IPv6,
// decimal, hexadecimal and octal IPv4). The check belongs on the address
// actually dialled (Dialer's Control), after name resolution, so that a
// name resolving to an internal address (localhost, DNS rebinding) is
// caught as well as a literal.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ErrForbidden marks a refused destination; the *Error carries the range.
var ErrForbidden = errors.New("destination address refused")

// Error says why an address is refused. Its text names the kind of range,
// not the address: a delivery log must not become a map of what a name
// resolves to inside the network.
type Error struct {
	Range string // "loopback", "private", ...
}

func (e *Error) Error() string {
	return "destination is a " + e.Range + " address: internal addresses are refused (allow private receivers to permit it)"
}

// Is makes errors.Is(err, ErrForbidden) hold.
func (e *Error) Is(target error) bool { return target == ErrForbidden }

var ranges = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\")"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local (private)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (private)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
}

// IPv6 ranges that carry an IPv4 address.
var (
	v4Compat  = netip.MustParsePrefix("::/96")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64 (RFC 8215), IPv4 in the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Check returns an *Error when a is an internal address, else nil. IPv6
// forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
// IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
// 2002::/16) are judged by that address.
func Check(a netip.Addr) error {
	a = a.WithZone("")
	if a.Is6() {
		b := a.As16()
		switch {
		case a.Is4In6():
			return Check(a.Unmap())
		case v4Compat.Contains(a) && !a.IsUnspecified() && a != netip.IPv6Loopback():
			return Check(netip.AddrFrom4([4]byte(b[12:16]))) // IPv4-compatible (deprecated)
		case nat64.Contains(a), nat64Loc.Contains(a):
			return Check(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return Check(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, r := range ranges {
		if r.p.Contains(a) {
			return &Error{Range: r.name}
		}
	}
	return nil
}

// Control is a net.Dialer Control function that refuses internal
// destinations: it sees the address about to be connected to, after DNS.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable destination", ErrForbidden)
	}
	return Check(ap.Addr())
}

// ParseHost reads a URL host (without port; IPv6 without brackets) as an
// IP address the way resolvers do (inet_aton): besides the usual forms,
// IPv4 as one to four parts, each decimal, hexadecimal (0x) or octal
// (leading 0): "2130706433", "0x7f000001", "0177.0.0.1", "127.1". ok is
// false for a name.
func ParseHost(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	h := strings.TrimSuffix(host, ".")
	parts := strings.Split(h, ".")
	if len(parts) > 4 || h == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// The last part fills the remaining bytes.
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func atonPart(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	v, err := strconv.ParseUint(p, base, 32)
	return v, err == nil
}
