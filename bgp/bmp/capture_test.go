package bmp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

const ciscoCapture = "stream/bmp.cisco.peer_down.pcap"

// captureStream reads the one BMP session of a capture in the shared data.
func captureStream(t testing.TB, rel string) (string, []byte) {
	t.Helper()
	path := shareddata.Path(t, rel)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ss, err := ReadCapture(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		t.Fatalf("%d TCP streams with payload, want 1", len(ss))
	}
	if ss[0].Gap {
		t.Fatalf("stream has a gap after %d bytes", len(ss[0].Data))
	}
	return path, ss[0].Data
}

// decodeAll decodes a whole stream with every RIB kind counted.
func decodeAll(t testing.TB, data []byte) (*Decoder, []bgpwatch.Observation) {
	t.Helper()
	r := NewReaderBytes(data)
	d := NewDecoder("192.0.2.1", Options{RIBs: 1<<numRIB - 1})
	var obs []bgpwatch.Observation
	for {
		b, off, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if obs, err = d.Decode(b, off, obs); err != nil {
			t.Fatalf("message at offset %d: %v", off, err)
		}
	}
	if r.Offset() != int64(len(data)) {
		t.Fatalf("stopped at %d of %d bytes", r.Offset(), len(data))
	}
	return d, obs
}

func TestCiscoCapture(t *testing.T) {
	_, data := captureStream(t, ciscoCapture)
	d, obs := decodeAll(t, data)
	st := d.State()
	if st.Name != "ipf-zbl1327-r-daisy-90" {
		t.Errorf("router name %q, want the Initiation's sysName", st.Name)
	}
	want := [7]int64{301, 28, 3, 10, 1, 0, 0}
	if st.Counters.Messages != want {
		t.Errorf("messages by type %v, want %v", st.Counters.Messages, want)
	}
	if st.Counters.EndOfRIB == 0 {
		t.Error("no End-of-RIB seen")
	}
	kinds := map[string]int{}
	for _, o := range obs {
		kinds[o.Kind.String()+" "+o.Peer.String()]++
	}
	locRIB := "ipf-zbl1327-r-daisy-90/loc-rib/rd=4226809946:12/AS4226809946/0.0.0.0"
	wantKinds := map[string]int{
		"announce " + locRIB: 48,
		"withdraw " + locRIB: 23,
		"announce ipf-zbl1327-r-daisy-90/loc-rib/AS4226809946/0.0.0.0":            1,
		"peer-down ipf-zbl1327-r-daisy-90/adj-rib-in-post/AS64496/203.0.113.44":   1,
		"peer-down ipf-zbl1327-r-daisy-90/adj-rib-in-post/AS64496/203.0.113.28":   1,
		"peer-down ipf-zbl1327-r-daisy-90/adj-rib-in-post/AS64496/2001:db8:44::1": 1,
	}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Errorf("observations\n got %v\nwant %v", kinds, wantKinds)
	}
	var peers []string
	for _, p := range st.Peers {
		peers = append(peers, fmt.Sprintf("%d/%s/AS%d up=%v", p.Type, p.Addr, p.AS, p.Up))
	}
	slices.Sort(peers)
	wantPeers := []string{"0/198.51.100.6/AS64496 up=true", "0/198.51.100.70/AS64496 up=true", "0/2001:db8:44::1/AS64496 up=true",
		"0/203.0.113.28/AS64496 up=true", "0/203.0.113.44/AS64496 up=true", "3/0.0.0.0/AS4226809946 up=true", "3/0.0.0.0/AS4226809946 up=true"}
	if !slices.Equal(peers, wantPeers) {
		t.Errorf("peers\n got %v\nwant %v", peers, wantPeers)
	}
	// The default counts only pre-policy Adj-RIB-In: this router sends
	// post-policy and Loc-RIB, so nothing counts.
	r := NewReaderBytes(data)
	dd := NewDecoder("x", Options{})
	n := 0
	for {
		b, off, err := r.Next()
		if err != nil {
			break
		}
		o, err := dd.Decode(b, off, nil)
		if err != nil {
			t.Fatal(err)
		}
		n += len(o)
	}
	if n != 0 {
		t.Errorf("%d observations with the default RIB kinds, want 0", n)
	}
}

// pdmlNode is an element of tshark's PDML output.
type pdmlNode struct {
	Name     string     `xml:"name,attr"`
	Show     string     `xml:"show,attr"`
	Children []pdmlNode `xml:",any"`
}

func (n *pdmlNode) child(name string) *pdmlNode {
	for i := range n.Children {
		if n.Children[i].Name == name {
			return &n.Children[i]
		}
	}
	return nil
}

func (n *pdmlNode) walk(f func(*pdmlNode) bool) {
	if !f(n) {
		return
	}
	for i := range n.Children {
		n.Children[i].walk(f)
	}
}

