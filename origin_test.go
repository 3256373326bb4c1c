package bgpwatch

import "testing"

func TestOriginOf(t *testing.T) {
	seq := func(asns ...ASN) Segment {
		return Segment{Type: SegmentSequence, Len: len(asns), Last: asns[len(asns)-1]}
	}
	set := func(asns ...ASN) Segment { return Segment{Type: SegmentSet, Len: len(asns), Last: asns[len(asns)-1]} }
	tests := []struct {
		name string
		path []Segment
		want ASN
	}{
		{"empty", nil, 0},
		{"sequence", []Segment{seq(1, 2, 3)}, 3},
		{"set of several", []Segment{seq(1, 2), set(3, 4)}, 0},
		{"set of one", []Segment{seq(1, 2), set(3)}, 3},
		{"set then sequence", []Segment{seq(1), set(3, 4), seq(5)}, 5},
		{"confed set after sequence", []Segment{seq(1, 2, 3), {Type: SegmentConfedSet, Len: 1, Last: 65000}}, 3},
		{"confed sequence first", []Segment{{Type: SegmentConfedSequence, Len: 2, Last: 65001}, seq(1, 9)}, 9},
		{"confed only", []Segment{{Type: SegmentConfedSequence, Len: 1, Last: 65001}}, 0},
		{"empty sequence skipped", []Segment{seq(1, 2), {Type: SegmentSequence}}, 2},
		{"empty set skipped", []Segment{seq(1, 2), {Type: SegmentSet}}, 2},
		{"unknown segment type", []Segment{seq(1, 2), {Type: 5, Len: 1, Last: 7}}, 0},
		{"unknown type 0", []Segment{{Type: 0, Len: 1, Last: 7}, seq(1, 2)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OriginOf(tc.path...); got != tc.want {
				t.Errorf("OriginOf(%v) = %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}
