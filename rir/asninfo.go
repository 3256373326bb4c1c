package rir

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bgpwatch/bgpwatch"
)

// ReadASNInfo parses the asn-info CSV (see the README): a header naming the
// columns asn, name and access (in any order; other columns are ignored),
// then one row per ASN. asn is "9198" or "AS9198"; access is one of fixed,
// mobile, mixed, hosting, transit or unknown (empty means unknown). Lines
// starting with # are comments. An ASN listed twice is an error. name is
// used in error messages, which give the line.
func ReadASNInfo(r io.Reader, name string, fn func(bgpwatch.ASNInfo) error) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w: empty file, want a header asn,name,access: %w", name, ErrFormat, bgpwatch.ErrInvalid)
	}
	if err != nil {
		return csvErr(name, err)
	}
	col := map[string]int{"asn": -1, "name": -1, "access": -1}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := col[h]; ok && j < 0 {
			col[h] = i
		}
	}
	line, _ := cr.FieldPos(0)
	for _, c := range []string{"asn", "name", "access"} {
		if col[c] < 0 {
			return fmt.Errorf("%s:%d: %w: header %q has no %s column, want asn,name,access: %w",
				name, line, ErrFormat, strings.Join(head, ","), c, bgpwatch.ErrInvalid)
		}
	}
	seen := map[bgpwatch.ASN]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		field := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if col["asn"] >= len(rec) {
			return fmt.Errorf("%s:%d: %w: %d fields, no asn column: %w", name, line, ErrFormat, len(rec), bgpwatch.ErrInvalid)
		}
		asn, err := bgpwatch.ParseASN(field("asn"))
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		access, err := bgpwatch.ParseAccess(field("access"))
		if err != nil {
			return fmt.Errorf("%s:%d: AS%d: %w", name, line, asn, err)
		}
		if first, dup := seen[asn]; dup {
			return fmt.Errorf("%s:%d: %w: AS%d listed twice (first on line %d)", name, line, bgpwatch.ErrInvalid, asn, first)
		}
		seen[asn] = line
		if err := fn(bgpwatch.ASNInfo{ASN: asn, Name: field("name"), Access: access}); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w: %w: %w", name, pe.Line, ErrFormat, pe.Err, bgpwatch.ErrInvalid)
	}
	return fmt.Errorf("%s: read: %w", name, err)
}

// ReadASNames parses an ASN names list as published by the CIDR report:
// one "AS<n>  NAME, CC" line per ASN (the country is optional and ignored;
// "--No Registry Entry--" is no name). Blank lines and # comments are
// skipped. name is used in error messages.
func ReadASNames(r io.Reader, name string, fn func(asn bgpwatch.ASN, asName string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		num, rest, _ := strings.Cut(text, " ")
		if t, r2, ok := strings.Cut(num, "\t"); ok {
			num, rest = t, r2+" "+rest
		}
		if len(num) < 3 || !strings.EqualFold(num[:2], "AS") {
			return fmt.Errorf("%s:%d: %w: %q does not start with AS<number>: %w", name, line, ErrFormat, text, bgpwatch.ErrInvalid)
		}
		asn, err := bgpwatch.ParseASN(num)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		n := strings.TrimSpace(rest)
		if i := strings.LastIndex(n, ","); i >= 0 && isCountry(strings.TrimSpace(n[i+1:])) {
			n = strings.TrimSpace(n[:i])
		}
		if n == "--No Registry Entry--" {
			n = ""
		}
		if err := fn(asn, n); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: read: %w", name, line+1, err)
	}
	return nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
