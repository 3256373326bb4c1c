package bgpwatch

// SegmentType is the type of an AS_PATH segment, with the values of the
// wire format (RFC 4271 §4.3, RFC 5065 §3).
type SegmentType uint8

// AS_PATH segment types.
const (
	SegmentSet            SegmentType = 1 // AS_SET: unordered, from aggregation
	SegmentSequence       SegmentType = 2 // AS_SEQUENCE: ordered
	SegmentConfedSequence SegmentType = 3 // AS_CONFED_SEQUENCE: inside a confederation
	SegmentConfedSet      SegmentType = 4 // AS_CONFED_SET: inside a confederation
)

// Segment is one AS_PATH segment as far as the origin rule needs it: its
// type, how many ASNs it holds and the last of them (for a set of one,
// its only member). Sources fill it from whatever form they read (MRT
// bytes, gobgp's segments, RIS Live's JSON path) without copying the
// path.
type Segment struct {
	Type SegmentType
	Len  int
	Last ASN
}

// PathOrigin applies bgpwatch's one origin rule to an AS path read
// segment by segment, first to last (the zero value is an empty path).
// Every source (MRT archives, BGP sessions, RIS Live) attributes routes
// through it, so the same path gets the same origin whatever carried it.
//
// The rule:
//
//   - Confederation segments (AS_CONFED_SEQUENCE, AS_CONFED_SET) are not
//     part of the path between autonomous systems (RFC 5065 §5.3: a
//     confederation strips them before it sends a route outside, and puts
//     its own identifier in the AS_SEQUENCE; they do not count in the path
//     length either). They are skipped wherever they are: a path
//     [SEQ 1 2 3] [CONFED_SET 65000] was originated inside confederation 3
//     and leaked its member segment, so its origin is 3.
//   - Empty segments name no AS and are skipped too.
//   - The origin is the last AS of the last remaining segment when that is
//     an AS_SEQUENCE (RFC 4271 §5.1.2; RFC 6811 §2).
//   - A path ending in an AS_SET of one AS has that AS as its origin: the
//     aggregate covers only routes originated by it (RIS Live shows such
//     paths, e.g. "... 27738 [27738]"; bgpkit's get_singular_origin reads
//     them the same way).
//   - A path ending in an AS_SET of several ASes is not attributed (0): the
//     address space belongs to several networks and no single one can be
//     charged with it (RFC 6811 gives such routes the origin NONE;
//     BGPStream's origin value and IODA skip them; RFC 6472 deprecates
//     AS_SETs).
//   - An empty path (a route originated by the peer's own AS on an
//     internal session), a path of confederation segments only, and a
//     path with an unknown segment type are not attributed either (0).
//
// For 2-byte sessions the path to give it is AS_PATH merged with AS4_PATH
// (RFC 6793 §4.2.3); that merge is the MRT reader's job, as gobgp does it
// for BGP sessions and RIS Live for its JSON.
type PathOrigin struct {
	last Segment
	bad  bool
}

// Add records the next segment of the path.
func (o *PathOrigin) Add(s Segment) {
	switch s.Type {
	case SegmentSequence, SegmentSet:
		if s.Len > 0 {
			o.last = s
		}
	case SegmentConfedSequence, SegmentConfedSet:
	default:
		o.bad = true
	}
}

// ASN returns the origin of the segments added so far; 0 when the path
// is not attributed.
func (o *PathOrigin) ASN() ASN {
	if o.bad {
		return 0
	}
	switch {
	case o.last.Type == SegmentSequence:
		return o.last.Last
	case o.last.Type == SegmentSet && o.last.Len == 1:
		return o.last.Last
	}
	return 0
}

// OriginOf returns the origin of the path made of segs, by the rule of
// PathOrigin.
func OriginOf(segs ...Segment) ASN {
	var o PathOrigin
	for _, s := range segs {
		o.Add(s)
	}
	return o.ASN()
}
