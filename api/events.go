package api

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/wire"
)

type eventsJSON struct {
	Events     []wire.Event `json:"events"`
	NextCursor *string      `json:"next_cursor"`
}

func (s *Server) handleEvents(r *http.Request) (*response, error) {
	v, err := query(r, "country", "asn", "scope", "from", "to", "limit", "cursor", "format")
	if err != nil {
		return nil, err
	}
	var f bgpwatch.EventFilter
	if c := v.Get("country"); c != "" {
		if f.Country, err = bgpwatch.ParseCountry(c); err != nil {
			return nil, err
		}
	}
	if a := v.Get("asn"); a != "" {
		if f.ASN, err = parseASN(a); err != nil {
			return nil, err
		}
	}
	switch sc := v.Get("scope"); sc {
	case "":
	case string(bgpwatch.ScopeCountry), string(bgpwatch.ScopeASN):
		f.Scope = bgpwatch.Scope(sc)
	default:
		return nil, invalid("scope %q: want country or asn", clip(sc))
	}
	if f.From, err = parseTime("from", v.Get("from")); err != nil {
		return nil, err
	}
	if f.To, err = parseTime("to", v.Get("to")); err != nil {
		return nil, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, invalid("range: from must be before to")
	}
	if f.Limit, err = parseLimit(v.Get("limit"), 100, maxLimit); err != nil {
		return nil, err
	}
	if f.Cursor, err = parseCursor(v.Get("cursor")); err != nil {
		return nil, err
	}
	evs, next, err := s.st.ListEvents(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := eventsJSON{Events: make([]wire.Event, 0, len(evs))}
	for i := range evs {
		out.Events = append(out.Events, wire.FromEvent(&evs[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return nextPage(r, v, next)(tableResponse(r, eventsMaxAge, out, eventsCSVHeader, len(out.Events),
		func(i int) []string { return eventCSV(&out.Events[i]) }))
}

// nextPage returns a function that adds the X-Next-Cursor and Link headers
// of the next page to an answer (for CSV clients, which have no body field
// for the cursor); with next empty it changes nothing.
func nextPage(r *http.Request, v url.Values, next string) func(*response, error) (*response, error) {
	return func(rs *response, err error) (*response, error) {
		if err != nil || next == "" {
			return rs, err
		}
		nv := url.Values{}
		for k, x := range v {
			nv[k] = x
		}
		nv.Set("cursor", next)
		rs.header = http.Header{
			"X-Next-Cursor": {next},
			"Link":          {"<" + r.URL.Path + "?" + nv.Encode() + `>; rel="next"`},
		}
		return rs, nil
	}
}

var eventsCSVHeader = []string{"id", "scope", "country", "asn", "access", "status", "started_at", "ended_at",
	"baseline_slash24", "min_slash24", "drop_ratio", "alert_area", "withdrawn_prefixes", "asns",
	"access_sources", "users_estimate", "users_share", "users_date", "time_zone"}

func eventCSV(e *wire.Event) []string {
	asn, ended, asns := "", "", ""
	if e.ASN != nil {
		asn = strconv.FormatUint(uint64(*e.ASN), 10)
	}
	if e.EndedAt != nil {
		ended = e.EndedAt.Format(time.RFC3339)
	}
	for i, a := range e.ASNs {
		if i > 0 {
			asns += " "
		}
		asns += strconv.FormatUint(uint64(a.ASN), 10)
	}
	// access_sources as "source:share" pairs, largest first.
	srcs := make([]string, 0, len(e.AccessSources))
	for k := range e.AccessSources {
		srcs = append(srcs, k)
	}
	sort.Slice(srcs, func(i, j int) bool {
		a, b := e.AccessSources[srcs[i]], e.AccessSources[srcs[j]]
		return a > b || a == b && srcs[i] < srcs[j]
	})
	for i, k := range srcs {
		srcs[i] = k + ":" + strconv.FormatFloat(e.AccessSources[k], 'f', -1, 64)
	}
	users, share := "", ""
	if e.UsersEstimate != nil {
		users = strconv.FormatInt(*e.UsersEstimate, 10)
	}
	if e.UsersShare != nil {
		share = strconv.FormatFloat(*e.UsersShare, 'f', -1, 64)
	}
	return []string{strconv.FormatInt(e.ID, 10), e.Scope, e.Country, asn, e.Access, e.Status,
		e.StartedAt.Format(time.RFC3339), ended, itoa(e.BaselineSlash24), itoa(e.MinSlash24),
		strconv.FormatFloat(e.DropRatio, 'f', -1, 64), strconv.FormatFloat(e.AlertArea, 'f', -1, 64),
		itoa(e.WithdrawnPrefixes), asns, strings.Join(srcs, " "), users, share, e.UsersDate, e.TimeZone}
}

func (s *Server) handleEvent(r *http.Request) (*response, error) {
	id, err := parseID("event", chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	if _, err := query(r, "format"); err != nil {
		return nil, err
	}
	ev, err := s.st.GetEvent(r.Context(), id)
	if err != nil {
		return nil, err
	}
	// CSV: the event's row of /v1/events (same columns; the contributing
	// networks in the asns column), so a spreadsheet can take both.
	out := wire.FromEvent(&ev)
	return tableResponse(r, eventsMaxAge, out, eventsCSVHeader, 1, func(int) []string { return eventCSV(&out) })
}

type prefixJSON struct {
	Prefix      string    `json:"prefix"`
	OriginASN   uint32    `json:"origin_asn"`
	WithdrawnAt time.Time `json:"withdrawn_at"`
}

func (s *Server) handleEventPrefixes(r *http.Request) (*response, error) {
	id, err := parseID("event", chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	v, err := query(r, "limit", "cursor", "format")
	if err != nil {
		return nil, err
	}
	limit, err := parseLimit(v.Get("limit"), maxLimit, maxLimit)
	if err != nil {
		return nil, err
	}
	cursor, err := parseCursor(v.Get("cursor"))
	if err != nil {
		return nil, err
	}
	ps, next, err := s.st.EventPrefixes(r.Context(), id, limit, cursor)
	if err != nil {
		return nil, err
	}
	out := struct {
		EventID    int64        `json:"event_id"`
		Prefixes   []prefixJSON `json:"prefixes"`
		NextCursor *string      `json:"next_cursor"`
	}{EventID: id, Prefixes: make([]prefixJSON, 0, len(ps))}
	for _, p := range ps {
		out.Prefixes = append(out.Prefixes, prefixJSON{Prefix: p.Prefix.String(), OriginASN: uint32(p.Origin), WithdrawnAt: p.WithdrawnAt.UTC()})
	}
	if next != "" {
		out.NextCursor = &next
	}
	return nextPage(r, v, next)(tableResponse(r, eventsMaxAge, out, []string{"prefix", "origin_asn", "withdrawn_at"}, len(out.Prefixes),
		func(i int) []string {
			p := &out.Prefixes[i]
			return []string{p.Prefix, strconv.FormatUint(uint64(p.OriginASN), 10), p.WithdrawnAt.Format(time.RFC3339)}
		}))
}

func (s *Server) handlePeers(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Peers == nil {
		s.writeError(w, r, errorf(errUnavailable, "no live BGP sessions or feeds are configured"))
		return
	}
	peers, err := s.cfg.Peers.Peers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rs, err := jsonResponse(struct {
		Peers any `json:"peers"`
	}{peers}, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", rs.ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(rs.body) // the client went away
}
