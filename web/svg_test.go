package web_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// svgStats walks an SVG document with encoding/xml and counts what a chart
// must have; it fails the test when the document is not well-formed.
type svgStats struct {
	root, xmlns, viewBox string
	title, desc          string
	elems                map[string]int // by local name and by "name.class"
	text                 []string
}

func parseSVGDoc(t testing.TB, b []byte) svgStats {
	t.Helper()
	s := svgStats{elems: map[string]int{}}
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
				s.root, s.xmlns = tk.Name.Local, tk.Name.Space
				for _, a := range tk.Attr {
					if a.Name.Local == "viewBox" {
						s.viewBox = a.Value
					}
				}
			}
			stack = append(stack, tk.Name.Local)
			s.elems[tk.Name.Local]++
			for _, a := range tk.Attr {
				if a.Name.Local == "class" {
					for _, c := range strings.Fields(a.Value) {
						s.elems[tk.Name.Local+"."+c]++
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
				s.title += txt
			case len(stack) == 2 && stack[1] == "desc":
				s.desc += txt
			}
			if strings.TrimSpace(txt) != "" {
				s.text = append(s.text, txt)
			}
		}
	}
	return s
}
