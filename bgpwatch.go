// Package bgpwatch holds the domain types shared by every part of bgpwatch:
// autonomous systems, collector peers, route observations, visibility counts
// and shutdown events. It has no SQL, JSON-wire or gobgp types in it; the
// adapter packages (bgp/..., store, api, webhook) translate to and from these.
//
// The data flow, and the package that owns each step:
//
//	bgp/mrt, bgp/live, bgp/rislive   sources: MRT archives, BGP sessions, RIS Live
//	        │  Observation
//	visibility                       per-peer Adj-RIB-In, full-feed peers, 5-minute bins
//	        │  Bin
//	detect                           baselines and shutdown events
//	        │  Event
//	ingest                           runs the chain above for replay and live alike
//	store                            PostgreSQL (embedded by default)
//	api, webhook, web                HTTP API, signed alerts, newsroom page
package bgpwatch

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BinStep is the width of one series bin.
const BinStep = 5 * time.Minute

// ASN is an autonomous system number (4-byte space).
type ASN uint32

// String renders the ASN as a plain number, as bgpdump and the API do.
func (a ASN) String() string { return strconv.FormatUint(uint64(a), 10) }

// ErrInvalid marks input that fails validation (bad ASN, country code, ...).
// Callers test for it with errors.Is; the API maps it to 400.
var ErrInvalid = errors.New("invalid")

// ErrNotFound marks a lookup that found nothing; the API maps it to 404.
var ErrNotFound = errors.New("not found")

// ErrUnavailable marks a storage call that failed because the database
// could not be reached or dropped the connection (stopped, restarting,
// network trouble) rather than because the request was wrong: the same
// call may succeed later. The store's methods wrap such errors with it;
// the API maps it to 503.
var ErrUnavailable = errors.New("database unavailable")

// ParseASN accepts "9198", "AS9198" and "as9198".
func ParseASN(s string) (ASN, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && (t[0] == 'A' || t[0] == 'a') && (t[1] == 'S' || t[1] == 's') {
		t = t[2:]
	}
	if t == "" || len(t) > 10 {
		return 0, fmt.Errorf("%w ASN %q", ErrInvalid, s)
	}
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w ASN %q: want a number such as 9198 or AS9198", ErrInvalid, s)
	}
	return ASN(n), nil
}

