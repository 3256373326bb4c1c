// Package wire defines the JSON representations of bgpwatch's domain types
// that leave the process: API responses and webhook bodies share them, so a
// newsroom tool sees one Event shape everywhere (documented in the API's
// OpenAPI document and the README).
package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/country"
)

// Event is the Event object of the API and of webhook bodies.
type Event struct {
	ID                int64      `json:"id"`
	Scope             string     `json:"scope"`
	Country           string     `json:"country"`
	ASN               *uint32    `json:"asn,omitempty"` // asn scope only
	Access            string     `json:"access"`
	Status            string     `json:"status"` // "ongoing" or "ended"
	StartedAt         time.Time  `json:"started_at"`
	EndedAt           *time.Time `json:"ended_at"` // null while ongoing
	BaselineSlash24   int        `json:"baseline_slash24"`
	MinSlash24        int        `json:"min_slash24"`
	DropRatio         float64    `json:"drop_ratio"`
	AlertArea         float64    `json:"alert_area"`
	ASNs              []EventASN `json:"asns"`
	WithdrawnPrefixes int        `json:"withdrawn_prefixes"`
	// AccessSources: share of the lost /24s whose access type rests on
	// each kind of source (user, curated, peeringdb, caida, name; unknown
	// for networks of unknown access). Absent when nothing was lost.
	AccessSources map[string]float64 `json:"access_sources,omitempty"`
	// Users of the networks cut off (each weighted by the share of its
	// /24s lost): absent without any estimate, never 0 for "no data".
	UsersEstimate *int64   `json:"users_estimate,omitempty"`
	UsersShare    *float64 `json:"users_share,omitempty"` // of the country's Internet users, 0..1
	UsersSource   string   `json:"users_source,omitempty"`
	UsersDate     string   `json:"users_date,omitempty"` // YYYY-MM-DD of the estimate
	// UsersNote says the same in words for pages and alerts, e.g.
	// "networks serving about 62 % of Kazakhstan's Internet users (APNIC
	// estimate, 2022-01-04)".
	UsersNote string `json:"users_note,omitempty"`
	// TimeZone is the IANA name of the country's main time zone, for
	// local times next to UTC; TimeZones how many zones the country has.
	TimeZone  string `json:"time_zone,omitempty"`
	TimeZones int    `json:"time_zones,omitempty"`
}

// EventASN is one contributing network of an Event.
type EventASN struct {
	ASN    uint32 `json:"asn"`
	Name   string `json:"name"`
	Access string `json:"access"`
	// AccessSource is where the access type comes from (user, curated,
	// peeringdb, caida, name); null while it is unknown. AccessDate is
	// the date of that source's data (null when it has none).
	AccessSource    *string  `json:"access_source"`
	AccessDate      *string  `json:"access_date"`
	BaselineSlash24 int      `json:"baseline_slash24"`
	MinSlash24      int      `json:"min_slash24"`
	UsersEstimate   *int64   `json:"users_estimate,omitempty"` // the whole network's, absent without data
	UsersShare      *float64 `json:"users_share,omitempty"`    // of its country's Internet users
}

// Provenance renders an access source and date for JSON: nil for unknown.
func Provenance(access bgpwatch.Access, source string, day time.Time) (src, date *string) {
	if source == "" || access == bgpwatch.AccessUnknown || access == "" {
		return nil, nil
	}
	s := source
	src = &s
	if !day.IsZero() {
		d := day.UTC().Format(time.DateOnly)
		date = &d
	}
	return src, date
}

// UsersNote is the sentence pages, charts and alerts show for an event's
// users estimate; "" without one. countryName turns a code into a name.
func UsersNote(ev *bgpwatch.Event, countryName func(string) string) string {
	u := ev.Users
	if u == nil {
		return ""
	}
	name := countryName(ev.Country)
	if name == "" {
		name = ev.Country
	}
	src := strings.ToUpper(u.Source)
	if u.Source == "apnic" {
		src = "APNIC"
	}
	pct := u.Share * 100
	var amount string
	switch {
	case pct >= 1:
		amount = fmt.Sprintf("%.0f %%", pct)
	case pct >= 0.1:
		amount = fmt.Sprintf("%.1f %%", pct)
	default:
		amount = "less than 0.1 %"
	}
	when := ""
	if !u.Date.IsZero() {
		when = ", " + u.Date.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("networks serving about %s of %s's Internet users (%s estimate%s)", amount, name, src, when)
}

// FromEvent converts a domain event; times are rendered in UTC.
func FromEvent(ev *bgpwatch.Event) Event {
	out := Event{
		ID:                ev.ID,
		Scope:             string(ev.Scope),
		Country:           ev.Country,
		Access:            string(ev.Access),
		Status:            "ongoing",
		StartedAt:         ev.StartedAt.UTC(),
		BaselineSlash24:   ev.BaselineSlash24,
		MinSlash24:        ev.MinSlash24,
		DropRatio:         round(ev.DropRatio, 4),
		AlertArea:         round(ev.AlertArea, 4),
		ASNs:              make([]EventASN, 0, len(ev.ASNs)),
		WithdrawnPrefixes: ev.WithdrawnCount,
	}
	if out.Access == "" {
		out.Access = string(bgpwatch.AccessUnknown)
	}
	if ev.Scope == bgpwatch.ScopeASN {
		a := uint32(ev.ASN)
		out.ASN = &a
	}
	if !ev.EndedAt.IsZero() {
		t := ev.EndedAt.UTC()
		out.EndedAt = &t
		out.Status = "ended"
	}
	if out.WithdrawnPrefixes == 0 {
		out.WithdrawnPrefixes = len(ev.Withdrawn)
	}
	for _, a := range ev.ASNs {
		acc := string(a.Access)
		if acc == "" {
			acc = string(bgpwatch.AccessUnknown)
		}
		ea := EventASN{
			ASN: uint32(a.ASN), Name: a.Name, Access: acc,
			BaselineSlash24: a.BaselineSlash24, MinSlash24: a.MinSlash24,
		}
		ea.AccessSource, ea.AccessDate = Provenance(a.Access, a.AccessSource, a.AccessDate)
		if a.Users != nil {
			n, sh := a.Users.Estimate, round(a.Users.Share, 4)
			ea.UsersEstimate, ea.UsersShare = &n, &sh
		}
		out.ASNs = append(out.ASNs, ea)
	}
	if len(ev.AccessSources) > 0 {
		out.AccessSources = make(map[string]float64, len(ev.AccessSources))
		for k, v := range ev.AccessSources {
			if k == "" {
				k = string(bgpwatch.AccessUnknown)
			}
			out.AccessSources[k] = round(v, 4)
		}
	}
	out.TimeZone, out.TimeZones = country.Zone(ev.Country)
	if u := ev.Users; u != nil {
		n, sh := u.Estimate, round(u.Share, 4)
		out.UsersEstimate, out.UsersShare, out.UsersSource = &n, &sh, u.Source
		if !u.Date.IsZero() {
			out.UsersDate = u.Date.UTC().Format(time.DateOnly)
		}
		out.UsersNote = UsersNote(ev, country.Name)
	}
	return out
}

// Notice is the body of a webhook delivery.
type Notice struct {
	Type       string    `json:"type"` // "event.started" or "event.ended"
	DeliveryID string    `json:"delivery_id"`
	Event      Event     `json:"event"`
	SentAt     time.Time `json:"sent_at"`
}

func round(f float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	if f < 0 {
		return -float64(int64(-f*p+0.5)) / p
	}
	return float64(int64(f*p+0.5)) / p
}
