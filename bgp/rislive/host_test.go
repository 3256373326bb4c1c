package rislive

import "testing"

func TestCollectorName(t *testing.T) {
	for host, want := range map[string]string{
		"rrc00.ripe.net": "rrc00", "RRC21.RIPE.NET": "rrc21", "rrc01": "rrc01", " rrc03 ": "rrc03", "": "",
	} {
		if got := CollectorName(host); got != want {
			t.Errorf("CollectorName(%q) = %q, want %q", host, got, want)
		}
	}
	m, err := Decode([]byte(`{"type":"ris_message","data":{"timestamp":1553627987.89,"peer":"72.22.223.9","peer_asn":"11708","host":"rrc00.ripe.net","type":"UPDATE","path":[11708,3],"announcements":[{"next_hop":"72.22.223.9","prefixes":["45.161.192.0/23"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := m.Data.PeerOf(); err != nil || p.Collector != "rrc00" {
		t.Errorf("PeerOf = %v, %v; want collector rrc00 as the archive names it", p, err)
	}
}
