package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/country"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/wire"
)

// Matches reports whether a subscription wants notices about ev. Each
// filter that is set must match (empty lists match everything): the
// country; the ASN (the event's own for an ASN event, any contributing
// network for a country event); the scope; the access type; and the drop
// ratio must reach MinDropRatio.
func Matches(s *bgpwatch.Subscription, ev *bgpwatch.Event) bool {
	if len(s.Countries) > 0 && !slices.Contains(s.Countries, ev.Country) {
		return false
	}
	if len(s.ASNs) > 0 {
		hit := ev.Scope == bgpwatch.ScopeASN && slices.Contains(s.ASNs, ev.ASN)
		for _, a := range ev.ASNs {
			hit = hit || slices.Contains(s.ASNs, a.ASN)
		}
		if !hit {
			return false
		}
	}
	if len(s.Scopes) > 0 && !slices.Contains(s.Scopes, ev.Scope) {
		return false
	}
	if len(s.Access) > 0 {
		acc := ev.Access
		if acc == "" {
			acc = bgpwatch.AccessUnknown
		}
		if !slices.Contains(s.Access, acc) {
			return false
		}
	}
	return ev.DropRatio >= s.MinDropRatio
}

// Body renders the request body of one attempt: the wire.Notice JSON, or
// for format "slack" a Slack incoming-webhook message {"text": ...}.
// eventJSON is the wire.Event stored at fan-out time.
func Body(format, typ, deliveryID string, eventJSON []byte, sentAt time.Time) ([]byte, error) {
	var ev wire.Event
	if err := json.Unmarshal(eventJSON, &ev); err != nil {
		return nil, fmt.Errorf("delivery %s: stored event: %w", deliveryID, err)
	}
	if format == store.FormatSlack {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{SlackText(typ, &ev)})
	}
	return json.Marshal(wire.Notice{Type: typ, DeliveryID: deliveryID, Event: ev, SentAt: sentAt.UTC()})
}

// SlackText is the human sentence of a notice, e.g. "Kazakhstan (KZ) lost
// 91% of its routed address space at 12:30 UTC on 2026-01-05 (local 17:30
// Asia/Almaty (UTC+5), main zone of 7) (visible /24s: 1356 → 122).
// Networks serving about 62 % of Kazakhstan's Internet users (APNIC
// estimate, 2026-01-04) were cut off. bgpwatch event 17, ongoing."
func SlackText(typ string, ev *wire.Event) string {
	who := subject(ev)
	pct := int(math.Round(ev.DropRatio * 100))
	start := ev.StartedAt.UTC()
	var b strings.Builder
	if typ == bgpwatch.NoticeEnded && ev.EndedAt != nil {
		end := ev.EndedAt.UTC()
		fmt.Fprintf(&b, "%s recovered at %s after losing up to %d%% of its routed address space for %s (since %s).",
			who, clock(end, start), pct, end.Sub(start).Round(time.Minute), clock(start, time.Time{}))
		fmt.Fprintf(&b, " bgpwatch event %d, ended.", ev.ID)
		return b.String()
	}
	at := clock(start, time.Time{})
	if l := country.FormatLocal(ev.Country, start); l != "" {
		at += " (local " + l + ")"
	}
	fmt.Fprintf(&b, "%s lost %d%% of its routed address space at %s (visible /24s: %d → %d).",
		who, pct, at, ev.BaselineSlash24, ev.MinSlash24)
	if ev.UsersNote != "" {
		fmt.Fprintf(&b, " %s%s were cut off.", strings.ToUpper(ev.UsersNote[:1]), ev.UsersNote[1:])
	}
	status := "ongoing"
	if ev.EndedAt != nil {
		status = "since ended at " + clock(ev.EndedAt.UTC(), start)
	}
	fmt.Fprintf(&b, " bgpwatch event %d, %s.", ev.ID, status)
	return b.String()
}

// subject names the country or network of an event.
func subject(ev *wire.Event) string {
	place := ev.Country
	if n := country.Name(ev.Country); n != "" {
		place = n + " (" + ev.Country + ")"
	}
	if ev.Scope != string(bgpwatch.ScopeASN) || ev.ASN == nil {
		if place == "" {
			return "An unknown country"
		}
		return place
	}
	s := fmt.Sprintf("AS%d", *ev.ASN)
	for _, a := range ev.ASNs {
		if a.ASN == *ev.ASN && a.Name != "" {
			s += " " + a.Name
		}
	}
	if place != "" {
		s += " in " + place
	}
	return s
}

// clock renders "12:30 UTC on 2026-01-05", leaving out the date when it is
// the same day as ref.
func clock(t, ref time.Time) string {
	if !ref.IsZero() && t.Format(time.DateOnly) == ref.Format(time.DateOnly) {
		return t.Format("15:04") + " UTC"
	}
	return t.Format("15:04") + " UTC on " + t.Format(time.DateOnly)
}
