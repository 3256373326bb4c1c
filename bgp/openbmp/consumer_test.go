package openbmp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

const topic = "openbmp.parsed.bmp_raw"

// captureMessages returns the BMP messages of the Cisco capture. With
// restamp, message i with a per-peer header gets the timestamp base+i s
// (one a second, for tests that need many bins).
func captureMessages(t *testing.T, restamp bool, base uint32) [][]byte {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "stream/bmp.cisco.peer_down.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ss, err := bmp.ReadCapture(f)
	if err != nil || len(ss) != 1 {
		t.Fatalf("capture: %v", err)
	}
	r := bmp.NewReaderBytes(ss[0].Data)
	var msgs [][]byte
	for i := 0; ; i++ {
		b, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m := slices.Clone(b)
		if restamp && bmp.HasPeer(m[5]) {
			binary.BigEndian.PutUint32(m[6+34:], base+uint32(i))
			binary.BigEndian.PutUint32(m[6+38:], 0)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func cluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

var testRouter = Header{Collector: "test-collector", RouterIP: netip.MustParseAddr("192.0.2.1"), RouterGroup: "lab",
	CollectorHash: [16]byte{1}, RouterHash: [16]byte{2}}

func produce(t *testing.T, c *kfake.Cluster, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Value: v})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func wrapAll(msgs [][]byte) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		h := testRouter
		h.Time = time.Unix(1705334000, 0)
		out = append(out, Append(nil, h, m))
	}
	return out
}

// key is an observation without its vantage point's name (a restarted
// consumer names the router by its address until an Initiation).
func key(o bgpwatch.Observation) string {
	return fmt.Sprintf("%s %d %s/AS%d %s %d %d", o.Time.Format(time.RFC3339Nano), o.Kind, o.Peer.Addr, o.Peer.ASN, o.Prefix, o.PathID, o.Origin)
}

// TestKafkaSameAsStation: the capture's messages through kfake as
// OpenBMP records give the same observations as the capture's byte
// stream through the TCP station.
func TestKafkaSameAsStation(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	ribs := bmp.DefaultRIBs.With(bmp.LocRIB).With(bmp.AdjRIBInPost)

	// The station's clock is the capture's, as the records' collector
	// time is: both take the same router times (or replace the same).
	st, err := bmp.Listen(bmp.StationConfig{Listen: "127.0.0.1:0", RIBs: ribs, Now: func() time.Time { return time.Unix(1705334000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sout := make(chan bgpwatch.Observation, 1024)
	go st.Run(ctx, sout)
	conn, err := netDial(st.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		conn.Write(m)
	}
	want := receive(t, sout, 75)

	c := cluster(t)
	produce(t, c, wrapAll(msgs)...)
	cons, err := New(Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "g1", FromStart: true, RIBs: ribs})
	if err != nil {
		t.Fatal(err)
	}
	kout := make(chan bgpwatch.Observation, 1024)
	go cons.Run(ctx, kout)
	got := receive(t, kout, len(want))
	conn.Close()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("observation %d: kafka %v, station %v", i, got[i], want[i])
		}
	}
	// The records after the last observation (routes that give none,
	// statistics, peer down) may still be on their way when it arrives.
	// (A record is counted before it is decoded.)
	routed := func(rs []bmp.RouterStatus) bool {
		return len(rs) == 1 && rs[0].Counters.Messages[bmp.TypeRouteMonitoring] == 301
	}
	s, rs := cons.Stats(), cons.Routers()
	for deadline := time.Now().Add(10 * time.Second); (s.Records < int64(len(msgs)) || !routed(rs)) && time.Now().Before(deadline); s, rs = cons.Stats(), cons.Routers() {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Records != int64(len(msgs)) || s.Malformed != 0 {
		t.Errorf("stats %+v, want %d records, none malformed", s, len(msgs))
	}
	if len(rs) != 1 || rs[0].Name != "ipf-zbl1327-r-daisy-90" || rs[0].Remote != "test-collector/192.0.2.1" || rs[0].Counters.Messages[bmp.TypeRouteMonitoring] != 301 {
		t.Errorf("routers %+v", rs)
	}
	cons.Close(context.Background())
}

func receive(t *testing.T, ch <-chan bgpwatch.Observation, n int) []bgpwatch.Observation {
	t.Helper()
	var out []bgpwatch.Observation
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case o := <-ch:
			out = append(out, o)
		case <-timeout:
			t.Fatalf("%d of %d observations after 10 s", len(out), n)
		}
	}
	return out
}

// recPipe stands in for live ingest's pipeline: an observation counts as
// stored once an Advance passed the end of its bin, as bins are written.
type recPipe struct {
	step            time.Duration
	mu              sync.Mutex
	applied, stored []bgpwatch.Observation
}

