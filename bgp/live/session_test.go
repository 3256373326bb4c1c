package live_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/internal/birdtest"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// consumer takes the speaker's observations as the pipeline does: it
// records each one and applies it to a visibility engine, whose view
// (prefixes per session, visible prefixes per origin) the tests check.
type consumer struct {
	mu   sync.Mutex
	obs  []bgpwatch.Observation
	eng  *visibility.Engine
	step time.Duration
}

func consume(t *testing.T, ch <-chan bgpwatch.Observation) *consumer {
	c := &consumer{step: 100 * time.Millisecond}
	c.eng = visibility.New(visibility.Config{Step: c.step}, nil)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case o := <-ch:
				c.mu.Lock()
				c.obs = append(c.obs, o)
				c.eng.AdvanceTo(o.Time, func(*bgpwatch.Bin) error { return nil })
				c.eng.Apply(&o)
				c.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
	return c
}

// of returns the observations of the session with addr so far.
func (c *consumer) of(addr netip.Addr) []bgpwatch.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bgpwatch.Observation
	for _, o := range c.obs {
		if o.Peer.Addr == addr {
			out = append(out, o)
		}
	}
	return out
}

// view closes the engine's open bin (visibility follows the full-feed
// sessions, evaluated at bin close) and returns the session's table size
// (IPv4, IPv6) and the prefixes visible for origin.
func (c *consumer) view(addr netip.Addr, origin bgpwatch.ASN) (v4, v6 int, visible []netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eng.AdvanceTo(time.Now().Add(c.step), func(*bgpwatch.Bin) error { return nil })
	for _, p := range c.eng.Peers() {
		if p.Peer.Addr == addr {
			v4, v6 = p.V4, p.V6
		}
	}
	return v4, v6, c.eng.VisiblePrefixes(origin)
}

