// Package detect finds losses of BGP visibility — candidate Internet
// shutdowns — per country and per ASN in the 5-minute visibility series
// (bgpwatch.Bin) and turns them into bgpwatch.Events with evidence.
//
// The same Detector runs in replay and live: it is fed bin by bin through
// Observe and has no clock of its own; all times come from Bin.Start and
// the change times in Bin.Changes. It is deterministic: the same bins give
// the same transitions (entities are processed in sorted order).
//
// # What BGP can show
//
// A BGP monitor reports what the routing system shows: address space that
// is no longer announced, or no longer seen by most full-feed peers. Many
// shutdowns leave routes in place and block traffic instead (the January
// 2022 Kazakhstan shutdown left most networks visible in BGP, as RIPE Atlas
// measurements showed). An absence of events is therefore never a claim
// that there was no shutdown; an event is a claim about routing only.
//
// # Signal and baseline
//
// The signal is the number of visible IPv4 /24 equivalents of an entity,
// so that de-aggregation (more prefixes, same space) is not a drop. The
// baseline is the median of the last 24 h (Window) of accepted bins,
// leaving out the bins in which the entity was in an event or about to
// start one, so an outage does not drag its own baseline down. The median
// is cached and recomputed only when the stored values changed, at most
// hourly (at the first accepted bin of each period of RecomputeEvery bins
// on the clock, so that runs started at different times recompute at the
// same bins) and on demand when a value falls below the drop level of an
// upper bound of the current median (the cached one, raised by every value
// stored since), so that a drop right after the entity grew is measured
// against the median as it is. Warm-up: an entity needs MinHistory (2 h,
// 24 bins) of history
// before it can start an event; with less history nothing is reported
// (an entity that appears already down has no baseline to fall from).
//
// # Start and end
//
// An event starts when the value stays at or below Baseline×(1−Drop) for
// MinDuration (15 min, 3 bins); StartedAt is the start of the first bin
// below the level, so a one- or two-bin dip never starts an event and the
// start is exact to the bin. The baseline is frozen at that first bin. It
// ends when the value stays at or above Baseline×(1−Recover) for RecoverFor
// (30 min, 6 bins); EndedAt is the start of the first recovered bin. A
// restoration of 30 min or more (e.g. one hour) therefore splits an outage
// into two events; a 5- or 25-minute blip does not. Between the two
// levels (hysteresis) an ongoing event goes on.
//
// # Defaults, and why
//
// IODA compares each value with the median of a 24 h history window and
// treats a fall below 50 % of it as critical (from IODA's published
// description of its alerts; the per-signal percentages were not re-checked against IODA's current
// pages). The ASN thresholds follow that: Drop 0.50 (start at or below
// 50 % of the baseline), Recover 0.25 (end at 75 %), and only ASNs with a baseline
// of at least 16 /24s (ASN.MinSlash24): below that a single prefix is a
// large share and ordinary traffic engineering looks like an outage.
// Countries are aggregates of many ASNs and much smoother, so a smaller
// relative drop is already meaningful and rare: Country.Drop 0.30 (start
// at 70 %), Country.Recover 0.15 (end at 85 %), Country.MinSlash24 16.
// 0.30 is the low end of a 30–40 % national drop: a large national
// operator going dark often takes only a third of a country's space
// (the rest being hosting, business and smaller networks), and a 30 %
// national loss within minutes does not happen through ordinary routing
// changes. A
// shutdown of mobile networks only usually removes little address space
// (mobile operators use few addresses behind CGNAT), so it shows as ASN
// events for the operators and, unless their space is a large share of the
// country's, no country event — which is the honest reading of BGP.
//
// # Contributing ASNs, access type and evidence
//
// A country event lists the country's ASNs (RIR country of the ASN, from
// info) with a baseline of at least ContribMinSlash24 (4) /24s whose
// minimum during the event is at or below their own baseline×(1−ContribDrop)
// (0.25), largest loss first, each with name, access type, baseline and
// minimum; an ASN event lists itself. Event.Access classifies the
// contributors weighted by lost /24s: fixed and mobile count for
// themselves, mixed ASNs for both; hosting, transit and unknown ASNs are
// ignored; a kind below MinorShare (10 %) of the classified loss is ignored;
// result fixed, mobile, mixed, or unknown when nothing is classified. An ASN
// event's access is the ASN's own (hosting and transit → unknown).
//
// Evidence (Event.Withdrawn) are the contributing ASNs' prefixes (IPv4 and
// IPv6) that went invisible (Bin.Changes) from Lookback (2 h) before the
// start until the end, without those that were visible again before the
// start; one entry per prefix, earliest first, at most MaxWithdrawn.
//
// # Bad and missing data
//
// A bin with FullFeed == 0, or with FullFeed below half (FeedCollapse) of
// the median of the previous 24 bins (a collector outage), is skipped: it
// starts and ends nothing and does not enter the baselines. Its FullFeed
// does enter the FullFeed window, so a lasting change of the peer set is
// accepted as the new normal after about an hour. Bins missing in time
// (a gap between two Bin.Start larger than Step) are simply not there:
// durations are counted in accepted bins, so a gap neither starts nor ends
// an event. A bin not later than the previous one is ignored.
//
// Event.AlertArea follows IODA's alert area (relative drop × duration),
// in the units of the domain type: the sum over event bins of
// (baseline−value)/baseline × bin length in hours; IODA's figure (percent ×
// minutes) is 6000 times larger.
//
// # Transitions
//
// Observe returns Started when an event is confirmed (after MinDuration;
// StartedAt is retroactive), Updated when the minimum, the contributing ASNs
// or the evidence changed, and Ended on sustained recovery. Events are
// identified by (Scope, Country, ASN, StartedAt).
//
// # Resume
//
// A detector that starts where another stopped (a restarted live process,
// or a replay of a period after one already replayed) is brought up to
// date with Resume: the stored series of the last baseline window and its
// warm-up run through the same state machine, and the stored events win
// over what that shorter history would say, so an ongoing event goes on
// under its natural key, ends once and is not started again. Resume
// returns the catch-up transitions (changes of stored ongoing events that
// the history already shows, e.g. an end whose save was lost in a crash).
// Because a restarted source may see incomplete tables at first, the bins
// after Resume are checked against the view just before it (see Resume).
// The history's FullFeed (History.FullFeed, stored with the bins) fills the
// full-feed window and judges each history bin as Observe judged it: a bin
// skipped as a collector outage is skipped again (an outage at the end of
// the history is not taken for a shutdown), and a collector outage right
// after the restart is skipped as it would have been without one. Where no
// FullFeed is stored (bins of another source, or written before it was
// kept) the bins are taken as accepted and the window starts empty.
// Limits: an event that began before the history has its alert area
// counted from the history's first bin (at least the stored area) and, for
// a country, as contributors the stored ones plus the national ASNs that
// have a baseline at that bin.
//
// # Cost
//
// ASNs are tracked (a ring of int32 per bin, 1.1 KiB for 24 h) only once
// they reach min(ContribMinSlash24, ASN.MinSlash24) visible /24s; the scan
// for new entities runs hourly. See BenchmarkObserve.
//
// # Known limits
//
// An entity whose space moves away for good (renumbering, transfer) stays
// in an event until it recovers, because event bins do not enter the
// baseline. ASN countries are read from info once, when the ASN is first
// tracked.
package detect
