package rislive

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxDepth is encoding/json's nesting limit, kept so that both accept
// the same messages.
const maxDepth = 10000

// scanner reads one JSON message (RFC 8259) held in s. Strings without
// escapes or non-ASCII bytes are returned as substrings of s, so a
// message costs one copy of its bytes, not one allocation per field.
type scanner struct {
	s     string
	i     int
	depth int
}

func (d *scanner) fail(field, what string) error {
	return fmt.Errorf("%w: offset %d: %s: %s", ErrMalformed, d.i, field, what)
}

func (d *scanner) ws() {
	if d.i < len(d.s) && d.s[d.i] > ' ' {
		return
	}
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the byte at the position, 0 at the end.
func (d *scanner) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *scanner) lit(w string) error {
	if !strings.HasPrefix(d.s[d.i:], w) {
		return d.fail("value", "invalid literal")
	}
	d.i += len(w)
	return nil
}

// object reads an object at the position ('{' next), calling fn with
// each key; fn must read the value.
// objectOrNull reads null (fn is not called) or an object whose members
// fn reads; anything else fails with reason, naming the value what.
func (d *scanner) objectOrNull(what, reason string, fn func(key string) error) error {
	d.ws()
	if d.peek() == 'n' {
		return d.lit("null")
	}
	if d.peek() != '{' {
		return d.fail(what, reason)
	}
	return d.object(fn)
}

func (d *scanner) object(fn func(key string) error) error {
	if d.depth++; d.depth > maxDepth {
		return d.fail("value", "nested too deeply")
	}
	d.i++ // '{'
	d.ws()
	if d.peek() == '}' {
		d.i++
		d.depth--
		return nil
	}
	for {
		d.ws()
		if d.peek() != '"' {
			return d.fail("object", "want a key")
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		if d.peek() != ':' {
			return d.fail(k, "want ':'")
		}
		d.i++
		if err := fn(k); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return nil
		default:
			return d.fail(k, "want ',' or '}' after the value")
		}
	}
}

// array reads an array at the position ('[' next), calling fn for each
// element; fn must read it.
func (d *scanner) array(fn func() error) error {
	if d.depth++; d.depth > maxDepth {
		return d.fail("value", "nested too deeply")
	}
	d.i++ // '['
	d.ws()
	if d.peek() == ']' {
		d.i++
		d.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return nil
		default:
			return d.fail("array", "want ',' or ']' after an element")
		}
	}
}

// skip reads and checks one value of any kind.
func (d *scanner) skip() error {
	d.ws()
	switch c := d.peek(); {
	case c == '"':
		_, _, err := d.rawString()
		return err
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	case c == 0 && d.i >= len(d.s):
		return d.fail("value", "unexpected end")
	}
	return d.fail("value", fmt.Sprintf("invalid character %q", d.peek()))
}

// rawValue reads one value and returns its text.
func (d *scanner) rawValue() (string, error) {
	d.ws()
	start := d.i
	err := d.skip()
	return d.s[start:d.i], err
}

// rawString reads a string at the position ('"' next) and returns its
// contents as written; plain reports that it has no escapes and only
// ASCII, so that the contents are its value.
func (d *scanner) rawString() (raw string, plain bool, err error) {
	d.i++ // '"'
	start := d.i
	// Fast path: up to the next quote, no escape, control or non-ASCII
	// byte.
	if n := strings.IndexByte(d.s[start:], '"'); n >= 0 {
		seg := d.s[start : start+n]
		clean := true
		for i := 0; i < len(seg); i++ {
			if special[seg[i]] {
				clean = false
				break
			}
		}
		if clean {
			d.i = start + n + 1
			return seg, true, nil
		}
	}
	plain = true
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return d.s[start : d.i-1], plain, nil
		case c == '\\':
			plain = false
			if d.i+1 >= len(d.s) {
				return "", false, d.fail("string", "unexpected end")
			}
			switch d.s[d.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i += 2
			case 'u':
				if d.i+6 > len(d.s) {
					return "", false, d.fail("string", "unexpected end")
				}
				for _, h := range []byte(d.s[d.i+2 : d.i+6]) {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return "", false, d.fail("string", "invalid \\u escape")
					}
				}
				d.i += 6
			default:
				return "", false, d.fail("string", "invalid escape")
			}
		case c < 0x20:
			return "", false, d.fail("string", "control character")
		default:
			if c >= 0x80 {
				plain = false
			}
			d.i++
		}
	}
	return "", false, d.fail("string", "unexpected end")
}

// special marks the bytes that end rawString's fast path: a backslash,
// control characters and non-ASCII bytes.
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c == '\\' || c >= 0x80
	}
	return t
}()

// str reads a string at the position ('"' next) and returns its value.
func (d *scanner) str() (string, error) {
	start := d.i
	raw, plain, err := d.rawString()
	if err != nil || plain {
		return raw, err
	}
	// Escapes or non-ASCII (invalid UTF-8 becomes U+FFFD): rare in RIS
	// Live; encoding/json decodes them.
	var v string
	if err := json.Unmarshal([]byte(d.s[start:d.i]), &v); err != nil {
		return "", fmt.Errorf("%w: offset %d: %v", ErrMalformed, start, err)
	}
	return v, nil
}

// strInto reads a string into *p for field; null leaves *p as it is, as
// encoding/json does.
func (d *scanner) strInto(p *string, field string) error {
	d.ws()
	if d.peek() == 'n' {
		return d.lit("null")
	}
	s, err := d.optString(field)
	if err == nil {
		*p = s
	}
	return err
}

// optString reads a string or null ("") for field.
func (d *scanner) optString(field string) (string, error) {
	d.ws()
	switch d.peek() {
	case '"':
		return d.str()
	case 'n':
		return "", d.lit("null")
	}
	if err := d.skip(); err != nil {
		return "", err
	}
	return "", d.fail(field, "not a string")
}

// number reads a JSON number and returns its text.
func (d *scanner) number() (string, error) {
	start := d.i
	digits := func() bool {
		n := d.i
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
		}
		return d.i > n
	}
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		digits()
	default:
		return "", d.fail("number", "want a digit")
	}
	if d.peek() == '.' {
		d.i++
		if !digits() {
			return "", d.fail("number", "want a digit after '.'")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !digits() {
			return "", d.fail("number", "want a digit in the exponent")
		}
	}
	return d.s[start:d.i], nil
}

// floatInto reads a number into *p for field; null leaves *p as it is.
func (d *scanner) floatInto(p *float64, field string) error {
	d.ws()
	c := d.peek()
	if c == 'n' {
		return d.lit("null")
	}
	if c != '-' && (c < '0' || c > '9') {
		if err := d.skip(); err != nil {
			return err
		}
		return d.fail(field, "not a number")
	}
	tok, err := d.number()
	if err != nil {
		return err
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return d.fail(field, "number out of range")
	}
	*p = v
	return nil
}

// fold returns the name among names that key matches, as encoding/json
// matches object keys to fields: exactly, else ignoring case (Unicode
// simple folding); "" if none.
func fold(key string, names ...string) string {
	for _, n := range names {
		if key == n {
			return n
		}
	}
	// Names are lower-case ASCII: a key of lower-case ASCII that is not
	// one of them matches none.
	lower := true
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= 0x80 || (c >= 'A' && c <= 'Z') {
			lower = false
			break
		}
	}
	if lower {
		return ""
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}
