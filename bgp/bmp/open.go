package bmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Capabilities is what a BGP OPEN announces that changes how UPDATEs are
// encoded: 4-byte AS numbers (RFC 6793) and ADD-PATH (RFC 7911).
type Capabilities struct {
	AS4 bool
	ASN uint32 // the 4-byte AS capability's value, else the OPEN's My AS
	// AddPath is the ADD-PATH Send/Receive value (1 receive, 2 send,
	// 3 both) for IPv4 unicast ([0]) and IPv6 unicast ([1]).
	AddPath [2]uint8
}

// ParseOpen decodes the capabilities of a BGP OPEN message (with its
// 19-byte header), including the extended optional parameters length of
// RFC 9072.
func ParseOpen(msg []byte) (Capabilities, error) {
	var c Capabilities
	if len(msg) < 19+10 {
		return c, fmt.Errorf("OPEN: %d bytes, minimum 29", len(msg))
	}
	b := msg[19:]
	c.ASN = uint32(binary.BigEndian.Uint16(b[1:]))
	ol := int(b[9])
	b = b[10:]
	ext := false
	if ol == 255 && len(b) >= 3 && b[0] == 255 {
		// RFC 9072: a 2-byte length follows a parameter type of 255.
		ext = true
		ol = int(binary.BigEndian.Uint16(b[1:]))
		b = b[3:]
	}
	if ol > len(b) {
		return c, fmt.Errorf("OPEN: optional parameters length %d runs past the message (%d bytes left)", ol, len(b))
	}
	b = b[:ol]
	for len(b) > 0 {
		hl := 2
		if ext {
			hl = 3
		}
		if len(b) < hl {
			return c, errors.New("OPEN: optional parameter header runs past the parameters")
		}
		t := b[0]
		var l int
		if ext {
			l = int(binary.BigEndian.Uint16(b[1:]))
		} else {
			l = int(b[1])
		}
		if len(b) < hl+l {
			return c, fmt.Errorf("OPEN: optional parameter type %d length %d runs past the parameters", t, l)
		}
		v := b[hl : hl+l]
		b = b[hl+l:]
		if t != 2 { // capabilities
			continue
		}
		for len(v) > 0 {
			if len(v) < 2 || len(v) < 2+int(v[1]) {
				return c, errors.New("OPEN: capability runs past its parameter")
			}
			code, cv := v[0], v[2:2+int(v[1])]
			v = v[2+int(v[1]):]
			switch code {
			case 65:
				if len(cv) == 4 {
					c.AS4 = true
					c.ASN = binary.BigEndian.Uint32(cv)
				}
			case 69:
				for ; len(cv) >= 4; cv = cv[4:] {
					afi, safi := binary.BigEndian.Uint16(cv), cv[2]
					if safi == 1 && (afi == 1 || afi == 2) {
						c.AddPath[afi-1] = cv[3] & 3
					}
				}
			}
		}
	}
	return c, nil
}
