package bmp

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"
)

// A capture file holds packets, not a byte stream: ReadCapture takes the
// TCP payload of every connection in it and puts each direction back in
// sequence order, as the receiving end saw it.

// Stream is one direction of one TCP connection in a capture.
type Stream struct {
	Src, Dst netip.AddrPort
	Start    time.Time // time of its first packet
	Data     []byte    // payload in sequence order, up to the first gap
	// Gap is set when segments are missing from the capture: Data ends
	// where the missing bytes start, and Lost counts the bytes seen after.
	Gap  bool
	Lost int
}

// IsCapture reports whether a file starting with magic is a pcap or
// pcapng capture.
func IsCapture(magic []byte) bool {
	if len(magic) < 4 {
		return false
	}
	switch binary.BigEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
		return true
	}
	return false
}

// Capture limits: a packet record longer than maxPacket is damage, and a
// capture may hold at most maxCaptureBytes of TCP payload.
const (
	maxPacket       = 256 << 10
	maxCaptureBytes = 1 << 30
)

type flowKey struct{ src, dst netip.AddrPort }

type segment struct {
	seq  uint32
	data []byte
}

type flow struct {
	start time.Time
	isn   uint32
	syn   bool
	segs  []segment
	// synData is the index in segs of a SYN's payload (TCP Fast Open, or
	// a capture rewritten by a tool), -1 without one.
	synData int
}

// ReadCapture reads a pcap or pcapng file and returns its TCP streams
// that carry payload, in order of their first packet. Errors name the
// file offset of the damaged record.
func ReadCapture(r io.Reader) ([]Stream, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	c := &capReader{br: br, flows: map[flowKey]*flow{}}
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a {
		err = c.pcapng()
	} else {
		err = c.pcap()
	}
	if err != nil {
		return nil, err
	}
	return c.streams(), nil
}

type capReader struct {
	br    *bufio.Reader
	off   int64
	flows map[flowKey]*flow
	order []flowKey
	total int
}

func (c *capReader) read(n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := io.ReadFull(c.br, b)
	c.off += int64(got)
	return b, err
}

func (c *capReader) errf(off int64, format string, a ...any) error {
	return fmt.Errorf("capture: offset %d: %s", off, fmt.Sprintf(format, a...))
}

func (c *capReader) pcap() error {
	h, err := c.read(24)
	if err != nil {
		return c.errf(0, "pcap file header: %v", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	nano := false
	switch binary.BigEndian.Uint32(h) {
	case 0xa1b2c3d4:
		bo = binary.BigEndian
	case 0xa1b23c4d:
		bo, nano = binary.BigEndian, true
	case 0x4d3cb2a1:
		nano = true
	case 0xd4c3b2a1:
	default:
		return c.errf(0, "not a pcap file")
	}
	link := bo.Uint32(h[20:]) & 0xffff
	for {
		at := c.off
		rh, err := c.read(16)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.errf(at, "packet record header: %v", err)
		}
		n := bo.Uint32(rh[8:])
		if n > maxPacket {
			return c.errf(at+8, "packet length %d over %d", n, maxPacket)
		}
		data, err := c.read(int(n))
		if err != nil {
			return c.errf(at, "packet of %d bytes: %v", n, err)
		}
		frac := int64(bo.Uint32(rh[4:]))
		if !nano {
			frac *= 1000
		}
		if err := c.packet(link, time.Unix(int64(bo.Uint32(rh)), frac).UTC(), data); err != nil {
			return c.errf(at, "%v", err)
		}
	}
}

func (c *capReader) pcapng() error {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32
	for {
		at := c.off
		bh, err := c.read(8)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.errf(at, "pcapng block header: %v", err)
		}
		typ := binary.BigEndian.Uint32(bh)
		if typ == 0x0a0d0d0a {
			bom, err := c.br.Peek(4)
			if err != nil {
				return c.errf(at, "pcapng section header: %v", err)
			}
			switch binary.BigEndian.Uint32(bom) {
			case 0x1a2b3c4d:
				bo = binary.BigEndian
			case 0x4d3c2b1a:
				bo = binary.LittleEndian
			default:
				return c.errf(at+8, "pcapng section header: bad byte-order magic")
			}
			links = links[:0]
		} else {
			typ = bo.Uint32(bh)
		}
		n := bo.Uint32(bh[4:])
		if n < 12 || n%4 != 0 || n > maxPacket+64 {
			return c.errf(at+4, "pcapng block length %d", n)
		}
		body, err := c.read(int(n) - 8)
		if err != nil {
			return c.errf(at, "pcapng block of %d bytes: %v", n, err)
		}
		body = body[:len(body)-4]
		switch typ {
		case 1: // interface description
			if len(body) < 8 {
				return c.errf(at, "pcapng interface block too short")
			}
			links = append(links, uint32(bo.Uint16(body)))
		case 6: // enhanced packet
			if len(body) < 20 {
				return c.errf(at, "pcapng packet block too short")
			}
			ifc, capLen := bo.Uint32(body), bo.Uint32(body[12:])
			if int(ifc) >= len(links) || int(capLen) > len(body)-20 {
				return c.errf(at, "pcapng packet block: interface %d or length %d out of range", ifc, capLen)
			}
			// Default resolution: microseconds.
			ts := int64(bo.Uint32(body[4:]))<<32 | int64(bo.Uint32(body[8:]))
			if err := c.packet(links[ifc], time.UnixMicro(ts).UTC(), body[20:20+capLen]); err != nil {
				return c.errf(at, "%v", err)
			}
		case 3: // simple packet
			if len(links) == 0 || len(body) < 4 {
				return c.errf(at, "pcapng simple packet block without interface")
			}
			if err := c.packet(links[0], time.Time{}, body[4:]); err != nil {
				return c.errf(at, "%v", err)
			}
		}
	}
}

