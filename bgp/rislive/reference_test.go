package rislive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/bgpwatch/bgpwatch"
)

// The reference decoder: the encoding/json decoder Decode replaced, kept
// to check that both accept the same messages and give the same
// observations (TestDecodeMatchesReference, FuzzDecode).

type refData struct {
	Timestamp     float64           `json:"timestamp"`
	Peer          string            `json:"peer"`
	PeerASN       refNumber         `json:"peer_asn"`
	ID            string            `json:"id"`
	Host          string            `json:"host"`
	Type          string            `json:"type"`
	Path          []json.RawMessage `json:"path"`
	Origin        string            `json:"origin"`
	Announcements []struct {
		NextHop  string   `json:"next_hop"`
		Prefixes []string `json:"prefixes"`
	} `json:"announcements"`
	Withdrawals []string `json:"withdrawals"`
	Raw         string   `json:"raw"`
	State       string   `json:"state"`
}

type refNumber uint32

func (n *refNumber) UnmarshalJSON(b []byte) error {
	var f flexNumber
	err := f.setRaw(string(b))
	*n = refNumber(f)
	return err
}

type refMessage struct {
	Type  string
	Error string
	Data  refData
}

func refDecode(b []byte) (refMessage, error) {
	var env struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return refMessage{}, err
	}
	m := refMessage{Type: env.Type}
	switch env.Type {
	case TypeMessage:
		if err := json.Unmarshal(env.Data, &m.Data); err != nil {
			return refMessage{}, err
		}
	case TypeError:
		var e struct {
			Message string `json:"message"`
		}
		if len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, &e); err != nil {
				return refMessage{}, err
			}
		}
		m.Error = e.Message
	case "":
		return refMessage{}, fmt.Errorf("no type")
	}
	return m, nil
}

// refOrigin is the path's origin as the reference reads it.
func (d *refData) refOrigin() bgpwatch.ASN {
	var o bgpwatch.PathOrigin
	for _, e := range d.Path {
		e = bytes.TrimSpace(e)
		if len(e) > 0 && e[0] == '[' {
			var set []uint32
			if err := json.Unmarshal(e, &set); err != nil {
				return 0
			}
			s := bgpwatch.Segment{Type: bgpwatch.SegmentSet, Len: len(set)}
			if len(set) > 0 {
				s.Last = bgpwatch.ASN(set[len(set)-1])
			}
			o.Add(s)
			continue
		}
		v, err := strconv.ParseUint(string(e), 10, 32)
		if err != nil {
			return 0
		}
		o.Add(bgpwatch.Segment{Type: bgpwatch.SegmentSequence, Len: 1, Last: bgpwatch.ASN(v)})
	}
	return o.ASN()
}

// toData converts the reference's result to a Data for comparison.
func (d *refData) toData() Data {
	out := Data{Timestamp: d.Timestamp, Peer: d.Peer, PeerASN: flexNumber(d.PeerASN), ID: d.ID, Host: d.Host,
		Type: d.Type, Origin: d.Origin, Withdrawals: d.Withdrawals, Raw: d.Raw, State: d.State, origin: d.refOrigin()}
	if d.Announcements != nil {
		out.Announcements = []Announcement{}
		for _, a := range d.Announcements {
			out.Announcements = append(out.Announcements, Announcement{NextHop: a.NextHop, Prefixes: a.Prefixes})
		}
	}
	return out
}

// checkReference fails t unless Decode and the reference agree on b.
func checkReference(t *testing.T, b []byte) {
	t.Helper()
	m, err := Decode(b)
	rm, rerr := refDecode(b)
	if (err == nil) != (rerr == nil) {
		t.Fatalf("%q: Decode error %v, reference error %v", b, err, rerr)
	}
	if err != nil {
		return
	}
	want := Message{Type: rm.Type, Error: rm.Error, Data: rm.Data.toData()}
	if m.Data.Timestamp != m.Data.Timestamp && want.Data.Timestamp != want.Data.Timestamp {
		m.Data.Timestamp, want.Data.Timestamp = 0, 0 // NaN
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("%q:\nDecode    %+v\nreference %+v", b, m, want)
	}
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, b := range firehose(2000) {
		checkReference(t, b)
	}
	for _, b := range recording(t) {
		checkReference(t, b)
	}
	for _, s := range []string{
		`{"type":"ris_message","data":{"Type":"UPDATE","PEER":"1.2.3.4","host":"rrc00","path":[1,[2]],"announcements":[{"prefixes":["10.0.0.0/8"]}]}}`,
		`{"type":"ris_message","data":{"type":"UPDATE","peer":"1.2.3.4","host":"rrc00","withdrawals":["10.0.0.0/8","10.1.0.0/16"],"withdrawals":[null]}}`,
		`{"type":"ris_message","data":{"announcements":[{"next_hop":"a","prefixes":["x"]},{}],"announcements":[null,{"next_hop":null}]}}`,
		`{"data":{"timestamp":"x"},"type":"pong"}`,
		`{"data":{"timestamp":"x"},"type":"ris_message"}`,
		`{"type":"ris_message","data":{"timestamp":"x"},"type":"pong"}`,
		`{"type":"ris_message","type":null,"data":{"peer":"\u0031.2.3.4","host":"h\u00e9"}}`,
		`{"type":"ris_error","data":{"message":"x"},"type":"ris_message"}`,
		`{"type":"ris_message","data":{"path":[1,2,[3,null]],"path":[1,"2"]}}`,
		`{"type":"ris_message","data":{"path":[1,[5,4294967296]]}}`,
		`{"type":"ris_message","data":{"path":{}}}`,
		`{"type":"ris_message","data":{"peer_asn":1e3}}`,
		`{"type":"ris_message","data":{"peer_asn":"\"12\""}}`,
		`{"type":"ris_message","data":{"timestamp":1e999}}`,
		`{"type":"ris_message","data":[]}`,
		`{"type":"ris_message","data":null}`,
		`{"type":"ris_error","data":null}`,
		`{"type":"ris_error","data":"x"}`,
		`{"type":"x","data":[1,2,{"a":[tru]}]}`,
		`{"type":"x"} x`,
		`{"type":"x"} `,
		`null`,
		`[]`,
		`{"type":"ris_message","data":{"host":"\xff"}}`,
		`{"\u0074ype":"pong"}`,
		`{"type":"ris_message","data":{"\u212aey":1,"stat\u017f":"up"}}`,
		`{"type":"x","data":"\u12"}`,
		`{"type":"x","data":-01}`,
		`{"type":"x","data":1.}`,
		`{"type":"x","data":1.5e+}`,
		"{\"type\":\"x\",\"data\":\"\t\"}",
	} {
		checkReference(t, []byte(s))
	}
}
