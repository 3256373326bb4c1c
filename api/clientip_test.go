package api

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusting := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	plain := New(Config{})
	cases := []struct {
		name   string
		s      *Server
		remote string
		xff    []string
		want   string
	}{
		{"no proxy trusted: header ignored", plain, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted proxy", trusting, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"right-most untrusted hop", trusting, "10.1.2.3:5000", []string{"198.51.100.7, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"spoofed left hop ignored", trusting, "10.1.2.3:5000", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{"untrusted remote: header ignored", trusting, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"garbage header", trusting, "10.1.2.3:5000", []string{"not-an-ip"}, "10.1.2.3"},
		{"ipv6 proxy", trusting, "[::1]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"mapped ipv4", plain, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
		{"bad remote", plain, "garbage", nil, "0.0.0.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.s.clientIP(r).String(); got != c.want {
				t.Errorf("clientIP = %s, want %s", got, c.want)
			}
		})
	}
}