// table replays a session's observations into its current routes: "prefix
// AS<origin>" per (prefix, path id), sorted, path ids written "#id" when
// not 0.
func table(obs []bgpwatch.Observation) []string {
	type key struct {
		p  netip.Prefix
		id uint32
	}
	rib := map[key]bgpwatch.ASN{}
	for _, o := range obs {
		switch o.Kind {
		case bgpwatch.Announce:
			rib[key{o.Prefix, o.PathID}] = o.Origin
		case bgpwatch.Withdraw:
			delete(rib, key{o.Prefix, o.PathID})
		case bgpwatch.PeerDown:
			clear(rib)
		}
	}
	out := make([]string, 0, len(rib))
	for k, origin := range rib {
		s := fmt.Sprintf("%s AS%d", k.p, origin)
		if k.id != 0 {
			s += fmt.Sprintf(" #%d", k.id)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func routeStrings(routes []birdtest.Route) []string {
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		out = append(out, fmt.Sprintf("%s AS%d", r.Prefix, r.Origin))
	}
	slices.Sort(out)
	return out
}

// sessionSpeaker starts a speaker listening on 127.0.0.1:port (AS 65000)
// with neighbors, and a consumer of its observations.
func sessionSpeaker(t *testing.T, port uint16, neighbors []live.Neighbor) (*live.Speaker, *consumer, *logRecorder) {
	t.Helper()
	obs := make(chan bgpwatch.Observation, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rec := newLogRecorder(t)
	sp, err := live.Start(ctx, live.Config{
		ASN: 65000, RouterID: netip.MustParseAddr("127.0.0.1"),
		ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
		Neighbors: neighbors, ConnectRetry: time.Second, Logger: slog.New(rec),
	}, obs)
	if err != nil {
		// With a key, Start fails when gobgp cannot set it on its
		// listener, e.g. when the kernel refuses TCP_MD5SIG.
		t.Fatalf("speaker: %v", err)
	}
	c := consume(t, obs)
	t.Cleanup(sp.Stop) // before the consumer stops (cleanups run last first)
	return sp, c, rec
}

func sessionOf(sp *live.Speaker, addr netip.Addr) live.Session {
	for _, s := range sp.Sessions() {
		if s.Peer.Addr == addr {
			return s
		}
	}
	return live.Session{}
}

func birdState(b *birdtest.BIRD) string {
	for _, l := range strings.Split(b.Birdc("show", "protocols", "bw"), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && f[0] == "bw" {
			return strings.Join(f[5:], " ")
		}
	}
	return "?"
}

// TestBIRDPasswordSession peers with BIRD daemons whose sessions carry a
// TCP MD5 signature (RFC 2385, BIRD's "password"), in both directions:
// BIRD connecting to bgpwatch's listener (Passive neighbors; gobgp sets
// the key on its listening socket) and bgpwatch connecting to a passive
// BIRD (gobgp sets it on the connecting socket). With the same key both
// sessions establish and bgpwatch observes exactly the daemon's routes.
// With a wrong key (and with none on bgpwatch's side), no session
// establishes and nothing is observed from those daemons, while the
// other sessions carry on; once the daemon's key is changed to
// bgpwatch's, the same session establishes, so the key was what stopped
// it. The kernel must support TCP_MD5SIG: the test fails, never skips,
// when it does not.
//
// Go 1.24+ listeners are Multipath TCP sockets, on which Linux refuses
// TCP_MD5SIG: before the speaker turned them off (noMPTCPListeners),
// gobgp only logged "failed to set md5" and the sessions BIRD connects
// never established; Start now fails when a key cannot be set.
func TestBIRDPasswordSession(t *testing.T) {
	birdtest.Need(t)
	const key, wrongKey = "bgpwatch-md5-test key", "not the key"
	type tcase struct {
		name        string
		addr        netip.Addr
		asn         bgpwatch.ASN
		birdKey     string
		bgpwatchKey string
		passive     bool // bgpwatch waits for BIRD to connect
		ok          bool
	}
	cases := []tcase{
		{"right key, BIRD connects", netip.MustParseAddr("127.0.0.41"), 65041, key, key, true, true},
		{"right key, bgpwatch connects", netip.MustParseAddr("127.0.0.42"), 65042, key, key, false, true},
		{"wrong key, BIRD connects", netip.MustParseAddr("127.0.0.43"), 65043, key, wrongKey, true, false},
		{"wrong key, bgpwatch connects", netip.MustParseAddr("127.0.0.44"), 65044, key, wrongKey, false, false},
		{"no key on bgpwatch", netip.MustParseAddr("127.0.0.45"), 65045, key, "", true, false},
	}
	routesOf := func(i int) []birdtest.Route {
		return []birdtest.Route{
			{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.41.%d.0/24", i)), Origin: 64600 + uint32(i)},
			{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.42.%d.0/23", 2*i)), Origin: 64700 + uint32(i)},
			{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8:41:%d::/64", i)), Origin: 64600 + uint32(i)},
		}
	}
	// The daemons listen on free ports of their own: the speaker's
	// neighbors need them before it starts, so create the daemons
	// first, against a listener port chosen in advance.
	port := freePort(t, "127.0.0.1")
	remote := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	birds := make([]*birdtest.BIRD, len(cases))
	var neighbors []live.Neighbor
	for i, c := range cases {
		b := birdtest.New(t, c.addr, uint32(c.asn), remote)
		b.Password, b.Passive = c.birdKey, !c.passive
		b.WriteConfig(routesOf(i))
		birds[i] = b
		n := live.Neighbor{Address: c.addr, ASN: c.asn, Passive: c.passive, Password: c.bgpwatchKey}
		if !c.passive {
			n.Port = b.Port()
		}
		neighbors = append(neighbors, n)
	}
	sp, cons, logs := sessionSpeaker(t, port, neighbors)
	t0 := time.Now()
	for _, b := range birds {
		b.Start()
	}
	established := func(i int) bool { return sessionOf(sp, cases[i].addr).State == "established" }
	var took []string
	for i, c := range cases {
		if !c.ok {
			continue
		}
		want := routeStrings(routesOf(i))
		deadline := time.Now().Add(10 * time.Second)
		for !established(i) || !slices.Equal(table(cons.of(c.addr)), want) {
			if time.Now().After(deadline) {
				// gobgp logs its failures to set a key (on a listener, or
				// on a connecting socket: "setsockopt").
				t.Fatalf("%s: no session with BIRD's routes within 10 s: session %+v, observed %v, want %v; does the kernel refuse TCP_MD5SIG? gobgp: %q",
					c.name, sessionOf(sp, c.addr), brief(cons.of(c.addr)), want, append(logs.matching("md5"), logs.matching("setsockopt")...))
			}
			time.Sleep(10 * time.Millisecond)
		}
		obs := cons.of(c.addr)
		took = append(took, fmt.Sprintf("%s: established after %v, routes after %v", c.name,
			sessionOf(sp, c.addr).Since.Sub(t0).Round(time.Millisecond), obs[len(obs)-1].Time.Sub(t0).Round(time.Millisecond)))
	}
	// The sessions with a wrong key get 5 s from the daemons' start, as
	// long as the right ones took to establish and send their routes (BIRD
	// waits 3 s after Established before its first UPDATE) or longer:
	// both sides try to connect every second.
	time.Sleep(time.Until(t0.Add(5 * time.Second)))
	for i, c := range cases {
		s := sessionOf(sp, c.addr)
		obs := cons.of(c.addr)
		t.Logf("%s: bgpwatch %s (established %d times, %d routes), BIRD %s, %d observations",
			c.name, s.State, s.Established, s.Updates, birdState(birds[i]), len(obs))
		if c.ok {
			want := routeStrings(routesOf(i))
			if s.State != "established" || s.Established != 1 || s.Updates != int64(len(want)) || !slices.Equal(table(obs), want) {
				t.Errorf("%s: session %+v, observed %v, want %v", c.name, s, brief(obs), want)
			}
			rs := routesOf(i)
			v4, v6, vis := cons.view(c.addr, bgpwatch.ASN(rs[0].Origin))
			_, _, vis2 := cons.view(c.addr, bgpwatch.ASN(rs[1].Origin))
			if v4 != 2 || v6 != 1 || !slices.Equal(vis, []netip.Prefix{rs[0].Prefix, rs[2].Prefix}) || !slices.Equal(vis2, []netip.Prefix{rs[1].Prefix}) {
				t.Errorf("%s: engine: %d IPv4 and %d IPv6 prefixes, visible for AS%d %v, for AS%d %v", c.name, v4, v6, rs[0].Origin, vis, rs[1].Origin, vis2)
			}
			continue
		}
		if s.State == "established" || s.Established != 0 || s.Updates != 0 || len(obs) != 0 {
			t.Errorf("%s: session %+v, observed %v: want no session", c.name, s, brief(obs))
		}
		if st := birdState(birds[i]); strings.Contains(st, "Established") {
			t.Errorf("%s: BIRD: %s", c.name, st)
		}
	}
	st := sp.Stats()
	if st.Established != 2 {
		t.Errorf("speaker: %d establishments, want 2", st.Established)
	}
	if t.Failed() {
		return
	}
	// Control: the daemons with a different key get bgpwatch's; the same
	// sessions now establish.
	t1 := time.Now()
	for i, c := range cases {
		if c.ok {
			continue
		}
		birds[i].Password = c.bgpwatchKey
		birds[i].Reconfigure(routesOf(i))
	}
	for i, c := range cases {
		if c.ok {
			continue
		}
		want := routeStrings(routesOf(i))
		waitFor(t, 10*time.Second, c.name+": session and routes with bgpwatch's key", func() bool {
			return established(i) && slices.Equal(table(cons.of(c.addr)), want)
		})
	}
	t.Logf("%s; control sessions: established with routes %v after the key change", strings.Join(took, "; "), time.Since(t1).Round(time.Millisecond))
	for _, c := range cases {
		if s := sessionOf(sp, c.addr); s.State != "established" || s.Established != 1 {
			t.Errorf("%s: session %+v at the end", c.name, s)
		}
	}
}

// TestPasswordTooLong: Linux takes TCP MD5 keys of at most 80 bytes (as
// BIRD does); a longer one is a configuration error, not a session that
// silently never comes up.
func TestPasswordTooLong(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	for _, passive := range []bool{true, false} {
		sp, err := live.Start(context.Background(), live.Config{
			ASN: 65000, RouterID: netip.MustParseAddr("127.0.0.1"),
			ListenAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ListenPort: int32(port),
			Neighbors: []live.Neighbor{{Address: netip.MustParseAddr("127.0.0.46"), ASN: 65046, Passive: passive, Password: strings.Repeat("k", 81)}},
		}, make(chan bgpwatch.Observation, 1))
		if err == nil {
			sp.Stop()
			t.Fatalf("passive %v: an 81-byte key was accepted", passive)
		}
		if !errors.Is(err, bgpwatch.ErrInvalid) || !strings.Contains(err.Error(), "80 bytes") {
			t.Errorf("passive %v: %v", passive, err)
		}
	}
}

// briefIDs is brief with path ids ("#id" when not 0), sorted.
func briefIDs(obs []bgpwatch.Observation) []string {
	out := brief(obs)
	for i, o := range obs {
		if o.PathID != 0 {
			out[i] += fmt.Sprintf(" #%d", o.PathID)
		}
	}
	slices.Sort(out)
	return out
}

// pathIDs returns the path ids of prefix p in a table of table's form.
func pathIDs(tab []string, p netip.Prefix) []string {
	var out []string
	for _, r := range tab {
		f := strings.Fields(r)
		if f[0] == p.String() {
			id := "0"
			if len(f) == 3 {
				id = strings.TrimPrefix(f[2], "#")
			}
			out = append(out, id)
		}
	}
	return out
}

// TestBIRDAddPathSession: a BIRD daemon with "add paths tx" holds two
// paths for the same prefixes (one IPv4, one IPv6), from two static
// protocols, and sends both, each with its path id, to a neighbor that
// negotiated ADD-PATH receive (RFC 7911). bgpwatch (AddPath) observes
// both paths, with different non-zero path ids and the right origin, and
// its visibility engine counts each prefix once. Withdrawing one of the
// two paths withdraws exactly that path id, and the prefix stays in the
// session's table and visible; withdrawing the other one too removes it.
// A second daemon with the same configuration peers with a neighbor
// without AddPath: BIRD sends it one path per prefix (path id 0), and the
// same steps leave the same view. Each step also announces a fresh
// prefix, a marker that the step's UPDATEs have arrived.
func TestBIRDAddPathSession(t *testing.T) {
	birdtest.Need(t)
	const origin, other, marker = 64651, 64652, 64653
	addAddr, plainAddr := netip.MustParseAddr("127.0.0.51"), netip.MustParseAddr("127.0.0.52")
	pfx := netip.MustParsePrefix
	p4, p6, q := pfx("10.51.0.0/24"), pfx("2001:db8:51::/48"), pfx("10.51.1.0/24")
	m1, m2 := pfx("10.51.9.0/24"), pfx("10.51.10.0/24")
	// Step 0: p4 and p6 from both static protocols (two paths each), q
	// from one.
	routes := []birdtest.Route{
		{Prefix: p4, Origin: origin}, {Prefix: p6, Origin: origin}, {Prefix: q, Origin: other},
		{Prefix: p4, Origin: origin, Source: 1}, {Prefix: p6, Origin: origin, Source: 1},
	}
	// Step 1: the second protocol's paths go; marker m1 comes.
	step1 := append(slices.Clone(routes[:3]), birdtest.Route{Prefix: m1, Origin: marker})
	// Step 2: the first protocol's paths of p4 and p6 go too; m2 comes.
	step2 := []birdtest.Route{{Prefix: q, Origin: other}, {Prefix: m1, Origin: marker}, {Prefix: m2, Origin: marker}}

	port := freePort(t, "127.0.0.1")
	remote := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	sp, cons, logs := sessionSpeaker(t, port, []live.Neighbor{
		{Address: addAddr, ASN: 65051, Passive: true, AddPath: true},
		{Address: plainAddr, ASN: 65052, Passive: true},
	})
	// The listener is plain TCP even without passwords: gobgp can set
	// TTL 255 on it for neighbors using TTL security.
	if w := logs.matching("cannot set TTL"); len(w) > 0 {
		t.Errorf("listener: %v", w)
	}
	var birds []*birdtest.BIRD
	t0 := time.Now()
	for i, a := range []netip.Addr{addAddr, plainAddr} {
		b := birdtest.New(t, a, uint32(65051+i), remote)
		b.AddPathTx = true
		b.WriteConfig(routes)
		b.Start()
		birds = append(birds, b)
	}
	// BIRD holds two paths for p4 and p6 (else the test proves nothing).
	for _, b := range birds {
		for _, p := range []netip.Prefix{p4, p6} {
			waitFor(t, 5*time.Second, "two paths in BIRD", func() bool {
				// One line per route: "blackhole [s4 ...]", "blackhole [s4_1 ...]".
				return strings.Count(b.Birdc("show", "route", "for", p.String()), "blackhole [") == 2
			})
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, a := range []netip.Addr{addAddr, plainAddr} {
				t.Logf("%s: session %+v, observed %v", a, sessionOf(sp, a), briefIDs(cons.of(a)))
			}
		}
	})

	// current returns a session's path ids of p4 and p6 (replayed from
	// its observations) and its other routes, "prefix AS<origin>".
	type view struct {
		p4, p6 []string
		rest   []string
	}
	current := func(a netip.Addr) view {
		tab := table(cons.of(a))
		var v view
		v.p4, v.p6 = pathIDs(tab, p4), pathIDs(tab, p6)
		for _, r := range tab {
			if f := strings.Fields(r)[0]; f != p4.String() && f != p6.String() {
				v.rest = append(v.rest, strings.Join(strings.Fields(r)[:2], " "))
			}
		}
		return v
	}
	wantRest := func(rs []birdtest.Route) []string {
		var out []string
		for _, r := range rs {
			if r.Prefix != p4 && r.Prefix != p6 {
				out = append(out, fmt.Sprintf("%s AS%d", r.Prefix, r.Origin))
			}
		}
		slices.Sort(out)
		return out
	}
	// engine checks the visibility engine's view of session a: its table
	// sizes and the prefixes visible for each origin.
	engine := func(step string, a netip.Addr, v4, v6 int, visible []netip.Prefix) {
		t.Helper()
		gv4, gv6, vis := cons.view(a, origin)
		_, _, visOther := cons.view(a, other)
		if gv4 != v4 || gv6 != v6 || !slices.Equal(vis, visible) || !slices.Equal(visOther, []netip.Prefix{q}) {
			t.Errorf("%s: %s: engine holds %d IPv4 and %d IPv6 prefixes, visible for AS%d %v and for AS%d %v; want %d, %d, %v, [%s]",
				step, a, gv4, gv6, origin, vis, other, visOther, v4, v6, visible, q)
		}
	}
	stepDone := func(a netip.Addr, rs []birdtest.Route, paths int) func() bool {
		return func() bool {
			v := current(a)
			return len(v.p4) == paths && len(v.p6) == paths && slices.Equal(v.rest, wantRest(rs))
		}
	}

	// Step 0: both paths on the ADD-PATH session, one on the other.
	waitFor(t, 10*time.Second, "two paths of p4 and p6 on the ADD-PATH session", stepDone(addAddr, routes, 2))
	waitFor(t, 10*time.Second, "one path of p4 and p6 on the plain session", stepDone(plainAddr, routes, 1))
	for _, a := range []netip.Addr{addAddr, plainAddr} {
		obs := cons.of(a)
		t.Logf("step 0: %s: established after %v, first route after %v, table complete after %v", a,
			sessionOf(sp, a).Since.Sub(t0), obs[0].Time.Sub(t0), obs[len(obs)-1].Time.Sub(t0))
	}
	before := map[netip.Addr]int{addAddr: len(cons.of(addAddr)), plainAddr: len(cons.of(plainAddr))}
	v := current(addAddr)
	if v.p4[0] == "0" || v.p4[1] == "0" || v.p4[0] == v.p4[1] || v.p6[0] == "0" || v.p6[1] == "0" || v.p6[0] == v.p6[1] {
		t.Errorf("ADD-PATH session: path ids of %s %v, of %s %v: want two different non-zero ones each", p4, v.p4, p6, v.p6)
	}
	if got := briefIDs(cons.of(addAddr)); len(got) != 5 {
		t.Errorf("ADD-PATH session: observed %v, want 5 announcements", got)
	}
	for _, o := range cons.of(addAddr) {
		if o.Kind != bgpwatch.Announce || (o.Prefix == p4 || o.Prefix == p6) && o.Origin != origin {
			t.Errorf("ADD-PATH session: observed %v", brief([]bgpwatch.Observation{o}))
		}
	}
	if v := current(plainAddr); !slices.Equal(v.p4, []string{"0"}) || !slices.Equal(v.p6, []string{"0"}) {
		t.Errorf("plain session: path ids of %s %v, of %s %v: want one, 0", p4, v.p4, p6, v.p6)
	}
	if got := briefIDs(cons.of(plainAddr)); len(got) != 3 {
		t.Errorf("plain session: observed %v, want 3 announcements", got)
	}
	for _, a := range []netip.Addr{addAddr, plainAddr} {
		engine("step 0", a, 2, 1, []netip.Prefix{p4, p6})
	}

	// Step 1: one path of p4 and of p6 withdrawn.
	for _, b := range birds {
		b.Reconfigure(step1)
	}
	waitFor(t, 10*time.Second, "ADD-PATH session: one path withdrawn", stepDone(addAddr, step1, 1))
	waitFor(t, 10*time.Second, "plain session: marker", stepDone(plainAddr, step1, 1))
	time.Sleep(500 * time.Millisecond) // anything after the marker
	if !stepDone(addAddr, step1, 1)() || !stepDone(plainAddr, step1, 1)() {
		t.Errorf("step 1: tables changed after the marker")
	}
	gone := v // the withdrawn paths: step 0's less the remaining ones
	v1 := current(addAddr)
	if !slices.Contains(v.p4, v1.p4[0]) || !slices.Contains(v.p6, v1.p6[0]) {
		t.Errorf("ADD-PATH session: remaining path ids %v %v, not among %v %v", v1.p4, v1.p6, v.p4, v.p6)
	}
	gone.p4 = slices.DeleteFunc(slices.Clone(v.p4), func(id string) bool { return id == v1.p4[0] })
	gone.p6 = slices.DeleteFunc(slices.Clone(v.p6), func(id string) bool { return id == v1.p6[0] })
	// The markers come with a path id of their own on the ADD-PATH session.
	markerID := func(m netip.Prefix) string {
		ids := pathIDs(table(cons.of(addAddr)), m)
		if len(ids) != 1 || ids[0] == "0" {
			t.Errorf("ADD-PATH session: marker %s with path ids %v", m, ids)
			return ""
		}
		return " #" + ids[0]
	}
	want1 := []string{
		fmt.Sprintf("announce %s AS%d", m1, marker) + markerID(m1),
		"withdraw " + p4.String() + " #" + strings.Join(gone.p4, ""),
		"withdraw " + p6.String() + " #" + strings.Join(gone.p6, ""),
	}
	slices.Sort(want1)
	if got := briefIDs(cons.of(addAddr)[before[addAddr]:]); !slices.Equal(got, want1) {
		t.Errorf("step 1: ADD-PATH session observed %q, want %q", got, want1)
	}
	// The plain session may see the remaining path re-announced (when
	// the withdrawn one was BIRD's best), never a withdrawal.
	for _, o := range cons.of(plainAddr)[before[plainAddr]:] {
		if o.Kind != bgpwatch.Announce {
			t.Errorf("step 1: plain session observed %v", brief([]bgpwatch.Observation{o}))
		}
	}
	for _, a := range []netip.Addr{addAddr, plainAddr} {
		engine("step 1", a, 3, 1, []netip.Prefix{p4, p6})
	}

	// Step 2: the other path goes too.
	before = map[netip.Addr]int{addAddr: len(cons.of(addAddr)), plainAddr: len(cons.of(plainAddr))}
	for _, b := range birds {
		b.Reconfigure(step2)
	}
	waitFor(t, 10*time.Second, "ADD-PATH session: both paths withdrawn", stepDone(addAddr, step2, 0))
	waitFor(t, 10*time.Second, "plain session: both paths withdrawn", stepDone(plainAddr, step2, 0))
	time.Sleep(500 * time.Millisecond)
	if !stepDone(addAddr, step2, 0)() || !stepDone(plainAddr, step2, 0)() {
		t.Errorf("step 2: tables changed after the marker")
	}
	want2 := []string{
		fmt.Sprintf("announce %s AS%d", m2, marker) + markerID(m2),
		"withdraw " + p4.String() + " #" + v1.p4[0],
		"withdraw " + p6.String() + " #" + v1.p6[0],
	}
	slices.Sort(want2)
	if got := briefIDs(cons.of(addAddr)[before[addAddr]:]); !slices.Equal(got, want2) {
		t.Errorf("step 2: ADD-PATH session observed %q, want %q", got, want2)
	}
	want2p := []string{fmt.Sprintf("announce %s AS%d", m2, marker), "withdraw " + p4.String(), "withdraw " + p6.String()}
	slices.Sort(want2p)
	if got := briefIDs(cons.of(plainAddr)[before[plainAddr]:]); !slices.Equal(got, want2p) {
		t.Errorf("step 2: plain session observed %q, want %q", got, want2p)
	}
	for _, a := range []netip.Addr{addAddr, plainAddr} {
		engine("step 2", a, 3, 0, nil)
	}
	for _, a := range []netip.Addr{addAddr, plainAddr} {
		if s := sessionOf(sp, a); s.State != "established" || s.Established != 1 {
			t.Errorf("%s: session %+v at the end", a, s)
		}
	}
}
