package web

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

func TestChartRender(t *testing.T) {
	t0 := time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC)
	var pts []bgpwatch.Point
	for i := range 288 {
		tm := t0.Add(time.Duration(i) * bgpwatch.BinStep)
		v := 8000
		if i >= 150 && i < 190 {
			v = 2500
		}
		pts = append(pts, bgpwatch.Point{Time: tm, Counts: bgpwatch.Counts{Slash24: v}})
	}
	evil := `AS<script>alert(1)</script> "Evil" & 'co' ]]> <!-- \x00\x07` + "\xff"
	ev := []bgpwatch.Event{
		{ID: 7, Scope: bgpwatch.ScopeCountry, Country: "KZ", StartedAt: t0.Add(150 * bgpwatch.BinStep), EndedAt: t0.Add(190 * bgpwatch.BinStep),
			BaselineSlash24: 8000, MinSlash24: 2500, DropRatio: 0.6875},
		{ID: 8, Scope: bgpwatch.ScopeASN, ASN: 9198, Country: "KZ", StartedAt: t0.Add(280 * bgpwatch.BinStep), BaselineSlash24: 100, MinSlash24: 1, DropRatio: 0.99},
	}
	tests := []struct {
		name   string
		c      chart
		events int
		path   bool
	}{
		{"drop with events", chart{Title: evil, Subtitle: evil, Desc: evil, From: t0, To: t0.Add(287 * bgpwatch.BinStep), Step: bgpwatch.BinStep, Points: pts, Events: ev}, 2, true},
		{"no data", chart{Title: "Nowhere (XX)", From: t0, To: t0.Add(time.Hour), Step: bgpwatch.BinStep}, 0, false},
		{"events outside range", chart{Title: "x", From: t0, To: t0.Add(time.Hour), Step: bgpwatch.BinStep, Points: pts[:12], Events: ev}, 0, true},
		{"single instant", chart{Title: "x", From: t0, To: t0, Step: bgpwatch.BinStep, Points: pts[:1]}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.c.render()
			s := ParseSVG(t, b)
			if s.Root != "svg" || s.XMLNS != "http://www.w3.org/2000/svg" {
				t.Errorf("root %s in %q, want svg in the SVG namespace", s.Root, s.XMLNS)
			}
			if s.ViewBox != "0 0 960 520" {
				t.Errorf("viewBox %q", s.ViewBox)
			}
			if s.Title != tt.c.Title && !strings.Contains(tt.c.Title, "<") {
				t.Errorf("title %q, want %q", s.Title, tt.c.Title)
			}
			if got := s.Elems["rect.event"]; got != tt.events {
				t.Errorf("%d event rects, want %d", got, tt.events)
			}
			if got := s.Elems["path.series"] == 1; got != tt.path {
				t.Errorf("series path drawn %v, want %v", got, tt.path)
			}
			if s.Elems["script"] != 0 || bytes.Contains(b, []byte("<script")) || bytes.Contains(b, []byte("<!--")) {
				t.Errorf("input reached the markup: %s", b)
			}
			if !bytes.Contains(b, []byte(esc(Credit))) {
				t.Error("no source credit")
			}
			if s.Elems["g.x-axis"] != 1 || s.Elems["g.y-axis"] != 1 {
				t.Error("axes missing")
			}
		})
	}
	// The hostile title comes back as text, intact except for the
	// characters XML cannot carry.
	s := ParseSVG(t, tests[0].c.render())
	if !strings.Contains(s.Title, "AS<script>alert(1)</script> \"Evil\" & 'co' ]]> <!--") {
		t.Errorf("title text %q", s.Title)
	}
}