func (p *recPipe) Observe(_ context.Context, o *bgpwatch.Observation) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applied = append(p.applied, *o)
	return nil
}

func (p *recPipe) Advance(_ context.Context, t time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := t.Truncate(p.step)
	n := 0
	for n < len(p.applied) && p.applied[n].Time.Before(cut) {
		n++
	}
	p.stored = append(p.stored, p.applied[:n]...)
	p.applied = p.applied[n:]
	return nil
}

func (p *recPipe) Close(context.Context) error { return nil }

// run consumes with group g until stop(observations taken) says so, then
// advances the pipeline to last and closes it as serve does at shutdown.
func run(t *testing.T, c *kfake.Cluster, g string, every int, stop func(n int) bool, last func(seen []bgpwatch.Observation) time.Time) []bgpwatch.Observation {
	t.Helper()
	cons, err := New(Config{Brokers: c.ListenAddrs(), TopicRegex: `^openbmp\..*bmp_raw$`, Group: g, FromStart: true,
		RIBs: bmp.DefaultRIBs.With(bmp.LocRIB)})
	if err != nil {
		t.Fatal(err)
	}
	rp := &recPipe{step: 10 * time.Second}
	p := cons.Wrap(rp, rp.step)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan bgpwatch.Observation)
	done := make(chan struct{})
	go func() { cons.Run(ctx, out); close(done) }()
	var seen []bgpwatch.Observation
	idle := time.NewTimer(3 * time.Second)
	for !stop(len(seen)) {
		select {
		case o := <-out:
			seen = append(seen, o)
			p.Observe(ctx, &o)
			if every > 0 && len(seen)%every == 0 {
				p.Advance(ctx, o.Time) // bins before o's close
			}
			idle.Reset(3 * time.Second)
		case <-idle.C:
			t.Fatalf("no observation for 3 s after %d", len(seen))
		}
	}
	p.Advance(ctx, last(seen))
	cancel()
	<-done
	p.Close(context.Background())
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.stored
}