// tsharkRoutes runs Wireshark's BMP dissector over a capture and returns
// its unicast routes of Route Monitoring messages as "A|peer|prefix" and
// "W|peer|prefix"; v6hop collects announced IPv4 routes with an IPv6 next
// hop (RFC 8950).
func tsharkRoutes(t *testing.T, path string) (routes []string, v6hop map[string]bool) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark not installed (scripts/install-deps)")
		}
		t.Skip("tshark not installed")
	}
	cmd := exec.Command(tshark, "-r", path, "-d", "tcp.port==1790,bmp", "-T", "pdml")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	var doc struct {
		Packets []pdmlNode `xml:"packet"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	v6hop = map[string]bool{}
	for i := range doc.Packets {
		for j := range doc.Packets[i].Children {
			m := &doc.Packets[i].Children[j]
			if m.Name != "bmp" || m.child("bmp.type") == nil || m.child("bmp.type").Show != "0" {
				continue
			}
			ph := m.child("bmp.peer.header")
			if ph == nil {
				t.Fatalf("route monitoring without a per-peer header in packet %d", i+1)
			}
			peer := ""
			for _, f := range []string{"bmp.peer.ip.addr", "bmp.peer.ipv6.addr"} {
				if c := ph.child(f); c != nil {
					peer = c.Show
				}
			}
			m.walk(func(n *pdmlNode) bool {
				switch n.Name {
				case "bgp.update.withdrawn_routes":
					for _, c := range n.Children {
						routes = append(routes, "W|"+peer+"|"+c.Show)
					}
					return false
				case "bgp.update.nlri":
					for _, c := range n.Children {
						routes = append(routes, "A|"+peer+"|"+c.Show)
					}
					return false
				case "bgp.update.path_attribute":
					for _, kind := range []string{"reach", "unreach"} {
						afi, safi := n.child("bgp.update.path_attribute.mp_"+kind+"_nlri.afi"), n.child("bgp.update.path_attribute.mp_"+kind+"_nlri.safi")
						nlri := n.child("bgp.update.path_attribute.mp_" + kind + "_nlri")
						if afi == nil || safi == nil || nlri == nil || safi.Show != "1" {
							continue
						}
						hop6 := false
						if nh := n.child("bgp.update.path_attribute.mp_reach_nlri.next_hop"); nh != nil && nh.child("bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6") != nil {
							hop6 = afi.Show == "1"
						}
						for _, c := range nlri.Children {
							r := "A|" + peer + "|" + c.Show
							if kind == "unreach" {
								r = "W|" + peer + "|" + c.Show
							}
							routes = append(routes, r)
							if hop6 {
								v6hop[r] = true
							}
						}
					}
					return false
				}
				return true
			})
		}
	}
	return routes, v6hop
}

// TestCaptureVsTshark compares the routes bgpwatch decodes, and those
// `bgpwatch dump` prints, with Wireshark's BMP dissector.
func TestCaptureVsTshark(t *testing.T) {
	path, data := captureStream(t, ciscoCapture)
	want, v6hop := tsharkRoutes(t, path)
	if len(want) < 50 {
		t.Fatalf("tshark found only %d unicast routes", len(want))
	}
	slices.Sort(want)

	_, obs := decodeAll(t, data)
	var got []string
	for _, o := range obs {
		k := "A"
		switch o.Kind {
		case bgpwatch.Withdraw:
			k = "W"
		case bgpwatch.PeerDown:
			continue
		}
		got = append(got, k+"|"+o.Peer.Addr.String()+"|"+o.Prefix.String())
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("decoded routes differ from tshark's:\n got %d %v\nwant %d %v", len(got), got, len(want), want)
	}

	var out, errs bytes.Buffer
	var dm Dumper
	if err := dm.DumpStream(bytes.NewReader(data), "capture", &out, &errs); err != nil {
		t.Fatal(err)
	}
	if errs.Len() > 0 {
		t.Errorf("dump reported damage: %s", errs.String())
	}
	var dumped []string
	states := 0
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(l, "|")
		switch f[2] {
		case "A", "W":
			dumped = append(dumped, f[2]+"|"+f[3]+"|"+f[5])
		case "STATE":
			states++
		}
	}
	slices.Sort(dumped)
	// bgpdump's format (kept by the MRT formatter) leaves out IPv4 routes
	// with an IPv6 next hop; everything else must be there.
	var wantDump []string
	for _, r := range want {
		if !v6hop[r] {
			wantDump = append(wantDump, r)
		}
	}
	if len(wantDump) == len(want) {
		t.Log("no IPv4 route with an IPv6 next hop in the capture")
	}
	if !slices.Equal(dumped, wantDump) {
		t.Errorf("dump routes differ from tshark's:\n got %d %v\nwant %d %v", len(dumped), dumped, len(wantDump), wantDump)
	}
	if states != 13 {
		t.Errorf("%d STATE lines, want 13 (10 peer up, 3 peer down)", states)
	}
}