// ParseCountry normalises an ISO 3166-1 alpha-2 code ("kz" → "KZ").
func ParseCountry(s string) (string, error) {
	if len(s) != 2 || !isLetter(s[0]) || !isLetter(s[1]) {
		return "", fmt.Errorf("%w country code %q: want two letters such as KZ", ErrInvalid, s)
	}
	return strings.ToUpper(s), nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// Access is how an ASN connects its users.
type Access string

// Access types, as in the asn-info CSV (asn,name,access) that replay and
// serve read.
const (
	AccessFixed   Access = "fixed"
	AccessMobile  Access = "mobile"
	AccessMixed   Access = "mixed"
	AccessHosting Access = "hosting"
	AccessTransit Access = "transit"
	AccessUnknown Access = "unknown"
)

// ParseAccess validates an access type; "" means unknown.
func ParseAccess(s string) (Access, error) {
	switch a := Access(strings.ToLower(strings.TrimSpace(s))); a {
	case AccessFixed, AccessMobile, AccessMixed, AccessHosting, AccessTransit, AccessUnknown:
		return a, nil
	case "":
		return AccessUnknown, nil
	}
	return "", fmt.Errorf("%w access %q: want fixed, mobile, mixed, hosting, transit or unknown", ErrInvalid, s)
}

// ASNInfo is what bgpwatch knows about a network.
type ASNInfo struct {
	ASN     ASN
	Name    string
	Country string // ISO 3166-1 alpha-2 from the RIR delegation files; "" if unknown
	Access  Access
	// AccessSource says where Access comes from (AccessSourceUser, ...);
	// "" while Access is unknown. AccessDate is the date of that source's
	// data (zero when it has none).
	AccessSource string
	AccessDate   time.Time
}

// Where an ASN's access type comes from, strongest first: the user's
// asn-info CSV, the curated mobile operators table, PeeringDB, CAIDA's AS
// classification, and (weak) words in the network's registered name.
const (
	AccessSourceUser      = "user"
	AccessSourceCurated   = "curated"
	AccessSourcePeeringDB = "peeringdb"
	AccessSourceCAIDA     = "caida"
	AccessSourceName      = "name"
)

// Users is an estimate of the Internet users behind a network (or behind
// the networks an event cut off): Estimate people, Share of the country's
// Internet users (0..1), from Source (e.g. "apnic") as of Date.
type Users struct {
	Estimate int64
	Share    float64
	Country  string
	Source   string
	Date     time.Time
}

// Peer identifies one BGP session of one collector (or of bgpwatch itself
// for live peering). Collector is e.g. "rrc00", "route-views2" or "live".
type Peer struct {
	Collector string
	ASN       ASN
	Addr      netip.Addr
}

func (p Peer) String() string { return fmt.Sprintf("%s/AS%d/%s", p.Collector, p.ASN, p.Addr) }

// ObservationKind says what an Observation reports.
type ObservationKind uint8

// Observation kinds. Sources emit them in time order per collector.
const (
	// Announce: Peer now has this route; it replaces the route with the same
	// (Prefix, PathID) from that peer.
	Announce ObservationKind = iota + 1
	// Withdraw: Peer no longer has the route (Prefix, PathID).
	Withdraw
	// PeerDown: Peer's session left Established; all its routes are gone.
	// This is never an origin withdrawal.
	PeerDown
	// TableStart: a full RIB dump of Peer.Collector begins at Time. Until the
	// matching TableEnd, TableRoute observations carry complete tables.
	TableStart
	// TableRoute: one route from a RIB dump (same fields as Announce).
	TableRoute
	// TableEnd: the RIB dump of Peer.Collector is complete. Routes of that
	// collector's peers not refreshed since TableStart are stale and dropped.
	TableEnd
)

var kindNames = [...]string{"", "announce", "withdraw", "peer-down", "table-start", "table-route", "table-end"}

func (k ObservationKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Observation is one fact a source reports about one peer's routes. It is a
// plain value: sources may emit millions per second without allocating.
type Observation struct {
	Time   time.Time
	Kind   ObservationKind
	Peer   Peer
	Prefix netip.Prefix // Announce, Withdraw, TableRoute
	PathID uint32       // ADD-PATH path identifier, 0 without ADD-PATH
	Origin ASN          // origin AS by the rule of PathOrigin; 0 when not attributed
}

// Counts is the visibility of one entity (ASN or country) in one bin.
type Counts struct {
	Prefixes   int // visible IPv4 prefixes
	Slash24    int // visible IPv4 address space in /24 equivalents, overlaps counted once
	V6Prefixes int // visible IPv6 prefixes
}

// Point is Counts at a bin start time; a series is a slice of Points.
type Point struct {
	Time time.Time
	Counts
}

// VisibilityChange records one prefix becoming visible or invisible.
type VisibilityChange struct {
	Time    time.Time
	Prefix  netip.Prefix
	Origin  ASN
	Visible bool
}

// Bin is the visibility state at the end of the bin that starts at Start.
// Maps hold every entity with non-zero counts (entities that dropped to zero
// in this bin are present with zero Counts). Receivers must not keep the maps
// past the call: producers may reuse them.
type Bin struct {
	Start     time.Time
	ASNs      map[ASN]Counts
	Countries map[string]Counts
	Changes   []VisibilityChange // prefixes that flipped visibility during the bin
	FullFeed  int                // full-feed peers (by peer ASN) behind this bin
}

// Scope is what an event is about.
type Scope string

// Event scopes.
const (
	ScopeCountry Scope = "country"
	ScopeASN     Scope = "asn"
)

// EventASN is one network's part in an event.
type EventASN struct {
	ASN             ASN
	Name            string
	Access          Access
	AccessSource    string    // see ASNInfo.AccessSource; "" when unknown
	AccessDate      time.Time // zero when unknown
	BaselineSlash24 int
	MinSlash24      int
	Users           *Users // the whole network's users; nil without an estimate
}

// LostShare is the share of the network's /24s lost at the minimum (0..1).
func (a *EventASN) LostShare() float64 {
	if a.BaselineSlash24 <= 0 || a.MinSlash24 >= a.BaselineSlash24 {
		return 0
	}
	return float64(a.BaselineSlash24-max(a.MinSlash24, 0)) / float64(a.BaselineSlash24)
}

// WithdrawnPrefix is evidence: a prefix that went invisible during an event.
type WithdrawnPrefix struct {
	Prefix      netip.Prefix
	Origin      ASN
	WithdrawnAt time.Time
}

// Event is a detected loss of visibility of a country or an ASN.
type Event struct {
	ID              int64 // assigned by the store; 0 before
	Scope           Scope
	Country         string
	ASN             ASN // ScopeASN only
	Access          Access
	StartedAt       time.Time
	EndedAt         time.Time // zero while ongoing
	BaselineSlash24 int
	MinSlash24      int
	DropRatio       float64 // 1 - MinSlash24/BaselineSlash24
	AlertArea       float64 // IODA-style: sum over bins of (baseline-value)/baseline × bin hours
	ASNs            []EventASN
	Withdrawn       []WithdrawnPrefix // evidence; may be left empty when only WithdrawnCount is loaded
	WithdrawnCount  int               // number of withdrawn prefixes (len(Withdrawn) when it is loaded)
	// Users estimates the users of the networks cut off (see Impact); nil
	// when no contributing network has an estimate.
	Users *Users
	// AccessSources is, for the lost /24s of the contributing networks,
	// the share resting on each kind of access source (AccessSourceUser,
	// ...; "" for networks of unknown access). Nil when nothing was lost.
	AccessSources map[string]float64
	// SettingsHash names the visibility and detection settings that
	// produced the event (stored once per hash); "" when unknown.
	SettingsHash string
}

// Impact fills Users and AccessSources from the contributing networks.
// Each network counts with the share of its /24s lost at the minimum: a
// network that lost half its /24s counts for half its users. Users is left
// nil when no contributing network has an estimate (absent, not zero); the
// date is the oldest of the estimates used.
func (e *Event) Impact() {
	e.Users, e.AccessSources = nil, nil
	var u Users
	var n int
	var lostTotal float64
	bySource := map[string]float64{}
	for i := range e.ASNs {
		a := &e.ASNs[i]
		l := a.LostShare()
		lost := float64(a.BaselineSlash24 - a.MinSlash24)
		if lost > 0 {
			src := a.AccessSource
			if a.Access == AccessUnknown || a.Access == "" {
				src = ""
			}
			bySource[src] += lost
			lostTotal += lost
		}
		if a.Users == nil || l <= 0 {
			continue
		}
		if a.Users.Country != "" && e.Country != "" && a.Users.Country != e.Country {
			continue // users in another country than the event's
		}
		n++
		u.Estimate += int64(float64(a.Users.Estimate)*l + 0.5)
		u.Share += a.Users.Share * l
		if u.Source == "" {
			u.Source = a.Users.Source
		}
		if u.Date.IsZero() || (!a.Users.Date.IsZero() && a.Users.Date.Before(u.Date)) {
			u.Date = a.Users.Date
		}
	}
	if n > 0 {
		u.Country = e.Country
		u.Share = min(u.Share, 1)
		e.Users = &u
	}
	if lostTotal > 0 {
		e.AccessSources = make(map[string]float64, len(bySource))
		for k, v := range bySource {
			e.AccessSources[k] = v / lostTotal
		}
	}
}

// Ongoing reports whether the event has not ended.
func (e *Event) Ongoing() bool { return e.EndedAt.IsZero() }

// Notice types of webhook deliveries.
const (
	NoticeStarted = "event.started"
	NoticeEnded   = "event.ended"
)

// Subscription is a webhook receiver and the events it wants.
// Empty filter lists match everything.
type Subscription struct {
	ID           int64
	URL          string
	Secret       string // HMAC key; never shown again after creation
	Countries    []string
	ASNs         []ASN
	Scopes       []Scope
	Access       []Access
	MinDropRatio float64
	Format       string // "json" (default) or "slack"
	CreatedAt    time.Time
}

// Delivery is one notice queued for one subscription; retries keep its ID.
type Delivery struct {
	ID             string // delivery_id, the same on every retry
	SubscriptionID int64
	EventID        int64
	Type           string // NoticeStarted or NoticeEnded
	Status         string // "pending", "delivered" or "failed" (expired)
	Attempts       int
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	NextAttemptAt  time.Time
	DeliveredAt    time.Time // zero until delivered
}