func TestNiceAxis(t *testing.T) {
	tests := []struct{ v, step, top int }{
		{0, 1, 4}, {1, 1, 2}, {7, 2, 8}, {10, 2, 12}, {95, 20, 100}, {8868, 2000, 10000}, {10000, 2000, 12000}, {123456, 25000, 125000},
	}
	for _, tt := range tests {
		step, top := niceAxis(tt.v)
		if step != tt.step || top != tt.top {
			t.Errorf("niceAxis(%d) = %d, %d; want %d, %d", tt.v, step, top, tt.step, tt.top)
		}
		if top < tt.v || top/step > 8 || top/step < 1 {
			t.Errorf("niceAxis(%d): %d ticks up to %d", tt.v, top/step, top)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	t0 := time.Date(2022, 1, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		first    string // top label of the first tick
		firstDay string
		min, max int
	}{
		{"four days", t0, t0.Add(96*time.Hour - bgpwatch.BinStep), "00:00", "Mon 3 Jan", 6, 12},
		{"six hours", t0.Add(7 * time.Hour), t0.Add(13 * time.Hour), "07:00", "Mon 3 Jan", 4, 12},
		{"thirty days", t0, t0.AddDate(0, 0, 30), "Mon 3 Jan", "", 4, 12},
		{"a year", t0, t0.AddDate(1, 0, 0), "Mar", "2022", 4, 14},
		{"five minutes", t0.Add(10 * time.Minute), t0.Add(15 * time.Minute), "", "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := timeTicks(tt.from, tt.to)
			if len(ts) < tt.min || len(ts) > tt.max {
				t.Fatalf("%d ticks, want %d..%d: %+v", len(ts), tt.min, tt.max, ts)
			}
			for i, tk := range ts {
				if tk.t.Before(tt.from) || tk.t.After(tt.to) {
					t.Errorf("tick %d at %s outside the range", i, tk.t)
				}
				if i > 0 && !tk.t.After(ts[i-1].t) {
					t.Errorf("ticks not increasing at %d", i)
				}
			}
			if len(ts) > 0 && (ts[0].top != tt.first || ts[0].bottom != tt.firstDay) {
				t.Errorf("first tick %q / %q, want %q / %q", ts[0].top, ts[0].bottom, tt.first, tt.firstDay)
			}
		})
	}
}

func TestEsc(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`<a href="x">&'`, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"tab\tnl\n", "tab\tnl\n"},
		{"Kazakhstan – Қазақстан", "Kazakhstan – Қазақстан"},
	}
	for _, tt := range tests {
		if got := esc(tt.in); got != tt.want {
			t.Errorf("esc(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzChartText renders charts with arbitrary titles and checks that the
// result is always well-formed XML whose title is the input as text.
func FuzzChartText(f *testing.F) {
	f.Add("Kazakhstan (KZ)", int64(3600))
	f.Add("AS1 <script>alert(1)</script>", int64(0))
	f.Add("]]><!--\x00\xff&amp;", int64(-5))
	f.Add(strings.Repeat("Ж", 200), int64(400*24*3600))
	t0 := time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, title string, span int64) {
		to := t0.Add(time.Duration(span%(400*24*3600)) * time.Second)
		c := chart{Title: title, Subtitle: title, Desc: title, From: t0, To: to, Step: bgpwatch.BinStep,
			Points: []bgpwatch.Point{{Time: t0, Counts: bgpwatch.Counts{Slash24: int(span & 0xffff)}}},
			Events: []bgpwatch.Event{{ID: 1, StartedAt: t0, EndedAt: to, DropRatio: 0.5}}}
		s := ParseSVG(t, c.render())
		if s.Root != "svg" || s.Elems["script"] != 0 {
			t.Fatalf("root %q, %d scripts", s.Root, s.Elems["script"])
		}
		var wb strings.Builder
		for _, r := range title { // invalid UTF-8: one U+FFFD per bad byte
			if !xmlChar(r) {
				r = '\uFFFD'
			}
			wb.WriteRune(r)
		}
		want := wb.String()
		// encoding/xml normalises \r\n and \r to \n in character data.
		want = strings.ReplaceAll(strings.ReplaceAll(want, "\r\n", "\n"), "\r", "\n")
		if s.Title != want {
			t.Fatalf("title %q, want %q", s.Title, want)
		}
	})
}

// TestChartLocalTimeAndUsers: a country chart names the country's main
// time zone next to UTC and the users estimate of its events; without a
// zone or an estimate neither appears.
func TestChartLocalTimeAndUsers(t *testing.T) {
	t0 := time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC)
	pts := []bgpwatch.Point{{Time: t0, Counts: bgpwatch.Counts{Slash24: 8000}}}
	ev := bgpwatch.Event{ID: 9, Scope: bgpwatch.ScopeCountry, Country: "KZ", StartedAt: t0.Add(time.Hour),
		BaselineSlash24: 8000, MinSlash24: 2500, DropRatio: 0.69,
		Users: &bgpwatch.Users{Estimate: 8e6, Share: 0.6213, Source: "apnic", Date: time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)}}
	c := chart{Title: "Kazakhstan (KZ)", From: t0, To: t0.Add(6 * time.Hour), Step: bgpwatch.BinStep, Points: pts,
		Events: []bgpwatch.Event{ev}, Country: "KZ"}
	svg := string(c.render())
	for _, want := range []string{
		"Times in UTC; local time Asia/Almaty = UTC+6 (main of 7 zones)",
		"Event 9: networks serving about 62 % of Kazakhstan&#39;s Internet users (APNIC estimate, 2022-01-04)",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	c.Country, c.Events[0].Users = "", nil
	svg = string(c.render())
	if strings.Contains(svg, "local time") || strings.Contains(svg, "Internet users") {
		t.Error("local time or users note without a country or an estimate")
	}
	c.Country = "KZ"
	_, desc := describe(&c)
	if !strings.Contains(desc, "started 07:00 Asia/Almaty (UTC+6), main zone of 7 local time") {
		t.Errorf("description lacks the local start time: %s", desc)
	}
}
