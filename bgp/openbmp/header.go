// Package openbmp reads BMP from Kafka as the OpenBMP collector publishes
// it (the "raw" message format, e.g. RouteViews' live BMP stream): every
// Kafka record is an OpenBMP binary header naming the collector and the
// router, followed by one BMP message. The Consumer decodes the messages
// of each router with bgp/bmp and sends the observations to live ingest;
// it commits a record's offset only once what the record carried is
// stored (see Consumer.Wrap).
package openbmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Magic starts every OpenBMP binary header.
const Magic = "OBMP"

// TypeBMPRaw is the object type of a raw BMP message.
const TypeBMPRaw = 12

// Header flags.
const (
	FlagRouterMsg = 0x80 // the message comes from a router (has router fields)
	FlagRouterV6  = 0x40 // the router IP is IPv6
)

// minHeaderLen is the fixed part of the header (names empty).
const minHeaderLen = 4 + 2 + 2 + 4 + 1 + 1 + 4 + 4 + 16 + 2 + 16 + 16 + 2 + 4

// Header is an OpenBMP binary header (version 1.7).
//
//	magic "OBMP" | major 1 | minor 7 | header length (2) | message length (4)
//	flags (1) | object type (1) | collector time: seconds (4), microseconds (4)
//	collector hash (16) | collector name (admin id) length (2) | name
//	router hash (16) | router IP (16; IPv4 in the first 4 bytes)
//	router group length (2) | group | row count (4)
type Header struct {
	Major, Minor  uint8
	Len           uint16 // header bytes, the message follows
	MsgLen        uint32 // bytes of the BMP message
	Flags         uint8
	Type          uint8
	Time          time.Time // when the collector received the message
	CollectorHash [16]byte
	Collector     string // the collector's admin id
	RouterHash    [16]byte
	RouterIP      netip.Addr
	RouterGroup   string
	Rows          uint32
}

// ErrNotBMP marks a record that is not a router's raw BMP message (a
// collector heartbeat, another object type); consumers skip it.
var ErrNotBMP = errors.New("not a raw BMP message of a router")

// Parse decodes the OpenBMP header of record b and returns it with the
// BMP message it carries. Errors name the byte offset in the record.
func Parse(b []byte) (Header, []byte, error) {
	var h Header
	fail := func(off int, format string, a ...any) (Header, []byte, error) {
		return h, nil, fmt.Errorf("openbmp header: offset %d: %s", off, fmt.Sprintf(format, a...))
	}
	if len(b) < 12 {
		return fail(0, "record of %d bytes, too short", len(b))
	}
	if string(b[:4]) != Magic {
		return fail(0, "magic %q, want %q", b[:4], Magic)
	}
	h.Major, h.Minor = b[4], b[5]
	if h.Major != 1 {
		return fail(4, "version %d.%d, want 1.x", h.Major, h.Minor)
	}
	h.Len = binary.BigEndian.Uint16(b[6:])
	h.MsgLen = binary.BigEndian.Uint32(b[8:])
	if int(h.Len) > len(b) {
		return fail(6, "header length %d runs past the record (%d bytes)", h.Len, len(b))
	}
	if uint64(h.Len)+uint64(h.MsgLen) > uint64(len(b)) {
		return fail(8, "header (%d) and message (%d) lengths run past the record's %d bytes", h.Len, h.MsgLen, len(b))
	}
	if len(b) < 14 {
		return fail(12, "no flags and object type")
	}
	h.Flags, h.Type = b[12], b[13]
	if h.Type != TypeBMPRaw || h.Flags&FlagRouterMsg == 0 {
		return h, nil, ErrNotBMP
	}
	hb := b[:h.Len]
	if len(hb) < minHeaderLen {
		return fail(6, "header length %d, minimum %d", h.Len, minHeaderLen)
	}
	h.Time = time.Unix(int64(binary.BigEndian.Uint32(hb[14:])), int64(binary.BigEndian.Uint32(hb[18:])%1000000)*1000).UTC()
	copy(h.CollectorHash[:], hb[22:38])
	p := 38
	n := int(binary.BigEndian.Uint16(hb[p:]))
	p += 2
	if len(hb)-p < n+16+16+2+4 {
		return fail(p-2, "collector name length %d runs past the header", n)
	}
	h.Collector = string(hb[p : p+n])
	p += n
	copy(h.RouterHash[:], hb[p:p+16])
	p += 16
	if h.Flags&FlagRouterV6 != 0 {
		h.RouterIP = netip.AddrFrom16([16]byte(hb[p : p+16]))
	} else {
		h.RouterIP = netip.AddrFrom4([4]byte(hb[p : p+4]))
	}
	p += 16
	n = int(binary.BigEndian.Uint16(hb[p:]))
	p += 2
	if len(hb)-p < n+4 {
		return fail(p-2, "router group length %d runs past the header", n)
	}
	h.RouterGroup = string(hb[p : p+n])
	p += n
	h.Rows = binary.BigEndian.Uint32(hb[p:])
	if h.Rows != 1 {
		return fail(p, "row count %d, want 1 (one BMP message per record)", h.Rows)
	}
	return h, b[h.Len : uint32(h.Len)+h.MsgLen], nil
}

// Append encodes h (lengths, magic and version filled in) followed by the
// BMP message msg, as the OpenBMP collector writes a record.
func Append(dst []byte, h Header, msg []byte) []byte {
	dst = append(dst, Magic...)
	dst = append(dst, 1, 7)
	hl := minHeaderLen + len(h.Collector) + len(h.RouterGroup)
	dst = binary.BigEndian.AppendUint16(dst, uint16(hl))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(msg)))
	flags := uint8(FlagRouterMsg)
	if h.RouterIP.Is6() {
		flags |= FlagRouterV6
	}
	dst = append(dst, flags, TypeBMPRaw)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Time.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Time.Nanosecond()/1000))
	dst = append(dst, h.CollectorHash[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Collector)))
	dst = append(dst, h.Collector...)
	dst = append(dst, h.RouterHash[:]...)
	var ip [16]byte
	if h.RouterIP.Is6() {
		ip = h.RouterIP.As16()
	} else if h.RouterIP.Is4() {
		a := h.RouterIP.As4()
		copy(ip[:], a[:])
	}
	dst = append(dst, ip[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.RouterGroup)))
	dst = append(dst, h.RouterGroup...)
	dst = binary.BigEndian.AppendUint32(dst, 1)
	return append(dst, msg...)
}
