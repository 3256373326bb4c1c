package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/country"
	"github.com/bgpwatch/bgpwatch/wire"
)

// How long clients and proxies may keep read responses.
const (
	seriesMaxAge = 60 * time.Second
	eventsMaxAge = 30 * time.Second
)

// healthTimeout bounds the database ping of /v1/health: a server that
// does not answer counts as down.
const healthTimeout = 5 * time.Second

type healthJSON struct {
	Status    string     `json:"status"`
	Version   string     `json:"version,omitempty"`
	Database  string     `json:"database"`
	LatestBin *time.Time `json:"latest_bin"`
	Time      time.Time  `json:"time"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %w", errDatabase, err))
		return
	}
	h := healthJSON{Status: "ok", Version: s.cfg.Version, Database: "ok", Time: s.now().UTC().Truncate(time.Second)}
	if ext, err := s.extentNow(r.Context()); err == nil && ext.OK {
		h.LatestBin = &ext.Last
	}
	rs, _ := jsonResponse(h, 0)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", rs.ctype)
	w.Write(rs.body) // the client went away
}

type countryJSON struct {
	Code              string    `json:"code"`
	Name              string    `json:"name"`
	ASNs              int       `json:"asns"`
	VisiblePrefixes   int       `json:"visible_prefixes"`
	VisibleSlash24    int       `json:"visible_slash24"`
	VisibleV6Prefixes int       `json:"visible_v6_prefixes"`
	Time              time.Time `json:"time"`
}

func (s *Server) handleCountries(r *http.Request) (*response, error) {
	if _, err := query(r, "format"); err != nil {
		return nil, err
	}
	cs, err := s.st.LatestCountries(r.Context())
	if err != nil {
		return nil, err
	}
	out := struct {
		Countries []countryJSON `json:"countries"`
	}{Countries: make([]countryJSON, 0, len(cs))}
	for _, c := range cs {
		out.Countries = append(out.Countries, countryJSON{
			Code: c.Country, Name: country.Name(c.Country), ASNs: c.ASNs,
			VisiblePrefixes: c.Prefixes, VisibleSlash24: c.Slash24, VisibleV6Prefixes: c.V6Prefixes,
			Time: c.Bin,
		})
	}
	return tableResponse(r, seriesMaxAge, out, []string{"code", "name", "asns", "visible_prefixes", "visible_slash24", "visible_v6_prefixes", "time"},
		len(out.Countries), func(i int) []string {
			c := &out.Countries[i]
			return []string{c.Code, c.Name, itoa(c.ASNs), itoa(c.VisiblePrefixes), itoa(c.VisibleSlash24), itoa(c.VisibleV6Prefixes),
				c.Time.UTC().Format(time.RFC3339)}
		})
}

type pointJSON struct {
	Time              time.Time `json:"time"`
	VisiblePrefixes   int       `json:"visible_prefixes"`
	VisibleSlash24    int       `json:"visible_slash24"`
	VisibleV6Prefixes int       `json:"visible_v6_prefixes"`
}

type seriesJSON struct {
	Country string      `json:"country,omitempty"`
	ASN     *uint32     `json:"asn,omitempty"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Step    int         `json:"step"`
	Points  []pointJSON `json:"points"`
}

func (s *Server) handleCountrySeries(r *http.Request) (*response, error) {
	cc, err := bgpwatch.ParseCountry(chi.URLParam(r, "cc"))
	if err != nil {
		return nil, err
	}
	return s.series(r, bgpwatch.SeriesQuery{Country: cc})
}

func (s *Server) handleASNSeries(r *http.Request) (*response, error) {
	asn, err := parseASN(chi.URLParam(r, "asn"))
	if err != nil {
		return nil, err
	}
	return s.series(r, bgpwatch.SeriesQuery{ASN: asn})
}

func parseASN(s string) (bgpwatch.ASN, error) {
	asn, err := bgpwatch.ParseASN(s)
	if err != nil {
		return 0, err
	}
	if asn == 0 {
		return 0, invalid("ASN 0: reserved, not a network")
	}
	return asn, nil
}

