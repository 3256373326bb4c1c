// Package wire defines the JSON representations of bgpwatch's domain types
// that leave the process: API responses and webhook bodies share them, so a
// newsroom tool sees one Event shape everywhere (documented in the API's
// OpenAPI document and the README).
package wire

import (
	"time"

	"github.com/bgpwatch/bgpwatch"
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
}

// EventASN is one contributing network of an Event.
type EventASN struct {
	ASN             uint32 `json:"asn"`
	Name            string `json:"name"`
	Access          string `json:"access"`
	BaselineSlash24 int    `json:"baseline_slash24"`
	MinSlash24      int    `json:"min_slash24"`
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
		out.ASNs = append(out.ASNs, EventASN{
			ASN: uint32(a.ASN), Name: a.Name, Access: acc,
			BaselineSlash24: a.BaselineSlash24, MinSlash24: a.MinSlash24,
		})
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
