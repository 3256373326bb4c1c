// Package web is bgpwatch's newsroom page: a small single-page app (HTML,
// CSS and vanilla JavaScript embedded in the binary, no CDN, no build step)
// that reads the JSON API, and server-rendered SVG charts of a country's or
// a network's visible IPv4 address space with the detected shutdown events
// shaded, titled, dated and source-credited so they can go into an article
// as they are:
//
//	GET /                                 the app (hash routes #/country/KZ, #/event/123, #/asn/9198)
//	GET /assets/*                         its static files
//	GET /v1/countries/{cc}/chart.svg      ?from&to (RFC 3339), like the series endpoints
//	GET /v1/asns/{asn}/chart.svg          ?from&to
//
// Mount the routes on the API's chi router with (*Web).Mount.
package web

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/internal/country"
	"github.com/bgpwatch/bgpwatch/wire"
)

// Source is the read side of the store the charts need; *store.DB
// implements it.
type Source interface {
	SeriesExtent(ctx context.Context) (bgpwatch.SeriesExtent, error)
	LatestBin(ctx context.Context, country string, asn bgpwatch.ASN) (time.Time, bool, error)
	Series(ctx context.Context, q bgpwatch.SeriesQuery) ([]bgpwatch.Point, error)
	ListEvents(ctx context.Context, f bgpwatch.EventFilter) ([]bgpwatch.Event, string, error)
	ASNSummary(ctx context.Context, asn bgpwatch.ASN, at time.Time) (bgpwatch.ASNSummary, error)
}

// ErrorWriter answers a request with an error (the API passes its own
// problem+json writer so that errors look the same everywhere).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Option configures a Web.
type Option func(*Web)

// WithClock sets the clock used for defaults (a chart without "to" and
// without stored series ends now) and for the "made" note on charts.
func WithClock(now func() time.Time) Option { return func(w *Web) { w.now = now } }

// WithErrorWriter replaces the default error writer, api.WriteError on the
// Web's logger.
func WithErrorWriter(f ErrorWriter) Option { return func(w *Web) { w.writeErr = f } }

// Web serves the newsroom app and the SVG charts. Create it with New.
type Web struct {
	src      Source
	log      *slog.Logger
	now      func() time.Time
	writeErr ErrorWriter
	assets   fs.FS
}

//go:embed assets
var assetFS embed.FS

// Limits on chart requests; their range and parameters are the series
// endpoints' (api.SeriesRange, api.ParseQuery).
const (
	maxChartPts = 900 // about one per horizontal pixel of the plot
	chartMaxAge = 60 * time.Second
)

