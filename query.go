package bgpwatch

// The read side of the store: what the API and the newsroom page ask of it
// and the rows it answers with. They live here rather than in package store
// so that the readers (api, web) depend on these types and on small
// interfaces of their own, not on the PostgreSQL implementation.

import "time"

// SeriesExtent is the time span covered by stored series: the first and
// last stored country bin. OK is false when no series are stored.
type SeriesExtent struct {
	First, Last time.Time
	OK          bool
}

// CountryLatest is a country's most recent stored bin.
type CountryLatest struct {
	Country string
	Bin     time.Time
	Counts
	ASNs int
}

// SeriesQuery selects one entity's series.
type SeriesQuery struct {
	Country string // a country series when not empty
	ASN     ASN    // else this ASN's series
	// From and To bound the bins (start times, inclusive). From is rounded
	// down to the bin grid.
	From, To time.Time
	// Step is the width of an output point: a positive multiple of
	// BinStep; 0 means one bin. A point of a wider step holds the
	// minimum of each count over the bins it covers, so short drops stay
	// visible after downsampling.
	Step time.Duration
}

// EventFilter selects events for store.DB.ListEvents. Zero fields match everything.
// From and To select events that overlap [From, To): started before To and
// not ended before From.
type EventFilter struct {
	Country string
	ASN     ASN // the event's ASN or one of its contributing ASNs
	Scope   Scope
	From    time.Time
	To      time.Time
	Limit   int    // default 100, at most 1000
	Cursor  string // from a previous page's next cursor
}

// ASNSummary is what the API shows about one network: its registry data and
// its counts at a given time.
type ASNSummary struct {
	ASNInfo
	Known bool      // the registry (the asns table) has a row for it
	At    time.Time // the bin the counts are for; zero when there are no series
	Counts
	Users *Users // nil without an estimate
}

// CountryASN is one network registered to a country with its counts at a
// bin and its baseline, as store.DB.CountryASNs reads them.
type CountryASN struct {
	ASNInfo
	Counts        // at CountryASNsQuery.At; zero when At is zero
	Users  *Users // nil without an estimate
	// Baseline is the network's normal visible /24s (see store.DB.CountryASNs);
	// HasBaseline is false when there was nothing to take it from.
	Baseline    int
	HasBaseline bool
	// EventID is the network's own (ASN-scope) event ongoing at At; 0 none.
	EventID int64
}

// CountryASNsQuery selects the networks of a country and the time to read
// them at.
type CountryASNsQuery struct {
	Country string
	// At is the bin of the counts (rounded down to the grid); zero reads
	// the registry only (no counts, no baselines).
	At time.Time
	// BaselineFrom starts the baseline window: the bins in [BaselineFrom, At).
	BaselineFrom time.Time
}

// EventCount is the number of stored events of one scope and status.
type EventCount struct {
	Scope   string
	Ongoing bool
	N       int
}

// EventStats is a summary of the store for monitoring.
type EventStats struct {
	Events []EventCount
}
