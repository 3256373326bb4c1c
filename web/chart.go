package web

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/country"
	"github.com/bgpwatch/bgpwatch/wire"
)

// Credit is the source line every chart carries.
const Credit = "Source: bgpwatch, BGP data from RIPE RIS / RouteViews"

// chartFont lists fonts most newsroom systems and browsers have, ending in
// generic sans-serif.
const chartFont = `'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif`

// Chart geometry in viewBox units.
const (
	chartW     = 960
	chartH     = 520
	plotLeft   = 72
	plotRight  = chartW - 28
	plotTop    = 132 // below title, subtitle and the event label rows
	plotBottom = chartH - 76
	labelRowH  = 15
	labelRows  = 3
)

// chart is everything one SVG chart shows.
type chart struct {
	Title    string
	Subtitle string
	// Desc is the accessible long description (<desc>).
	Desc     string
	From, To time.Time // the x range, bin start times
	Step     time.Duration
	Points   []bgpwatch.Point
	Events   []bgpwatch.Event
	Made     time.Time // when the chart was drawn, for the footer
	// Country, when set, is the country whose main time zone the time axis
	// names next to UTC, and whose events' users estimates the note shows.
	Country string
}

// localNote names the country's main time zone and its offset at the
// start of the chart: "local time Asia/Almaty = UTC+6"; "" without a
// known zone.
func (c *chart) localNote() string {
	lt, name, ok := country.LocalTime(c.Country, c.From)
	if !ok {
		return ""
	}
	s := "local time " + name + " = " + country.UTCOffset(lt)
	if _, n := country.Zone(c.Country); n > 1 {
		s += fmt.Sprintf(" (main of %d zones)", n)
	}
	return s
}

