package web

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// SVGStats is what ParseSVG found in an SVG document.
type SVGStats struct {
	Root, XMLNS, ViewBox string         // the root element
	Title, Desc          string         // the root's <title> and <desc>
	Elems                map[string]int // by local name and by "name.class"
	Text                 []string       // the non-blank character data
}

// ParseSVG walks an SVG document with encoding/xml and counts what a chart
// must have; it fails the test when the document is not well-formed or has
// an event handler attribute. It is exported from a test file for the
// external tests of the chart handlers (web_test.go).
func ParseSVG(t testing.TB, b []byte) SVGStats {
	t.Helper()
	s := SVGStats{Elems: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				s.Root, s.XMLNS = tk.Name.Local, tk.Name.Space
				for _, a := range tk.Attr {
					if a.Name.Local == "viewBox" {
						s.ViewBox = a.Value
					}
				}
			}
			stack = append(stack, tk.Name.Local)
			s.Elems[tk.Name.Local]++
			for _, a := range tk.Attr {
				if a.Name.Local == "class" {
					for _, c := range strings.Fields(a.Value) {
						s.Elems[tk.Name.Local+"."+c]++
					}
				}
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					t.Errorf("event handler attribute %s=%q", a.Name.Local, a.Value)
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			txt := string(tk)
			switch {
			case len(stack) == 2 && stack[1] == "title":
				s.Title += txt
			case len(stack) == 2 && stack[1] == "desc":
				s.Desc += txt
			}
			if strings.TrimSpace(txt) != "" {
				s.Text = append(s.Text, txt)
			}
		}
	}
	return s
}
