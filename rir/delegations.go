// Package rir reads what bgpwatch knows about networks from registry data:
// the RIR delegation statistics files (ASN → country), the asn-info CSV
// (name and access type, see the README) and ASN name lists such as the CIDR
// report's asnames.txt. A Registry combines them.
package rir

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bgpwatch/bgpwatch"
)

// ErrFormat marks input that is not in the expected file format. Errors
// also wrap bgpwatch.ErrInvalid, and name the file and line.
var ErrFormat = errors.New("bad format")

// Record is one resource row of a delegation statistics file, classic
// (7 fields) or extended (8 fields, with an opaque id).
type Record struct {
	Registry string // afrinic, apnic, arin, iana, lacnic, ripencc
	Country  string // ISO 3166-1 alpha-2 as written ("ZZ" or "" for available space)
	Type     string // asn, ipv4 or ipv6
	Start    string // first ASN or first address
	Value    uint64 // number of ASNs, of IPv4 addresses, or the IPv6 prefix length
	Date     string // YYYYMMDD, may be empty
	Status   string // allocated, assigned, available, reserved
	OpaqueID string // extended format only
}

// Delegated reports whether the record describes resources in use by a
// network (allocated or assigned), as opposed to the registry's free pool.
func (r Record) Delegated() bool { return r.Status == "allocated" || r.Status == "assigned" }

// ASNRange returns the ASN range of an asn record.
func (r Record) ASNRange() (first, last bgpwatch.ASN, err error) {
	if r.Type != "asn" {
		return 0, 0, fmt.Errorf("%w: %s record is not an asn record", bgpwatch.ErrInvalid, r.Type)
	}
	n, err := strconv.ParseUint(r.Start, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: asn start %q", bgpwatch.ErrInvalid, r.Start)
	}
	if r.Value == 0 || n+r.Value-1 > 1<<32-1 {
		return 0, 0, fmt.Errorf("%w: asn count %d from %d leaves the 32-bit space", bgpwatch.ErrInvalid, r.Value, n)
	}
	return bgpwatch.ASN(n), bgpwatch.ASN(n + r.Value - 1), nil
}

// ReadDelegations parses a delegation statistics file and calls fn for every
// resource row, skipping the version header, summary lines, comments and
// blank lines. name is used in error messages.
func ReadDelegations(r io.Reader, name string, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	sawHeader := false
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "|")
		if !sawHeader {
			// version|registry|serial|records|startdate|enddate|UTCoffset
			sawHeader = true
			if len(f) >= 6 && isVersion(f[0]) {
				continue
			}
		}
		if len(f) >= 6 && f[1] == "*" && f[5] == "summary" {
			continue
		}
		if len(f) != 7 && len(f) < 8 {
			return fmt.Errorf("%s:%d: %w: %d fields, want 7 (classic) or 8 (extended) separated by |: %w",
				name, line, ErrFormat, len(f), bgpwatch.ErrInvalid)
		}
		rec := Record{Registry: f[0], Country: f[1], Type: f[2], Start: f[3], Date: f[5], Status: f[6]}
		if len(f) >= 8 {
			rec.OpaqueID = f[7]
		}
		switch rec.Type {
		case "asn", "ipv4", "ipv6":
		default:
			return fmt.Errorf("%s:%d: %w: type %q, want asn, ipv4 or ipv6: %w", name, line, ErrFormat, rec.Type, bgpwatch.ErrInvalid)
		}
		v, err := strconv.ParseUint(f[4], 10, 64)
		if err != nil {
			return fmt.Errorf("%s:%d: %w: value %q is not a number: %w", name, line, ErrFormat, f[4], bgpwatch.ErrInvalid)
		}
		rec.Value = v
		if err := fn(rec); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: read: %w", name, line+1, err)
	}
	return nil
}

func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// open opens a file, transparently decompressing gzip and bzip2 (detected
// by their magic bytes, whatever the file is called).
func open(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: gzip: %w", path, err)
		}
		return zr, f.Close, nil
	case bytes.Equal(magic, []byte("BZh")):
		return bzip2.NewReader(br), f.Close, nil
	}
	return br, f.Close, nil
}
