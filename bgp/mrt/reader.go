package mrt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// MRT record types (RFC 6396 and the deprecated ones still found in old archives).
const (
	TypeBGP         = 5 // deprecated MRT BGP (pre-2001 RIS archives)
	TypeTableDump   = 12
	TypeTableDumpV2 = 13
	TypeBGP4MP      = 16
	TypeBGP4MPET    = 17
)

// TABLE_DUMP_V2 subtypes (RFC 6396, RFC 8050).
const (
	SubPeerIndexTable          = 1
	SubRIBIPv4Unicast          = 2
	SubRIBIPv4Multicast        = 3
	SubRIBIPv6Unicast          = 4
	SubRIBIPv6Multicast        = 5
	SubRIBGeneric              = 6
	SubRIBIPv4UnicastAddPath   = 8
	SubRIBIPv4MulticastAddPath = 9
	SubRIBIPv6UnicastAddPath   = 10
	SubRIBIPv6MulticastAddPath = 11
	SubRIBGenericAddPath       = 12
)

// BGP4MP and BGP4MP_ET subtypes (RFC 6396, RFC 8050).
const (
	SubStateChange            = 0
	SubMessage                = 1
	SubMessageAS4             = 4
	SubStateChangeAS4         = 5
	SubMessageLocal           = 6
	SubMessageAS4Local        = 7
	SubMessageAddPath         = 8
	SubMessageAS4AddPath      = 9
	SubMessageLocalAddPath    = 10
	SubMessageAS4LocalAddPath = 11
)

// MaxRecordLen bounds the length field of a record; anything larger is
// treated as damage rather than an allocation request.
const MaxRecordLen = 16 << 20

const headerLen = 12

// bufSize is the read buffer: records up to this size are decoded in place.
const bufSize = 256 << 10

// FormatError reports damaged input: the file, the byte offset in the
// uncompressed MRT stream where the damaged record (or header) starts, and
// why it was rejected.
type FormatError struct {
	File   string
	Offset int64
	Reason string
	Err    error // underlying cause (e.g. a decompressor error), may be nil
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap returns the underlying cause, if any.
func (e *FormatError) Unwrap() error { return e.Err }

// Header is the common MRT record header.
type Header struct {
	Timestamp uint32 // seconds since the Unix epoch
	Micro     uint32 // microseconds (BGP4MP_ET only)
	Type      uint16
	Subtype   uint16
	Length    uint32 // length of Body (for _ET records: without the microsecond field)
}

// Time returns the record time (with microseconds for _ET records).
func (h *Header) Time() time.Time {
	return time.Unix(int64(h.Timestamp), int64(h.Micro)*1000).UTC()
}

// Record is one MRT record. Body aliases the reader's buffer and is valid
// only until the next call to Next.
type Record struct {
	Header
	File   string // name used in errors
	Offset int64  // offset of the header in the uncompressed stream
	Body   []byte
}

// errf builds a FormatError for this record.
func (r *Record) errf(format string, a ...any) error {
	return &FormatError{File: r.File, Offset: r.Offset, Reason: fmt.Sprintf(format, a...)}
}

// Reader reads MRT records from an uncompressed stream. It never panics on
// bad input: damage is reported as *FormatError, after which Next tries to
// resynchronise on the next plausible record header.
type Reader struct {
	br       *bufio.Reader
	name     string
	off      int64 // stream offset of the next unread byte
	discard  int   // bytes of the previous record still to skip
	big      []byte
	rec      Record
	lastTime uint32
	resync   bool
	suspect  bool // the previous record was not followed by a plausible header
	done     bool
	peers    PeerIndexTable
	hasPeers bool
}

// NewReader returns a Reader over an uncompressed MRT stream; name appears in errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, bufSize), name: name}
}

// Offset returns the uncompressed stream offset of the next record.
func (r *Reader) Offset() int64 { return r.off + int64(r.discard) }

// Peers returns the last PEER_INDEX_TABLE seen and whether there was one.
// The reader records it automatically when Next returns it.
func (r *Reader) Peers() (*PeerIndexTable, bool) { return &r.peers, r.hasPeers }

func (r *Reader) fail(off int64, err error, format string, a ...any) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // never let damage look like a clean end of stream
	}
	return &FormatError{File: r.name, Offset: off, Reason: fmt.Sprintf(format, a...), Err: err}
}

// decompressReason describes a non-EOF read error.
func readReason(err error) string {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "stream ends"
	}
	return "read error: " + err.Error()
}

