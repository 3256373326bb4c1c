package rislive

import (
	"bufio"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// recording returns the lines of the shared RIS Live recording, skipping
// (or failing under CI=true) when the shared data is absent.
func recording(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "stream/ris-live-stream.20190326.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestDecodeRecording(t *testing.T) {
	lines := recording(t)
	if len(lines) != 7 {
		t.Fatalf("recording has %d lines, want 7", len(lines))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		line     int
		envelope string
		bgpType  string
		wantErr  bool
		obs      []bgpwatch.Observation
	}{
		{name: "update", line: 0, envelope: TypeMessage, bgpType: Update, obs: []bgpwatch.Observation{{
			Time: time.Unix(1553627987, 890000000).UTC(), Kind: bgpwatch.Announce,
			Peer:   bgpwatch.Peer{Collector: "rrc00", ASN: 11708, Addr: netip.MustParseAddr("72.22.223.9")},
			Prefix: netip.MustParsePrefix("45.161.192.0/23"), Origin: 268481,
		}}},
		{name: "peer state down", line: 1, envelope: TypeMessage, bgpType: PeerState, obs: []bgpwatch.Observation{{
			Time: time.Unix(1553625081, 880000000).UTC(), Kind: bgpwatch.PeerDown,
			Peer: bgpwatch.Peer{Collector: "rrc01", ASN: 24931, Addr: netip.MustParseAddr("195.66.224.59")},
		}}},
		{name: "ris_error", line: 2, envelope: TypeError},
		{name: "open", line: 3, envelope: TypeMessage, bgpType: Open},
		{name: "notification", line: 4, envelope: TypeMessage, bgpType: Notification},
		{name: "keepalive", line: 5, envelope: TypeMessage, bgpType: Keepalive},
		{name: "truncated last line", line: 6, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(lines[tc.line])
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Decode = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != tc.envelope || m.Data.Type != tc.bgpType {
				t.Fatalf("types = %q/%q, want %q/%q", m.Type, m.Data.Type, tc.envelope, tc.bgpType)
			}
			if tc.envelope == TypeError && m.Error != "this is a test error message" {
				t.Errorf("error text = %q", m.Error)
			}
			got, bad, err := m.Observations(nil, now)
			if err != nil || bad != 0 {
				t.Fatalf("Observations: bad %d, err %v", bad, err)
			}
			if len(got) != len(tc.obs) {
				t.Fatalf("observations = %+v, want %+v", got, tc.obs)
			}
			for i := range got {
				// Float timestamps: compare to the millisecond.
				if d := got[i].Time.Sub(tc.obs[i].Time); d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("time = %v, want %v", got[i].Time, tc.obs[i].Time)
				}
				got[i].Time = tc.obs[i].Time
				if got[i] != tc.obs[i] {
					t.Errorf("observation %d = %+v, want %+v", i, got[i], tc.obs[i])
				}
			}
		})
	}
}

func TestDecodeSynthetic(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	peer := bgpwatch.Peer{Collector: "rrc21", ASN: 3333, Addr: netip.MustParseAddr("2001:db8::1")}
	tests := []struct {
		name    string
		in      string
		want    []bgpwatch.Observation
		bad     int
		wantErr bool
	}{
		{"withdrawals and announcements, v6, AS_SET origin",
			`{"type":"ris_message","data":{"timestamp":1700000000,"peer":"2001:db8::1","peer_asn":3333,"host":"rrc21","type":"UPDATE","path":[3333,1299,[64500,64501]],"announcements":[{"next_hop":"2001:db8::1","prefixes":["2001:db8:100::/40","10.1.2.3/16"]}],"withdrawals":["2001:db8:200::/48"]}}`,
			[]bgpwatch.Observation{
				{Time: time.Unix(1700000000, 0).UTC(), Kind: bgpwatch.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("2001:db8:200::/48")},
				{Time: time.Unix(1700000000, 0).UTC(), Kind: bgpwatch.Announce, Peer: peer, Prefix: netip.MustParsePrefix("2001:db8:100::/40")},
				{Time: time.Unix(1700000000, 0).UTC(), Kind: bgpwatch.Announce, Peer: peer, Prefix: netip.MustParsePrefix("10.1.0.0/16")},
			}, 0, false},
		{"bad prefix skipped, no timestamp uses now",
			`{"type":"ris_message","data":{"peer":"2001:db8::1","peer_asn":"3333","host":"rrc21","type":"UPDATE","path":[3333,9198],"announcements":[{"next_hop":"x","prefixes":["nonsense","10.0.0.0/8"]}]}}`,
			[]bgpwatch.Observation{{Time: now, Kind: bgpwatch.Announce, Peer: peer, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Origin: 9198}},
			1, false},
		{"peer connected gives nothing",
			`{"type":"ris_message","data":{"timestamp":1,"peer":"2001:db8::1","peer_asn":"3333","host":"rrc21","type":"RIS_PEER_STATE","state":"connected"}}`,
			nil, 0, false},
		{"pong", `{"type":"pong","data":null}`, nil, 0, false},
		{"bad peer", `{"type":"ris_message","data":{"peer":"x","host":"rrc21","type":"UPDATE"}}`, nil, 0, true},
		{"bad asn", `{"type":"ris_message","data":{"peer":"1.2.3.4","peer_asn":"-1","host":"rrc21","type":"UPDATE"}}`, nil, 0, true},
		{"no type", `{"data":{}}`, nil, 0, true},
		{"not json", `{"type":`, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(tc.in))
			var got []bgpwatch.Observation
			var bad int
			if err == nil {
				got, bad, err = m.Observations(nil, now)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bad != tc.bad || len(got) != len(tc.want) {
				t.Fatalf("got %+v (bad %d), want %+v (bad %d)", got, bad, tc.want, tc.bad)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("observation %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"ris_message","data":{"timestamp":1700000000,"peer":"2001:db8::1","peer_asn":3333,"host":"rrc21","type":"UPDATE","path":[3333,[1,2]],"announcements":[{"next_hop":"::1","prefixes":["2001:db8::/32"]}],"withdrawals":["10.0.0.0/8"]}}`))
	f.Add([]byte(`{"type":"ris_error","data":{"message":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkReference(t, b)
		m, err := Decode(b)
		if err != nil {
			return
		}
		obs, _, err := m.Observations(nil, time.Unix(0, 0))
		if err != nil {
			return
		}
		for _, o := range obs {
			if o.Kind != bgpwatch.PeerDown && !o.Prefix.IsValid() {
				t.Fatalf("invalid prefix in %+v", o)
			}
			if !o.Peer.Addr.IsValid() || o.Peer.Collector == "" {
				t.Fatalf("invalid peer in %+v", o)
			}
		}
	})
}