// parseStep accepts seconds ("3600") or a duration ("1h"); it must be a
// positive multiple of 300 s.
func parseStep(s string) (time.Duration, error) {
	if s == "" {
		return bgpwatch.BinStep, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > int64(maxRange/time.Second) {
			return 0, invalid("step %q: want a positive multiple of 300 seconds", clip(s))
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, invalid("step %q: want seconds (3600) or a duration (1h), a multiple of 300 s", clip(s))
	}
	if d <= 0 || d%bgpwatch.BinStep != 0 || d > maxRange {
		return 0, invalid("step %q: want a positive multiple of 300 seconds", clip(s))
	}
	return d, nil
}

// series answers a series request over the range SeriesRange resolves.
// The bins are then clipped to the stored history, so no invented values
// appear before the first or after the last stored bin.
func (s *Server) series(r *http.Request, q bgpwatch.SeriesQuery) (*response, error) {
	v, err := query(r, "from", "to", "step", "format")
	if err != nil {
		return nil, err
	}
	from, err := parseTime("from", v.Get("from"))
	if err != nil {
		return nil, err
	}
	to, err := parseTime("to", v.Get("to"))
	if err != nil {
		return nil, err
	}
	step, err := parseStep(v.Get("step"))
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	from, to, err = SeriesRange(from, to, func() (time.Time, bool, error) { return s.st.LatestBin(ctx, q.Country, q.ASN) }, s.now())
	if err != nil {
		return nil, err
	}
	if n := int(to.Sub(from)/step) + 1; n > maxPoints {
		need := ((to.Sub(from)/time.Duration(maxPoints-1) + bgpwatch.BinStep - 1) / bgpwatch.BinStep) * bgpwatch.BinStep
		return nil, invalid("range: %d points of %d s are more than the %d allowed; ask for step=%d or a shorter range",
			n, int(step/time.Second), maxPoints, int(need/time.Second))
	}
	out := seriesJSON{Country: q.Country, From: from, To: to, Step: int(step / time.Second), Points: []pointJSON{}}
	if q.Country == "" {
		a := uint32(q.ASN)
		out.ASN = &a
	}
	ext, err := s.extentNow(ctx)
	if err != nil {
		return nil, err
	}
	if ext.OK {
		q.From, q.To, q.Step = from, to, step
		if q.From.Before(ext.First) {
			q.From = ext.First
		}
		if q.To.After(ext.Last) {
			q.To = ext.Last
		}
		if !q.To.Before(q.From) {
			pts, err := s.st.Series(ctx, q)
			if err != nil {
				return nil, err
			}
			out.Points = make([]pointJSON, len(pts))
			for i, p := range pts {
				out.Points[i] = pointJSON{Time: p.Time, VisiblePrefixes: p.Prefixes, VisibleSlash24: p.Slash24, VisibleV6Prefixes: p.V6Prefixes}
			}
		}
	}
	return tableResponse(r, seriesMaxAge, out, []string{"time", "visible_prefixes", "visible_slash24", "visible_v6_prefixes"}, len(out.Points),
		func(i int) []string {
			p := &out.Points[i]
			return []string{p.Time.Format(time.RFC3339), itoa(p.VisiblePrefixes), itoa(p.VisibleSlash24), itoa(p.VisibleV6Prefixes)}
		})
}

type asnJSON struct {
	ASN               uint32     `json:"asn"`
	Name              string     `json:"name"`
	Country           string     `json:"country"`
	Access            string     `json:"access"`
	AccessSource      *string    `json:"access_source"` // user, curated, peeringdb, caida, name; null while unknown
	AccessDate        *string    `json:"access_date"`   // date of that source's data; null without one
	UsersEstimate     *int64     `json:"users_estimate,omitempty"`
	UsersShare        *float64   `json:"users_share,omitempty"` // of users_country's Internet users
	UsersCountry      string     `json:"users_country,omitempty"`
	UsersSource       string     `json:"users_source,omitempty"`
	UsersDate         string     `json:"users_date,omitempty"`
	Time              *time.Time `json:"time"` // the bin of the counts; null without series
	VisiblePrefixes   int        `json:"visible_prefixes"`
	VisibleSlash24    int        `json:"visible_slash24"`
	VisibleV6Prefixes int        `json:"visible_v6_prefixes"`
}

func (s *Server) handleASN(r *http.Request) (*response, error) {
	asn, err := parseASN(chi.URLParam(r, "asn"))
	if err != nil {
		return nil, err
	}
	if _, err := query(r, "format"); err != nil {
		return nil, err
	}
	ext, err := s.extentNow(r.Context())
	if err != nil {
		return nil, err
	}
	var at time.Time
	if ext.OK {
		at = ext.Last
	}
	sum, err := s.st.ASNSummary(r.Context(), asn, at)
	if err != nil {
		return nil, err
	}
	out := asnJSON{ASN: uint32(asn), Name: sum.Name, Country: sum.Country, Access: string(sum.Access),
		VisiblePrefixes: sum.Prefixes, VisibleSlash24: sum.Slash24, VisibleV6Prefixes: sum.V6Prefixes}
	if out.Access == "" {
		out.Access = string(bgpwatch.AccessUnknown)
	}
	out.AccessSource, out.AccessDate = wire.Provenance(sum.Access, sum.AccessSource, sum.AccessDate)
	if u := sum.Users; u != nil {
		n, sh := u.Estimate, math.Round(u.Share*1e4)/1e4
		out.UsersEstimate, out.UsersShare, out.UsersCountry, out.UsersSource = &n, &sh, u.Country, u.Source
		if !u.Date.IsZero() {
			out.UsersDate = u.Date.UTC().Format(time.DateOnly)
		}
	}
	if !sum.At.IsZero() {
		out.Time = &sum.At
	}
	// CSV: one row, the JSON fields in their order (time empty without
	// series).
	return tableResponse(r, seriesMaxAge, out, []string{"asn", "name", "country", "access", "time", "visible_prefixes", "visible_slash24", "visible_v6_prefixes"},
		1, func(int) []string {
			tm := ""
			if out.Time != nil {
				tm = out.Time.UTC().Format(time.RFC3339)
			}
			return []string{strconv.FormatUint(uint64(out.ASN), 10), out.Name, out.Country, out.Access, tm,
				itoa(out.VisiblePrefixes), itoa(out.VisibleSlash24), itoa(out.VisibleV6Prefixes)}
		})
}