// usersNote is the users estimate of the shown event that cut off the
// largest share of users: "Event 9: networks serving about ..."; "".
func (c *chart) usersNote() string {
	var best *bgpwatch.Event
	for i := range c.Events {
		e := &c.Events[i]
		if e.Users != nil && (best == nil || e.Users.Share > best.Users.Share) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	return fmt.Sprintf("Event %d: %s", best.ID, wire.UsersNote(best, country.Name))
}

// render writes the chart as a standalone SVG document.
func (c *chart) render() []byte {
	var b bytes.Buffer
	b.Grow(16 << 10)
	span := c.To.Sub(c.From)
	if span <= 0 {
		span = bgpwatch.BinStep
	}
	pw, ph := float64(plotRight-plotLeft), float64(plotBottom-plotTop)
	xOf := func(t time.Time) float64 {
		return plotLeft + pw*float64(t.Sub(c.From))/float64(span)
	}
	maxV := 0
	for _, p := range c.Points {
		maxV = max(maxV, p.Slash24)
	}
	for _, e := range c.Events {
		maxV = max(maxV, e.BaselineSlash24)
	}
	yStep, yMax := niceAxis(maxV)
	yOf := func(v int) float64 { return plotBottom - ph*float64(v)/float64(yMax) }

	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title chart-desc" font-family="%s" class="bgpwatch-chart">`+"\n",
		chartW, chartH, chartW, chartH, esc(chartFont))
	fmt.Fprintf(&b, "<title id=\"chart-title\">%s</title>\n<desc id=\"chart-desc\">%s</desc>\n", esc(c.Title), esc(c.Desc))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text fill="#1a1a1a" x="%d" y="34" font-size="21" font-weight="700">%s</text>`+"\n", plotLeft-48, esc(clipText(c.Title, 78)))
	fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%d" y="58" font-size="13">%s</text>`+"\n", plotLeft-48, esc(clipText(c.Subtitle, 130)))
	// The country's local time, under the subtitle (the time axis is UTC).
	if l := c.localNote(); l != "" {
		fmt.Fprintf(&b, `<text class="tz" fill="#5c5c5c" x="%d" y="76" font-size="12">%s</text>`+"\n", plotLeft-48, esc("Times in UTC; "+l))
	}

	// Horizontal grid and y axis labels, from 0.
	b.WriteString(`<g class="y-axis" font-size="12" text-anchor="end">` + "\n")
	for v := 0; v <= yMax; v += yStep {
		y := yOf(v)
		cls := `stroke="#e3e3e3"`
		if v == 0 {
			cls = `stroke="#1a1a1a"`
		}
		fmt.Fprintf(&b, `<line %s x1="%d" x2="%d" y1="%s" y2="%s"/>`, cls, plotLeft, plotRight, f1(y), f1(y))
		fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%d" y="%s">%s</text>`+"\n", plotLeft-8, f1(y+4), thousands(v))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<text fill="#5c5c5c" font-size="12" transform="translate(16 %s) rotate(-90)" text-anchor="middle">visible /24 equivalents</text>`+"\n", f1((plotTop+plotBottom)/2.0))

	// Events: shaded spans with start/end lines, labels in rows above.
	b.WriteString(`<g class="events">` + "\n")
	var rowEnd [labelRows]float64
	for i := range rowEnd {
		rowEnd[i] = math.Inf(-1)
	}
	for i := range c.Events {
		e := &c.Events[i]
		end := e.EndedAt
		if end.IsZero() || end.After(c.To) {
			end = c.To
		}
		x0, x1 := math.Max(xOf(e.StartedAt), plotLeft), math.Min(xOf(end), plotRight)
		if x1 < plotLeft || x0 > plotRight {
			continue
		}
		w := math.Max(x1-x0, 1.5)
		fmt.Fprintf(&b, `<rect class="event" fill="#d62728" fill-opacity="0.13" data-event-id="%d" x="%s" y="%d" width="%s" height="%d"><title>%s</title></rect>`+"\n",
			e.ID, f1(x0), plotTop, f1(w), plotBottom-plotTop, esc(eventSummary(e)))
		if xs := xOf(e.StartedAt); xs >= plotLeft {
			fmt.Fprintf(&b, `<line stroke="#d62728" stroke-dasharray="3 2" x1="%s" x2="%s" y1="%d" y2="%d"/>`, f1(xs), f1(xs), plotTop-4, plotBottom)
		}
		if !e.EndedAt.IsZero() && !e.EndedAt.After(c.To) {
			fmt.Fprintf(&b, `<line stroke="#d62728" stroke-dasharray="3 2" x1="%s" x2="%s" y1="%d" y2="%d"/>`, f1(x1), f1(x1), plotTop, plotBottom)
		}
		label := eventLabel(e, c.From, c.To)
		lw := textWidth(label, 11)
		lx := x0
		if lx+lw > plotRight {
			lx = math.Max(plotRight-lw, plotLeft)
		}
		row := -1
		for r := range rowEnd {
			if lx >= rowEnd[r]+8 {
				row = r
				break
			}
		}
		if row < 0 { // no room: the shading and its <title> still show the event
			continue
		}
		rowEnd[row] = lx + lw
		y := plotTop - 8 - (labelRows-1-row)*labelRowH
		fmt.Fprintf(&b, `<text class="event-label" fill="#a01c1d" x="%s" y="%d" font-size="11">%s</text>`+"\n", f1(lx), y, esc(label))
	}
	b.WriteString("</g>\n")

	// The series: area and line, broken where there are no points.
	if len(c.Points) > 0 {
		var line, area strings.Builder
		for i, p := range c.Points {
			x, y := xOf(p.Time), yOf(p.Slash24)
			if i == 0 {
				fmt.Fprintf(&line, "M%s %s", f1(x), f1(y))
				fmt.Fprintf(&area, "M%s %d L%s %s", f1(x), plotBottom, f1(x), f1(y))
				continue
			}
			// Steps, not slopes: a bin's value holds until the next bin.
			fmt.Fprintf(&line, "H%sV%s", f1(x), f1(y))
			fmt.Fprintf(&area, "H%sV%s", f1(x), f1(y))
		}
		last := xOf(c.Points[len(c.Points)-1].Time.Add(c.Step))
		last = math.Min(last, plotRight)
		fmt.Fprintf(&line, "H%s", f1(last))
		fmt.Fprintf(&area, "H%sV%dZ", f1(last), plotBottom)
		fmt.Fprintf(&b, `<path class="area" fill="#1f5fa8" fill-opacity="0.08" d="%s"/>`+"\n", area.String())
		fmt.Fprintf(&b, `<path class="series" fill="none" stroke="#1f5fa8" stroke-width="2" stroke-linejoin="round" d="%s"/>`+"\n", line.String())
	} else {
		fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%s" y="%s" font-size="16" text-anchor="middle">No data stored for this period</text>`+"\n",
			f1((plotLeft+plotRight)/2.0), f1((plotTop+plotBottom)/2.0))
	}

	// Time axis (UTC).
	b.WriteString(`<g class="x-axis" font-size="12" text-anchor="middle">` + "\n")
	for _, tk := range timeTicks(c.From, c.To) {
		x := xOf(tk.t)
		fmt.Fprintf(&b, `<line stroke="#1a1a1a" x1="%s" x2="%s" y1="%d" y2="%d"/>`, f1(x), f1(x), plotBottom, plotBottom+5)
		fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%s" y="%d">%s</text>`, f1(x), plotBottom+19, esc(tk.top))
		if tk.bottom != "" {
			fmt.Fprintf(&b, `<text fill="#1a1a1a" x="%s" y="%d" font-weight="600">%s</text>`, f1(x), plotBottom+34, esc(tk.bottom))
		}
		b.WriteString("\n")
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%d" y="%d" font-size="12" text-anchor="end">UTC</text>`+"\n", plotRight, plotBottom+34+14)
	if n := c.usersNote(); n != "" {
		fmt.Fprintf(&b, `<text class="users" fill="#1a1a1a" x="%d" y="%d" font-size="12">%s</text>`+"\n", plotLeft-48, plotBottom+34+14, esc(clipText(n, 110)))
	}

	// Footer: credit and legend.
	fy := chartH - 14
	fmt.Fprintf(&b, `<text class="credit" fill="#5c5c5c" x="%d" y="%d" font-size="12">%s</text>`+"\n", plotLeft-48, fy, esc(Credit))
	note := "Shaded: shutdown events detected by bgpwatch"
	if !c.Made.IsZero() {
		note += " · chart made " + c.Made.UTC().Format("2 Jan 2006 15:04") + " UTC"
	}
	fmt.Fprintf(&b, `<text fill="#5c5c5c" x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`+"\n", plotRight, fy, esc(note))
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// eventLabel is the short label above an event's shading: its start, its
// end (or "ongoing") and its drop.
func eventLabel(e *bgpwatch.Event, from, to time.Time) string {
	layout := "2 Jan 15:04"
	if to.Sub(from) <= 36*time.Hour {
		layout = "15:04"
	}
	s := e.StartedAt.UTC().Format(layout)
	switch {
	case e.EndedAt.IsZero():
		s += "–ongoing"
	case e.EndedAt.UTC().Truncate(24 * time.Hour).Equal(e.StartedAt.UTC().Truncate(24 * time.Hour)):
		s += "–" + e.EndedAt.UTC().Format("15:04")
	default:
		s += "–" + e.EndedAt.UTC().Format(layout)
	}
	if e.DropRatio > 0 {
		s += fmt.Sprintf(" −%d%%", int(math.Round(e.DropRatio*100)))
	}
	return s
}

// eventSummary is the tooltip of an event's shading.
func eventSummary(e *bgpwatch.Event) string {
	who := e.Country
	if e.Scope == bgpwatch.ScopeASN {
		who = "AS" + e.ASN.String()
	}
	end := "ongoing"
	if !e.EndedAt.IsZero() {
		end = e.EndedAt.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	return fmt.Sprintf("Event %d, %s: %s UTC to %s; visible /24s %s → %s (−%d%%)", e.ID, who,
		e.StartedAt.UTC().Format("2006-01-02 15:04"), end, thousands(e.BaselineSlash24), thousands(e.MinSlash24),
		int(math.Round(e.DropRatio*100)))
}

// niceAxis picks a round tick step and an axis maximum at or above v
// with four to eight ticks.
func niceAxis(v int) (step, top int) {
	if v <= 0 {
		return 1, 4
	}
	raw := float64(v) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = int(mag)
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if mag*m >= raw {
			step = int(math.Max(1, math.Round(mag*m)))
			break
		}
	}
	top = ((v + step - 1) / step) * step
	if top == v { // keep a little headroom above the highest value
		top += step
	}
	return step, top
}

// tick is one time axis label: the time of day on top, the date below at
// day boundaries.
type tick struct {
	t           time.Time
	top, bottom string
}

// timeTicks places round UTC ticks between from and to, about 6 to 12.
func timeTicks(from, to time.Time) []tick {
	from, to = from.UTC(), to.UTC()
	span := to.Sub(from)
	steps := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
		24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour}
	var out []tick
	for _, st := range steps {
		if span/st > 10 {
			continue
		}
		first := from.Truncate(st) // UTC-aligned: time.Truncate works on absolute time
		if first.Before(from) {
			first = first.Add(st)
		}
		for t := first; !t.After(to); t = t.Add(st) {
			tk := tick{t: t}
			if st < 24*time.Hour {
				tk.top = t.Format("15:04")
				if t.Hour() == 0 {
					tk.bottom = t.Format("Mon 2 Jan")
				}
			} else {
				tk.top = t.Format("Mon 2 Jan")
			}
			out = append(out, tk)
		}
		break
	}
	if len(out) == 0 { // longer than 20 weeks: months
		t := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
		n := int(span/(24*time.Hour*30)/10) + 1
		for ; !t.After(to); t = t.AddDate(0, n, 0) {
			if !t.Before(from) {
				tk := tick{t: t, top: t.Format("Jan")}
				if t.Month() == time.January || len(out) == 0 {
					tk.bottom = t.Format("2006")
				}
				out = append(out, tk)
			}
		}
	}
	// Give the first tick of a sub-day axis its date, so every chart is dated.
	if len(out) > 0 && out[0].bottom == "" && strings.Contains(out[0].top, ":") {
		out[0].bottom = out[0].t.Format("Mon 2 Jan")
	}
	return out
}

// textWidth estimates the width of s in a sans-serif font of size px.
func textWidth(s string, px float64) float64 {
	return float64(utf8.RuneCountInString(s)) * px * 0.56
}

// clipText shortens s to at most n runes.
func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// esc escapes s for XML text and attribute values and replaces runes that
// XML 1.0 forbids (control characters, invalid UTF-8) with U+FFFD, so no
// input can end a text node, open an element or break the document.
func esc(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if !xmlChar(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// f1 formats a coordinate with one decimal.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// thousands renders n with comma grouping (12,345).
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
