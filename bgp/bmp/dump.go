package bmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/bgpwatch/bgpwatch/bgp/mrt"
)

// Dumper renders BMP messages as the lines `bgpwatch dump` prints for
// MRT update files: each Route Monitoring as a BGP4MP message of its
// peer (every RIB kind; the UPDATE decoded with the encoding the Peer Up
// negotiated), each Peer Up and Peer Down as a BGP4MP state change to
// Established (6) and to Idle (1). Other messages print nothing.
type Dumper struct {
	Formatter mrt.Formatter
	rec       mrt.Record
	body      []byte
}

// DumpStream decodes one BMP byte stream named name (a router's
// session) and writes its lines to w. Damage is reported to errw with
// the stream name and offset: a malformed message is skipped, a broken
// framing ends the stream.
func (d *Dumper) DumpStream(r io.Reader, name string, w io.Writer, errw io.Writer) error {
	rd := NewReader(r)
	dec := NewDecoder(name, Options{RIBs: 1<<numRIB - 1})
	var buf []byte
	for {
		b, off, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				fmt.Fprintf(errw, "bgpwatch dump: %s: %v\n", name, err)
				return nil
			}
			return err
		}
		if _, err := dec.Decode(b, off, nil); err != nil {
			fmt.Fprintf(errw, "bgpwatch dump: %s: %v\n", name, err)
			continue
		}
		m := dec.Message()
		if m.Type != TypeRouteMonitoring && m.Type != TypePeerUp && m.Type != TypePeerDown {
			continue
		}
		d.record(m, dec)
		var ferr error
		buf, ferr = d.Formatter.Append(buf[:0], &d.rec, nil)
		if ferr != nil {
			fmt.Fprintf(errw, "bgpwatch dump: %s: offset %d: %v\n", name, off, ferr)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}

// record builds the BGP4MP record standing for m.
func (d *Dumper) record(m *Message, dec *Decoder) {
	h := &m.Peer
	afi, alen := uint16(mrt.AFIIPv4), 4
	if h.Addr.Is6() {
		afi, alen = mrt.AFIIPv6, 16
	}
	b := d.body[:0]
	b = binary.BigEndian.AppendUint32(b, h.AS)
	b = binary.BigEndian.AppendUint32(b, 0) // local AS: not printed
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, afi)
	b = appendAddr(b, h.Addr, alen)
	b = appendAddr(b, netip.Addr{}, alen)
	d.rec = mrt.Record{Header: mrt.Header{Timestamp: h.Sec, Type: mrt.TypeBGP4MP}}
	switch m.Type {
	case TypeRouteMonitoring:
		as4, ap := dec.LastEncoding()
		addPath := ap[0] || ap[1]
		sub := uint16(mrt.SubMessageAS4)
		if addPath {
			sub = mrt.SubMessageAS4AddPath
		}
		if !as4 {
			// 2-byte paths: the peer and local AS are 2 bytes too.
			b = append(b[:0], byte(h.AS>>8), byte(h.AS), 0, 0, 0, 0, byte(afi>>8), byte(afi))
			b = appendAddr(b, h.Addr, alen)
			b = appendAddr(b, netip.Addr{}, alen)
			sub = mrt.SubMessage
			if addPath {
				sub = mrt.SubMessageAddPath
			}
		}
		d.rec.Subtype = sub
		b = append(b, m.Update...)
	case TypePeerUp:
		d.rec.Subtype = mrt.SubStateChangeAS4
		b = append(b, 0, 1, 0, 6)
	case TypePeerDown:
		d.rec.Subtype = mrt.SubStateChangeAS4
		b = append(b, 0, 6, 0, 1)
	}
	d.body = b
	d.rec.Body = b
	d.rec.Length = uint32(len(b))
}

func appendAddr(b []byte, a netip.Addr, n int) []byte {
	if !a.IsValid() {
		return append(b, make([]byte, n)...)
	}
	if n == 4 {
		x := a.As4()
		return append(b, x[:]...)
	}
	x := a.As16()
	return append(b, x[:]...)
}