// packet takes the TCP segment out of one link-layer frame; frames of
// other protocols are skipped.
func (c *capReader) packet(link uint32, t time.Time, b []byte) error {
	var ethType uint16
	switch link {
	case 1: // Ethernet
		if len(b) < 14 {
			return nil
		}
		ethType, b = binary.BigEndian.Uint16(b[12:]), b[14:]
		for (ethType == 0x8100 || ethType == 0x88a8) && len(b) >= 4 {
			ethType, b = binary.BigEndian.Uint16(b[2:]), b[4:]
		}
	case 113: // Linux cooked
		if len(b) < 16 {
			return nil
		}
		ethType, b = binary.BigEndian.Uint16(b[14:]), b[16:]
	case 276: // Linux cooked v2
		if len(b) < 20 {
			return nil
		}
		ethType, b = binary.BigEndian.Uint16(b), b[20:]
	case 0, 108: // BSD loopback: address family in host or network order
		if len(b) < 4 {
			return nil
		}
		af := binary.LittleEndian.Uint32(b)
		if af > 0xffff {
			af = binary.BigEndian.Uint32(b)
		}
		ethType, b = 0x0800, b[4:]
		if af == 24 || af == 28 || af == 30 || af == 10 {
			ethType = 0x86dd
		}
	case 101, 12, 14, 228, 229: // raw IP
		if len(b) < 1 {
			return nil
		}
		ethType = 0x0800
		if b[0]>>4 == 6 {
			ethType = 0x86dd
		}
	default:
		return fmt.Errorf("link type %d not supported (want Ethernet, Linux cooked, loopback or raw IP)", link)
	}
	var src, dst netip.Addr
	switch ethType {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return nil
		}
		hl, tl := int(b[0]&15)*4, int(binary.BigEndian.Uint16(b[2:]))
		if hl < 20 || tl < hl || b[9] != 6 || binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
			return nil // not TCP, or a fragment
		}
		if tl < len(b) {
			b = b[:tl] // Ethernet padding
		}
		if len(b) < hl {
			return nil
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		b = b[hl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return nil
		}
		pl, next := int(binary.BigEndian.Uint16(b[4:])), b[6]
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		b = b[40:]
		if pl < len(b) {
			b = b[:pl]
		}
		for next == 0 || next == 43 || next == 60 {
			if len(b) < 8 || len(b) < (int(b[1])+1)*8 {
				return nil
			}
			next, b = b[0], b[(int(b[1])+1)*8:]
		}
		if next != 6 {
			return nil
		}
	default:
		return nil
	}
	if len(b) < 20 {
		return nil
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > len(b) {
		return nil
	}
	k := flowKey{netip.AddrPortFrom(src, binary.BigEndian.Uint16(b)), netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:]))}
	seq, flags := binary.BigEndian.Uint32(b[4:]), b[13]
	f := c.flows[k]
	if f == nil {
		f = &flow{start: t, synData: -1}
		c.flows[k] = f
		c.order = append(c.order, k)
	}
	payload := b[off:]
	if flags&0x02 != 0 { // SYN
		f.syn, f.isn = true, seq+1
		seq++
		if len(payload) > 0 {
			f.synData = len(f.segs)
		}
	}
	if len(payload) > 0 {
		c.total += len(payload)
		if c.total > maxCaptureBytes {
			return fmt.Errorf("more than %d bytes of TCP payload", maxCaptureBytes)
		}
		f.segs = append(f.segs, segment{seq: seq, data: payload})
	}
	return nil
}

// streams reassembles each direction: segments sorted by sequence number
// relative to the initial one (the SYN's, else the lowest seen near the
// first segment), retransmissions and overlaps taken once.
func (c *capReader) streams() []Stream {
	var out []Stream
	for _, k := range c.order {
		f := c.flows[k]
		if len(f.segs) == 0 {
			continue
		}
		base := f.isn
		if f.synData >= 0 {
			// The payload of a SYN follows its sequence number (RFC
			// 9293), but capture rewriting tools put it at the SYN's
			// own number: take that when the next segment says so.
			sd := f.segs[f.synData]
			for _, s := range f.segs {
				if s.seq == sd.seq-1+uint32(len(sd.data)) {
					f.segs[f.synData].seq--
					base--
					break
				}
			}
		}
		if !f.syn {
			base = f.segs[0].seq
			for _, s := range f.segs {
				if d := int32(s.seq - base); d < 0 {
					base = s.seq
				}
			}
		}
		rel := func(s segment) int64 { return int64(s.seq - base) }
		slices.SortStableFunc(f.segs, func(a, b segment) int { return cmp.Compare(rel(a), rel(b)) })
		var buf bytes.Buffer
		st := Stream{Src: k.src, Dst: k.dst, Start: f.start}
		for _, s := range f.segs {
			r, end := rel(s), int64(buf.Len())
			if r > end {
				st.Gap = true
			}
			if st.Gap {
				st.Lost += len(s.data)
				continue
			}
			if r+int64(len(s.data)) > end {
				buf.Write(s.data[end-r:])
			}
		}
		st.Data = buf.Bytes()
		out = append(out, st)
	}
	return out
}

// ErrNoStream marks a capture without TCP payload.
var ErrNoStream = errors.New("capture holds no TCP payload")