// Next returns the next record. It returns io.EOF at the end, or a
// *FormatError for damage; after a FormatError Next may be called again: it
// resumes at the next plausible record, or returns io.EOF if none.
func (r *Reader) Next() (*Record, error) {
	if r.done {
		return nil, io.EOF
	}
	if r.discard > 0 {
		n, _ := r.br.Discard(r.discard)
		r.off += int64(n)
		r.discard = 0
	}
	if r.resync {
		r.resync = false
		if !r.scan() {
			r.done = true
			return nil, io.EOF
		}
	}
	hb, err := r.br.Peek(headerLen)
	if len(hb) == 0 && errors.Is(err, io.EOF) {
		r.done = true
		return nil, io.EOF
	}
	if len(hb) < headerLen {
		r.done = true
		return nil, r.fail(r.off, err, "truncated record header (%d of %d bytes; %s)", len(hb), headerLen, readReason(err))
	}
	h := parseHeader(hb)
	near := uint32(0)
	if r.suspect {
		near, r.suspect = r.lastTime, false
	}
	if !plausible(&h, near) {
		r.resync = true
		return nil, r.fail(r.off, nil, "impossible record header (type %d, subtype %d, length %d)", h.Type, h.Subtype, h.Length)
	}
	hl := headerLen
	if h.Type == TypeBGP4MPET {
		hl += 4
	}
	total := headerLen + int(h.Length)
	rec := &r.rec
	rec.File, rec.Offset = r.name, r.off
	var full []byte
	if total+headerLen <= bufSize {
		b, err := r.br.Peek(total + headerLen)
		if len(b) < total {
			r.done = true
			return nil, r.fail(r.off, err, "truncated record: header says %d bytes, %d present (%s)", total, len(b), readReason(err))
		}
		if len(b) >= total+headerLen {
			nh := parseHeader(b[total:])
			if !plausible(&nh, h.Timestamp) {
				// Either this record's length is wrong (a valid chain of
				// records starts inside it) or what follows is damaged.
				for p := 1; p < total; p++ {
					if r.chainAt(p, h.Timestamp) {
						r.discard = p
						return nil, r.fail(r.off, nil, "record length %d is not followed by a valid record header (damaged framing)", h.Length)
					}
				}
				r.suspect = true
			}
		}
		full = b[:total]
		r.discard = total
	} else {
		if cap(r.big) < total {
			r.big = make([]byte, total)
		}
		full = r.big[:total]
		n, err := io.ReadFull(r.br, full)
		r.off += int64(n)
		if n < total {
			r.done = true
			return nil, r.fail(rec.Offset, err, "truncated record: header says %d bytes, %d present (%s)", total, n, readReason(err))
		}
	}
	rec.Header = h
	rec.Body = full[hl:]
	if h.Type == TypeBGP4MPET {
		rec.Micro = binary.BigEndian.Uint32(full[headerLen:])
		rec.Length -= 4
	}
	r.lastTime = h.Timestamp
	if h.Type == TypeTableDumpV2 && h.Subtype == SubPeerIndexTable {
		if err := rec.PeerIndexTable(&r.peers); err == nil {
			r.hasPeers = true
		} else {
			return rec, err
		}
	}
	return rec, nil
}

func parseHeader(b []byte) Header {
	return Header{
		Timestamp: binary.BigEndian.Uint32(b[0:]),
		Type:      binary.BigEndian.Uint16(b[4:]),
		Subtype:   binary.BigEndian.Uint16(b[6:]),
		Length:    binary.BigEndian.Uint32(b[8:]),
	}
}

// plausible reports whether h can be a record header. near, when not zero,
// is the time of a neighbouring good record: the timestamp must be close to it.
func plausible(h *Header, near uint32) bool {
	if h.Length > MaxRecordLen {
		return false
	}
	switch h.Type {
	case TypeBGP:
		if h.Subtype > 7 {
			return false
		}
	case TypeTableDump:
		if h.Subtype < 1 || h.Subtype > 4 {
			return false
		}
	case TypeTableDumpV2:
		if h.Subtype < 1 || h.Subtype > 12 || h.Subtype == 7 {
			return false
		}
	case TypeBGP4MP, TypeBGP4MPET:
		if h.Subtype > 11 {
			return false
		}
		if h.Type == TypeBGP4MPET && h.Length < 4 {
			return false
		}
	case 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 32, 33, 48, 49:
	default:
		return false
	}
	if near != 0 {
		const window = 7 * 24 * 3600
		if h.Timestamp+window < near || h.Timestamp > near+window {
			return false
		}
	}
	return true
}

// chainAt reports whether a plausible header starts p bytes ahead whose
// record is followed by another plausible header or ends the stream.
func (r *Reader) chainAt(p int, near uint32) bool {
	hb, _ := r.br.Peek(p + headerLen)
	if len(hb) < p+headerLen {
		return false
	}
	h := parseHeader(hb[p:])
	if !plausible(&h, near) {
		return false
	}
	end := p + headerLen + int(h.Length)
	if end+headerLen > bufSize {
		return false
	}
	b, _ := r.br.Peek(end + headerLen)
	if len(b) == end {
		return true // last record of the stream
	}
	if len(b) < end+headerLen {
		return false
	}
	nh := parseHeader(b[end:])
	return plausible(&nh, h.Timestamp)
}

// scan advances byte by byte from the current (bad) position until a
// plausible chain of records starts (see chainAt). It reports false at the
// end of the stream.
func (r *Reader) scan() bool {
	const maxScan = 256 << 20
	for skipped := 0; skipped < maxScan; skipped++ {
		if _, err := r.br.Discard(1); err != nil {
			return false
		}
		r.off++
		if hb, _ := r.br.Peek(headerLen); len(hb) < headerLen {
			return false
		}
		if r.chainAt(0, r.lastTime) {
			return true
		}
	}
	return false
}
