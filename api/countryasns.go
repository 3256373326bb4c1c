package api

import (
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

type countryASNsJSON struct {
	Country string `json:"country"`
	Name    string `json:"name"`
	// Time is the bin of the counts; null when no series are stored for it.
	Time *time.Time `json:"time"`
	// BaselineFrom starts the baseline window [baseline_from, time).
	BaselineFrom *time.Time `json:"baseline_from"`
	// Total counts the networks before ?limit cut the list.
	Total int              `json:"total"`
	ASNs  []countryASNJSON `json:"asns"`
}

// maxCountryASNs bounds ?limit of the networks of a country: above the
// largest country's count (about 30,000 networks), so any country can be
// read whole with an explicit limit.
const maxCountryASNs = 100000

type countryASNJSON struct {
	ASN               uint32   `json:"asn"`
	Name              string   `json:"name"`
	Access            string   `json:"access"`
	AccessSource      *string  `json:"access_source"` // null while unknown
	AccessDate        *string  `json:"access_date"`
	UsersEstimate     *int64   `json:"users_estimate,omitempty"`
	UsersShare        *float64 `json:"users_share,omitempty"`
	VisibleSlash24    int      `json:"visible_slash24"`
	BaselineSlash24   *int     `json:"baseline_slash24"`
	VisiblePrefixes   int      `json:"visible_prefixes"`
	VisibleV6Prefixes int      `json:"visible_v6_prefixes"`
	EventID           *int64   `json:"event_id"`
}

var countryASNsCSVHeader = []string{"asn", "name", "access", "visible_slash24", "baseline_slash24",
	"visible_prefixes", "visible_v6_prefixes", "event_id", "access_source", "access_date", "users_estimate", "users_share"}

func (a *countryASNJSON) csv() []string {
	base, ev := "", ""
	if a.BaselineSlash24 != nil {
		base = itoa(*a.BaselineSlash24)
	}
	if a.EventID != nil {
		ev = strconv.FormatInt(*a.EventID, 10)
	}
	src, date, users, share := "", "", "", ""
	if a.AccessSource != nil {
		src = *a.AccessSource
	}
	if a.AccessDate != nil {
		date = *a.AccessDate
	}
	if a.UsersEstimate != nil {
		users = strconv.FormatInt(*a.UsersEstimate, 10)
	}
	if a.UsersShare != nil {
		share = strconv.FormatFloat(*a.UsersShare, 'f', -1, 64)
	}
	return []string{strconv.FormatUint(uint64(a.ASN), 10), a.Name, a.Access, itoa(a.VisibleSlash24), base,
		itoa(a.VisiblePrefixes), itoa(a.VisibleV6Prefixes), ev, src, date, users, share}
}

// handleCountryASNs lists the networks registered to a country, largest
// first, with their counts at a bin (?at, default the latest stored; a time
// after it reads the latest) and their baseline over the window before it
// (Config.BaselineWindow, cut to the stored history); ?limit keeps the
// first (largest) networks. One store query whatever the number of
// networks.
func (s *Server) handleCountryASNs(r *http.Request) (*response, error) {
	cc, err := bgpwatch.ParseCountry(chi.URLParam(r, "cc"))
	if err != nil {
		return nil, err
	}
	v, err := query(r, "at", "limit", "format")
	if err != nil {
		return nil, err
	}
	at, err := parseTime("at", v.Get("at"))
	if err != nil {
		return nil, err
	}
	limit, err := parseLimit(v.Get("limit"), maxCountryASNs, maxCountryASNs)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	ext, err := s.extentNow(ctx)
	if err != nil {
		return nil, err
	}
	q := bgpwatch.CountryASNsQuery{Country: cc}
	out := countryASNsJSON{Country: cc, Name: country.Name(cc)}
	if ext.OK {
		if at.IsZero() || at.After(ext.Last) {
			at = ext.Last
		}
		at = at.Truncate(bgpwatch.BinStep)
		if !at.Before(ext.First) {
			from := at.Add(-s.baselineWindow)
			if from.Before(ext.First) {
				from = ext.First
			}
			q.At, q.BaselineFrom = at, from
			out.Time, out.BaselineFrom = &at, &from
		}
	}
	ns, err := s.st.CountryASNs(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 && out.Name == "" {
		return nil, fmt.Errorf("country %s: not a known country code, and no networks are registered to it: %w", cc, bgpwatch.ErrNotFound)
	}
	out.Total = len(ns)
	ns = ns[:min(len(ns), limit)]
	out.ASNs = make([]countryASNJSON, len(ns))
	for i := range ns {
		n := &ns[i]
		a := countryASNJSON{ASN: uint32(n.ASN), Name: n.Name, Access: string(n.Access),
			VisibleSlash24: n.Slash24, VisiblePrefixes: n.Prefixes, VisibleV6Prefixes: n.V6Prefixes}
		a.AccessSource, a.AccessDate = wire.Provenance(n.Access, n.AccessSource, n.AccessDate)
		if u := n.Users; u != nil {
			est, sh := u.Estimate, math.Round(u.Share*1e4)/1e4
			a.UsersEstimate, a.UsersShare = &est, &sh
		}
		if a.Access == "" {
			a.Access = string(bgpwatch.AccessUnknown)
		}
		if n.HasBaseline {
			a.BaselineSlash24 = &n.Baseline
		}
		if n.EventID != 0 {
			a.EventID = &n.EventID
		}
		out.ASNs[i] = a
	}
	return tableResponse(r, seriesMaxAge, out, countryASNsCSVHeader, len(out.ASNs), func(i int) []string { return out.ASNs[i].csv() })
}