// TestKafkaRestart: a consumer stopped in the middle and started again
// in the same group stores every observation exactly once: what the
// first run stored plus what the second stored is the whole stream.
func TestKafkaRestart(t *testing.T) {
	msgs := captureMessages(t, true, 1705334000)
	c := cluster(t)
	produce(t, c, wrapAll(msgs)...)
	// The whole stream, in one run, for reference.
	dec := bmp.NewDecoder("x", bmp.Options{RIBs: bmp.DefaultRIBs.With(bmp.LocRIB)})
	total := 0
	for i, m := range msgs {
		obs, err := dec.Decode(m, int64(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		total += len(obs)
	}
	all := run(t, c, "reference", 7, func(n int) bool { return n >= total }, func([]bgpwatch.Observation) time.Time { return time.Unix(1800000000, 0) })
	if len(all) != total || total < 50 {
		t.Fatalf("reference run stored %d observations, want %d", len(all), total)
	}
	// The first run takes 40 observations, but its bins are written only
	// up to the 10th's: the records after that must be read again.
	first := run(t, c, "g", 0, func(n int) bool { return n >= 40 }, func(seen []bgpwatch.Observation) time.Time { return seen[10].Time })
	if len(first) == 0 || len(first) > 10 {
		t.Fatalf("first run stored %d observations, want some but not all it took", len(first))
	}
	second := run(t, c, "g", 7, func(n int) bool { return n >= len(all)-len(first) }, func([]bgpwatch.Observation) time.Time { return time.Unix(1800000000, 0) })
	var a, b []string
	for _, o := range all {
		a = append(a, key(o))
	}
	for _, o := range append(first, second...) {
		b = append(b, key(o))
	}
	if !slices.Equal(a, b) {
		t.Errorf("restart lost or doubled observations:\n one run  %d %s\n restart  %d+%d %s", len(a), strings.Join(a, "\n"), len(first), len(second), strings.Join(b, "\n"))
	}
	t.Logf("first run stored %d, second %d, of %d", len(first), len(second), len(all))
}

// TestKafkaMalformed: a malformed record is skipped, logged, and the
// router's stream goes on; collector heartbeats are skipped silently.
func TestKafkaMalformed(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	first := slices.IndexFunc(msgs, func(m []byte) bool { return m[5] == bmp.TypeRouteMonitoring })
	recs := wrapAll(msgs[:first+2])
	bad := slices.Clone(msgs[first])
	bad[6] = 9 // peer type
	heartbeat := Append(nil, testRouter, nil)
	heartbeat[12], heartbeat[13] = 0, 4 // a collector message
	badAt := len(recs)
	recs = append(recs, Append(nil, testRouter, bad), heartbeat, []byte("OBMP\x01"), wrapAll(msgs[first+2 : first+3])[0])
	c := cluster(t)
	produce(t, c, recs...)
	var logs strings.Builder
	var mu sync.Mutex
	cons, err := New(Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "g", FromStart: true, RIBs: bmp.DefaultRIBs.With(bmp.LocRIB),
		Logger: newLogger(&mu, &logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan bgpwatch.Observation, 100)
	go cons.Run(ctx, out)
	// A record is counted before it is decoded: wait for the last one's
	// outcome too.
	done := func(s Stats, rs []bmp.RouterStatus) bool {
		return s.Records == int64(len(recs)) && s.Malformed == 2 && s.Skipped == 1 &&
			len(rs) == 1 && rs[0].Counters.Messages[bmp.TypeRouteMonitoring] == 3
	}
	for deadline := time.Now().Add(10 * time.Second); !done(cons.Stats(), cons.Routers()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	s := cons.Stats()
	if s.Records != int64(len(recs)) || s.Malformed != 2 || s.Skipped != 1 {
		t.Errorf("stats %+v, want 2 malformed, 1 skipped", s)
	}
	mu.Lock()
	l := logs.String()
	mu.Unlock()
	if strings.Count(l, "record skipped") != 2 || !strings.Contains(l, "router=ipf-zbl1327-r-daisy-90") ||
		!strings.Contains(l, fmt.Sprintf("offset=%d reason=\"offset 6: per-peer header: unknown peer type 9\"", badAt)) {
		t.Errorf("logs:\n%s", l)
	}
	if rs := cons.Routers(); len(rs) != 1 || rs[0].Resets != 1 || rs[0].Counters.Messages[bmp.TypeRouteMonitoring] != 3 {
		t.Errorf("routers %+v", rs)
	}
}

// TestKafkaSASL: the consumer authenticates with SASL PLAIN; with a wrong
// password it reads nothing.
func TestKafkaSASL(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.EnableSASL(), kfake.Superuser("PLAIN", "bw", "right"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic), kgo.SASL(plain.Auth{User: "bw", Pass: "right"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.ProduceSync(context.Background(), &kgo.Record{Value: wrapAll(msgs[:1])[0]}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pc.Close()
	for _, pass := range []string{"wrong", "right"} {
		cons, err := New(Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "g-" + pass, FromStart: true,
			SASL: plain.Auth{User: "bw", Pass: pass}.AsMechanism()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		go cons.Run(ctx, make(chan bgpwatch.Observation, 10))
		for ctx.Err() == nil && cons.Stats().Records == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		cons.Close(context.Background())
		if got := cons.Stats().Records; (pass == "right") != (got == 1) {
			t.Errorf("password %s: %d records read", pass, got)
		}
	}
}

// TestKafkaTermination: a router's Termination (it left its collector)
// drops its tables and shows it disconnected; its next Initiation shows
// it connected again.
func TestKafkaTermination(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	term := []byte{3, 0, 0, 0, 12, bmp.TypeTermination, 0, 1, 0, 2, 0, 1}
	c := cluster(t)
	produce(t, c, wrapAll(append(msgs, term))...)
	ribs := bmp.DefaultRIBs.With(bmp.LocRIB)
	cons, out := runConsumer(t, Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "t", FromStart: true, RIBs: ribs})
	got := receive(t, out, 72+2)
	var downs []string
	for _, o := range got[72:] {
		if o.Kind != bgpwatch.PeerDown {
			t.Fatalf("after the routes: %v", o)
		}
		downs = append(downs, o.Peer.Collector)
	}
	slices.Sort(downs)
	if strings.Join(downs, " ") != "ipf-zbl1327-r-daisy-90/loc-rib ipf-zbl1327-r-daisy-90/loc-rib/rd=4226809946:12" {
		t.Errorf("termination dropped %v", downs)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if rs := cons.Routers(); len(rs) == 1 && !rs[0].Connected && rs[0].Termination == "reason 1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("routers %+v", cons.Routers())
		}
	}
	produce(t, c, wrapAll(msgs[:1])...)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if rs := cons.Routers(); len(rs) == 1 && rs[0].Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("routers after a new Initiation %+v", cons.Routers())
		}
	}
}

// TestKafkaTLS: the consumer reads over TLS from a broker whose
// certificate its CA pool trusts, and reads nothing from one it does not.
func TestKafkaTLS(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafka.test"}, DNSNames: []string{"kafka.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.TLS(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	trusted := x509.NewCertPool()
	trusted.AddCert(cert)
	pc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic), kgo.DialTLSConfig(&tls.Config{RootCAs: trusted, ServerName: "kafka.test"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.ProduceSync(context.Background(), &kgo.Record{Value: wrapAll(msgs[:1])[0]}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pc.Close()
	for _, pool := range []*x509.CertPool{x509.NewCertPool(), trusted} {
		cons, err := New(Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: fmt.Sprintf("g%p", pool), FromStart: true,
			TLS: &tls.Config{RootCAs: pool, ServerName: "kafka.test"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		go cons.Run(ctx, make(chan bgpwatch.Observation, 10))
		for ctx.Err() == nil && cons.Stats().Records == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		cons.Close(context.Background())
		if got := cons.Stats().Records; (pool == trusted) != (got == 1) {
			t.Errorf("trusted %v: %d records read", pool == trusted, got)
		}
	}
}

// TestKafkaLateRecords: a router's records read out of order, as from
// several topics or partitions. An Initiation older than the routes
// already applied is skipped instead of dropping the tables its session
// sent (Kafka does not send them again); a route older than the
// Termination applied is skipped instead of coming back into a table
// that is gone. Both are counted as late.
func TestKafkaLateRecords(t *testing.T) {
	msgs := captureMessages(t, false, 0)
	if msgs[0][5] != bmp.TypeInitiation {
		t.Fatalf("the capture starts with message type %d", msgs[0][5])
	}
	at := func(sec int64, ms ...[]byte) [][]byte {
		var out [][]byte
		for _, m := range ms {
			h := testRouter
			h.Time = time.Unix(1705334000+sec, 0)
			out = append(out, Append(nil, h, m))
		}
		return out
	}
	ribs := bmp.DefaultRIBs.With(bmp.LocRIB)
	var route []byte // a message announcing a route of a counted table
	dec := bmp.NewDecoder("x", bmp.Options{RIBs: ribs})
	for _, m := range msgs {
		obs, err := dec.Decode(m, 0, nil)
		if err == nil && m[5] == bmp.TypeRouteMonitoring && len(obs) > 0 && obs[0].Kind == bgpwatch.Announce {
			route = m
			break
		}
	}
	if route == nil {
		t.Fatal("no announcement in the capture")
	}
	term := []byte{3, 0, 0, 0, 12, bmp.TypeTermination, 0, 1, 0, 2, 0, 1}
	c := cluster(t)
	// The session's messages at +10 s, its Initiation (+0 s) read after
	// them, a route of +12 s; then the Termination at +20 s and a route of
	// +15 s.
	recs := append(at(10, msgs[1:]...), at(0, msgs[0])...)
	recs = append(recs, at(12, route)...)
	recs = append(recs, at(20, term)...)
	recs = append(recs, at(15, route)...)
	produce(t, c, recs...)
	cons, out := runConsumer(t, Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "t", FromStart: true, RIBs: ribs})
	for deadline := time.Now().Add(10 * time.Second); cons.Stats().Records < int64(len(recs)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records read", cons.Stats().Records, len(recs))
		}
	}
	var got []bgpwatch.Observation
	for idle := time.After(time.Second); ; {
		select {
		case o := <-out:
			got = append(got, o)
			continue
		case <-idle:
		}
		break
	}
	if len(got) == 0 {
		t.Fatalf("no observation; stats %+v", cons.Stats())
	}
	// The capture's 72 routes (its Loc-RIBs), then the Termination's Peer
	// Downs of the tables still up; nothing else.
	n := map[bgpwatch.ObservationKind]int{}
	for i, o := range got {
		n[o.Kind]++
		if !strings.HasPrefix(o.Peer.Collector, "192.0.2.1/") {
			t.Errorf("observation %d of %s: the late Initiation must not rename the router", i, o.Peer.Collector)
			break
		}
	}
	if n[bgpwatch.Announce]+n[bgpwatch.Withdraw] != 73 || n[bgpwatch.PeerDown] != 2 {
		t.Errorf("observations by kind %v: want the 72 routes, the +12 s one and the Termination's 2 Peer Downs", n)
	}
	if i := slices.IndexFunc(got, func(o bgpwatch.Observation) bool { return o.Kind == bgpwatch.PeerDown }); i != len(got)-2 {
		t.Errorf("the first Peer Down is observation %d of %d: the late Initiation dropped the tables, or a route came after the Termination", i, len(got))
	}
	if st := cons.Stats(); st.Late != 2 {
		t.Errorf("late records %d, want 2", st.Late)
	}
}

// runConsumer runs a consumer of cfg until the test ends; its
// observations come on the channel.
func runConsumer(t *testing.T, cfg Config) (*Consumer, <-chan bgpwatch.Observation) {
	t.Helper()
	cons, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan bgpwatch.Observation, 200)
	done := make(chan struct{})
	go func() { cons.Run(ctx, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done; cons.Close(context.Background()) })
	return cons, out
}