// New returns the web handlers reading from src. logger may be nil.
func New(src Source, logger *slog.Logger, opts ...Option) *Web {
	w := &Web{src: src, log: logger, now: time.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil { // cannot happen: the directory is embedded
		sub = assetFS
	}
	w.assets = sub
	for _, o := range opts {
		o(w)
	}
	if w.writeErr == nil {
		w.writeErr = func(rw http.ResponseWriter, r *http.Request, err error) { api.WriteError(w.log, rw, r, err) }
	}
	return w
}

// Mount registers the app at "/", its files under "/assets/" and the two
// chart.svg routes on r.
func (w *Web) Mount(r chi.Router) {
	r.Get("/", w.handleIndex)
	r.Get("/assets/*", w.handleAsset)
	r.Get("/v1/countries/{cc}/chart.svg", w.handleCountryChart)
	r.Get("/v1/asns/{asn}/chart.svg", w.handleASNChart)
}

// Handler returns a router with only the web routes, for running the page
// on its own (tests, or behind a proxy that sends /v1 elsewhere).
func (w *Web) Handler() http.Handler {
	r := chi.NewRouter()
	w.Mount(r)
	return r
}

// appCSP lets the page load only its own files and talk only to its origin.
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

func (w *Web) handleIndex(rw http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(w.assets, "index.html")
	if err != nil {
		w.writeErr(rw, r, fmt.Errorf("index: %w", err))
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	rw.Write(b) // the client went away
}

func (w *Web) handleAsset(rw http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if name == "" || name == "index.html" || strings.Contains(name, "..") || !fs.ValidPath(name) {
		w.writeErr(rw, r, fmt.Errorf("asset %q: %w", clip(name), bgpwatch.ErrNotFound))
		return
	}
	if _, err := fs.Stat(w.assets, name); err != nil {
		w.writeErr(rw, r, fmt.Errorf("asset %q: %w", clip(name), bgpwatch.ErrNotFound))
		return
	}
	h := rw.Header()
	// No build step means no content hashes in names: let browsers keep the
	// files a little and revalidate (embed.FS files have no modification
	// time, so http.FileServer sends no Last-Modified; ETag-less but small).
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(rw, r, w.assets, name)
}

func (w *Web) handleCountryChart(rw http.ResponseWriter, r *http.Request) {
	cc, err := bgpwatch.ParseCountry(chi.URLParam(r, "cc"))
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	name := country.Name(cc)
	title := cc
	if name != "" {
		title = name + " (" + cc + ")"
	}
	w.chart(rw, r, bgpwatch.SeriesQuery{Country: cc}, title+": routed IPv4 address space, visible /24s", cc)
}

func (w *Web) handleASNChart(rw http.ResponseWriter, r *http.Request) {
	asn, err := bgpwatch.ParseASN(chi.URLParam(r, "asn"))
	if err == nil && asn == 0 {
		err = fmt.Errorf("%w ASN 0: reserved, not a network", bgpwatch.ErrInvalid)
	}
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	if _, err := api.ParseQuery(r, "from", "to"); err != nil {
		w.writeErr(rw, r, err)
		return
	}
	sum, err := w.src.ASNSummary(r.Context(), asn, time.Time{})
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	title := "AS" + asn.String()
	if sum.Name != "" {
		title += " " + clipText(sum.Name, 40)
	}
	if sum.Country != "" {
		title += " (" + sum.Country + ")"
	}
	w.chart(rw, r, bgpwatch.SeriesQuery{ASN: asn}, title+": routed IPv4 address space, visible /24s", sum.Country)
}

// chart answers a chart request for q's entity. The range defaults as the
// series endpoints do (api.SeriesRange): up to the entity's latest stored
// bin, 7 days back; a country without series is not found.
// cc is the country whose local time the chart gives next to UTC ("" none).
func (w *Web) chart(rw http.ResponseWriter, r *http.Request, q bgpwatch.SeriesQuery, title, cc string) {
	ctx := r.Context()
	v, err := api.ParseQuery(r, "from", "to")
	var from, to time.Time
	if err == nil {
		from, err = api.ParseTime("from", v.Get("from"))
	}
	if err == nil {
		to, err = api.ParseTime("to", v.Get("to"))
	}
	if err == nil {
		from, to, err = api.SeriesRange(from, to, func() (time.Time, bool, error) {
			latest, ok, err := w.src.LatestBin(ctx, q.Country, q.ASN)
			if err == nil && !ok && q.Country != "" {
				err = fmt.Errorf("country %s: no series stored: %w", q.Country, bgpwatch.ErrNotFound)
			}
			return latest, ok, err
		}, w.now())
	}
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	from = from.Truncate(bgpwatch.BinStep)
	ext, err := w.src.SeriesExtent(ctx)
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	// Only stored history: the axis starts at the first stored bin and
	// ends at the last, so no zeros are invented around replayed history.
	// A range entirely outside the history stays as asked, and says so.
	if ext.OK && from.Before(ext.Last) && to.After(ext.First) {
		if from.Before(ext.First) {
			from = ext.First
		}
		if to.After(ext.Last) {
			to = ext.Last
		}
	}
	step := (to.Sub(from)/maxChartPts + bgpwatch.BinStep - 1) / bgpwatch.BinStep * bgpwatch.BinStep
	step = max(step, bgpwatch.BinStep)
	c := chart{Title: title, From: from, To: to, Step: step, Made: w.now(), Country: cc}
	if ext.OK && !to.Before(ext.First) && !from.After(ext.Last) {
		q.From, q.To, q.Step = from, to, step
		if c.Points, err = w.src.Series(ctx, q); err != nil {
			w.writeErr(rw, r, err)
			return
		}
	}
	f := bgpwatch.EventFilter{Country: q.Country, ASN: q.ASN, Scope: bgpwatch.ScopeCountry, From: from, To: to, Limit: 200}
	if q.Country == "" {
		f.Scope = bgpwatch.ScopeASN
	}
	evs, _, err := w.src.ListEvents(ctx, f)
	if err != nil {
		w.writeErr(rw, r, err)
		return
	}
	for i := len(evs) - 1; i >= 0; i-- { // oldest first; only the entity's own events
		if q.Country != "" || evs[i].ASN == q.ASN {
			c.Events = append(c.Events, evs[i])
		}
	}
	c.Subtitle, c.Desc = describe(&c)

	body := c.render()
	h := rw.Header()
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(chartMaxAge/time.Second)))
	h.Set("X-Content-Type-Options", "nosniff")
	// Opened on its own, the SVG may not run anything.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	rw.Write(body) // the client went away
}

// describe writes the subtitle and the accessible description of a chart.
func describe(c *chart) (subtitle, desc string) {
	span := dateRange(c.From, c.To)
	res := "5-minute values"
	if c.Step > bgpwatch.BinStep {
		res = "lowest value per " + shortDur(c.Step)
	}
	subtitle = span + " UTC · address space seen by most full-feed BGP peers · " + res
	var b strings.Builder
	fmt.Fprintf(&b, "Line chart of visible IPv4 /24 equivalents from %s to %s UTC", c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339))
	if len(c.Points) > 0 {
		lo, hi := c.Points[0].Slash24, c.Points[0].Slash24
		for _, p := range c.Points {
			lo, hi = min(lo, p.Slash24), max(hi, p.Slash24)
		}
		fmt.Fprintf(&b, "; values range from %s to %s", thousands(lo), thousands(hi))
	} else {
		b.WriteString("; no data stored for this period")
	}
	switch len(c.Events) {
	case 0:
		b.WriteString(". No shutdown events detected in this period.")
	default:
		fmt.Fprintf(&b, ". %d shutdown event(s) shaded: ", len(c.Events))
		for i := range c.Events {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(eventSummary(&c.Events[i]))
			if l := country.FormatLocal(c.Country, c.Events[i].StartedAt); l != "" {
				b.WriteString(", started " + l + " local time")
			}
			if n := wire.UsersNote(&c.Events[i], country.Name); n != "" {
				b.WriteString(", " + n)
			}
		}
		b.WriteString(".")
	}
	b.WriteString(" " + Credit + ".")
	return subtitle, b.String()
}

// dateRange renders a range compactly: "3 Jan 2022 00:00 – 7 Jan 2022 00:00".
func dateRange(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	if from.Year() == to.Year() && from.YearDay() == to.YearDay() {
		return from.Format("Mon 2 Jan 2006, 15:04") + "–" + to.Format("15:04")
	}
	return from.Format("2 Jan 2006 15:04") + " – " + to.Format("2 Jan 2006 15:04")
}

// shortDur renders a step as "10 min", "1 h", "2 d".
func shortDur(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + " d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/time.Minute)) + " min"
}

// clip shortens user input quoted back in errors.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
