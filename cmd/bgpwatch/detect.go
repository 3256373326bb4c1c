package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/store"
)

func init() {
	register(&command{name: "detect", summary: "recompute events from the stored series (new thresholds, no archives)", run: runDetect})
}

const detectDescription = `
Recomputes the events that started in [--from, --to) from the series stored
in the database — every ASN's and country's visible /24s per bin and the
number of full-feed peers per bin — with the detection settings of --config
and the flags, without reading any archive. Use it after changing a
threshold: it gives the events a replay of the same archives with the new
settings would give.

The detector starts from the stored bins of the baseline window and warm-up
before --from (detection.baseline + detection.min_history), and follows the
events that start in the range up to --follow past --to to find their end.
A gap of more than a day between stored bins starts it afresh, as replay
does. Events that started before --from are left as they are.

With --dry-run it prints what would change against the stored events:
new, gone, moved (start or end) and changed (other values: minimum,
baseline, contributing networks, access). Without it the range's events are
replaced in one transaction; events that match a stored one (same network,
overlapping time) keep its id. Webhook notices are queued only with
--notify (event.started for new events, event.ended for ended ones).

Evidence: the stored series hold values, not which prefixes changed, so a
recomputed event keeps the withdrawn-prefix evidence of the stored event it
matches (the prefixes withdrawn from detection.lookback before its start
until its end, at most detection.max_withdrawn) and a new event has none.
The visibility rules cannot change here: they shaped the stored series.`

func runDetect(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "detect", "--from TIME --to TIME [flags]", detectDescription)
	db := addDBFlags(fs, e)
	from := fs.String("from", "", "recompute the events that started at or after this `time` (RFC 3339)")
	to := fs.String("to", "", "... and before this `time` (RFC 3339)")
	follow := fs.Duration("follow", 7*24*time.Hour, "read the series this long past --to to find the end of events that started in the range")
	dryRun := fs.Bool("dry-run", false, "print what would change; store nothing")
	notify := fs.Bool("notify", false, "queue webhook notices for the new and ended events")
	source := fs.String("source", store.SourceReplay, "the events and full-feed counts of this `source` (replay or live)")
	asJSON := fs.Bool("json", false, "print the changes and the summary as one JSON object on stdout")
	df := addDetectFlagsOnly(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	conf, err := df.load(fs)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	fromT, toT, err := parseTimeRange(*from, *to)
	if err != nil {
		return err
	}
	if fromT.IsZero() || toT.IsZero() {
		return fmt.Errorf("%w: need --from and --to", errUsage)
	}
	if *source != store.SourceReplay && *source != store.SourceLive {
		return fmt.Errorf("%w: --source %q: want replay or live", errUsage, *source)
	}
	if *follow < 0 {
		return fmt.Errorf("%w: --follow must not be negative", errUsage)
	}
	vc, dc := replaySettings(conf)
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db.logger = log
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	began := time.Now()
	r, err := redetect(ctx, st, redetectQuery{Source: *source, From: fromT, To: toT, Follow: *follow, Detect: dc})
	if err != nil {
		return err
	}
	var stats store.ReplaceStats
	if !*dryRun {
		hash, err := putSettings(ctx, st, dc, vc)
		if err != nil {
			return err
		}
		for i := range r.Events {
			r.Events[i].SettingsHash = hash
		}
		stats, err = st.ReplaceEvents(ctx, store.EventReplacement{Source: *source, From: fromT, To: toT, Events: r.Events, Notify: *notify})
		if err != nil {
			return err
		}
	}
	took := time.Since(began)
	if *asJSON {
		out := struct {
			DryRun  bool                `json:"dry_run"`
			Changes []eventChange       `json:"changes"`
			Counts  map[string]int      `json:"counts"`
			Stored  *store.ReplaceStats `json:"stored,omitempty"`
			Bins    int                 `json:"bins"`
			Seconds float64             `json:"elapsed_seconds"`
		}{DryRun: *dryRun, Changes: r.Changes, Counts: r.counts(), Bins: r.Bins, Seconds: took.Seconds()}
		if out.Changes == nil {
			out.Changes = []eventChange{}
		}
		if !*dryRun {
			out.Stored = &stats
		}
		return json.NewEncoder(e.stdout).Encode(out)
	}
	for _, c := range r.Changes {
		printChange(e.stdout, &c)
	}
	c := r.counts()
	verb := "would change"
	if !*dryRun {
		verb = "changed"
	}
	fmt.Fprintf(e.stderr, "detect: %d bins read; %s: %d new, %d gone, %d moved, %d changed; %d unchanged (%s)\n",
		r.Bins, verb, c["new"], c["gone"], c["moved"], c["changed"], c["unchanged"], took.Round(time.Millisecond))
	return nil
}

// redetectQuery is what to recompute.
type redetectQuery struct {
	Source   string
	From, To time.Time
	Follow   time.Duration
	Detect   detect.Config
}

// wireEvent is an event as detect prints it.
type wireEvent struct {
	ID        int64     `json:"id,omitempty"`
	Scope     string    `json:"scope"`
	Country   string    `json:"country"`
	ASN       uint32    `json:"asn,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Baseline  int       `json:"baseline_slash24"`
	Min       int       `json:"min_slash24"`
	DropRatio float64   `json:"drop_ratio"`
	Access    string    `json:"access"`
	ASNs      []uint32  `json:"asns"`
}

func toWire(ev *bgpwatch.Event) *wireEvent {
	w := &wireEvent{ID: ev.ID, Scope: string(ev.Scope), Country: ev.Country, ASN: uint32(ev.ASN), StartedAt: ev.StartedAt.UTC(),
		EndedAt: ev.EndedAt.UTC(), Baseline: ev.BaselineSlash24, Min: ev.MinSlash24, DropRatio: ev.DropRatio, Access: string(ev.Access), ASNs: []uint32{}}
	if ev.EndedAt.IsZero() {
		w.EndedAt = time.Time{}
	}
	for _, a := range ev.ASNs {
		w.ASNs = append(w.ASNs, uint32(a.ASN))
	}
	slices.Sort(w.ASNs)
	return w
}

// eventChange is one difference between the stored and the recomputed
// events: new (Recomputed only), gone (Stored only), moved (start or end
// differ) or changed (other values differ).
type eventChange struct {
	Change     string     `json:"change"`
	Stored     *wireEvent `json:"stored,omitempty"`
	Recomputed *wireEvent `json:"recomputed,omitempty"`
}

// redetectResult is a recomputation and its comparison with the store.
type redetectResult struct {
	Events    []bgpwatch.Event // to store: IDs of the matched stored events
	Changes   []eventChange
	Unchanged int
	Bins      int
}

func (r *redetectResult) counts() map[string]int {
	c := map[string]int{"new": 0, "gone": 0, "moved": 0, "changed": 0, "unchanged": r.Unchanged}
	for _, x := range r.Changes {
		c[x.Change]++
	}
	return c
}

// maxGap is the gap between stored bins after which detection starts
// afresh, as ingest.Config.MaxGap does for replays.
const maxGap = 24 * time.Hour

// redetect recomputes the events of q from the stored series and pairs
// them with the stored ones.
func redetect(ctx context.Context, st *store.DB, q redetectQuery) (*redetectResult, error) {
	infos, err := st.ASNInfos(ctx)
	if err != nil {
		return nil, err
	}
	info := func(a bgpwatch.ASN) bgpwatch.ASNInfo {
		if in, ok := infos[a]; ok {
			return in
		}
		return bgpwatch.ASNInfo{ASN: a, Access: bgpwatch.AccessUnknown}
	}
	cfg := q.Detect
	lo := q.From.Add(-(cfg.Window + cfg.MinHistory))
	hi := q.To.Add(q.Follow)
	sh, err := st.DetectorHistory(ctx, store.HistoryQuery{Before: hi, Span: hi.Sub(lo), Source: q.Source})
	if err != nil {
		return nil, err
	}
	res := &redetectResult{}
	// Each run of bins without a gap longer than maxGap is detected on
	// its own, from a new detector.
	type key struct {
		scope   bgpwatch.Scope
		country string
		asn     bgpwatch.ASN
		started int64
	}
	final := map[key]int{}
	var evs []bgpwatch.Event
	for _, seg := range segments(sh) {
		if !seg.Bins[0].Before(q.To) {
			continue
		}
		res.Bins += len(seg.Bins)
		for _, tr := range detect.New(cfg, info).Recompute(seg) {
			ev := tr.Event
			if ev.StartedAt.Before(q.From) || !ev.StartedAt.Before(q.To) {
				continue
			}
			k := key{ev.Scope, ev.Country, ev.ASN, ev.StartedAt.UnixNano()}
			if i, ok := final[k]; ok {
				evs[i] = ev
				continue
			}
			final[k] = len(evs)
			evs = append(evs, ev)
		}
	}
	stored, err := st.RangeEvents(ctx, q.Source, q.From, q.To)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(evs, func(a, b bgpwatch.Event) int { return a.StartedAt.Compare(b.StartedAt) })
	used := make([]bool, len(stored))
	for i := range evs {
		ev := &evs[i]
		ev.Withdrawn = nil
		for j := range stored {
			s := &stored[j]
			if used[j] || s.Scope != ev.Scope || s.Country != ev.Country || (ev.Scope == bgpwatch.ScopeASN && s.ASN != ev.ASN) || !overlap(s, ev) {
				continue
			}
			used[j] = true
			ev.ID = s.ID
			ev.Withdrawn = keptEvidence(s, ev, cfg)
			ev.WithdrawnCount = len(ev.Withdrawn)
			switch {
			case !s.StartedAt.Equal(ev.StartedAt) || !s.EndedAt.Equal(ev.EndedAt):
				res.Changes = append(res.Changes, eventChange{Change: "moved", Stored: toWire(s), Recomputed: toWire(ev)})
			case !sameValues(s, ev):
				res.Changes = append(res.Changes, eventChange{Change: "changed", Stored: toWire(s), Recomputed: toWire(ev)})
			default:
				res.Unchanged++
			}
			break
		}
		if ev.ID == 0 {
			res.Changes = append(res.Changes, eventChange{Change: "new", Recomputed: toWire(ev)})
		}
	}
	for j := range stored {
		if !used[j] {
			res.Changes = append(res.Changes, eventChange{Change: "gone", Stored: toWire(&stored[j])})
		}
	}
	slices.SortStableFunc(res.Changes, func(a, b eventChange) int {
		x, y := a.Recomputed, b.Recomputed
		if x == nil {
			x = a.Stored
		}
		if y == nil {
			y = b.Stored
		}
		return x.StartedAt.Compare(y.StartedAt)
	})
	res.Events = evs
	return res, nil
}

// segments splits a stored history at gaps longer than maxGap, re-indexing
// the steps of each part.
func segments(sh *store.DetectorHistory) []*detect.History {
	var out []*detect.History
	start := 0
	for i := 1; i <= len(sh.Bins); i++ {
		if i < len(sh.Bins) && sh.Bins[i].Sub(sh.Bins[i-1]) <= maxGap {
			continue
		}
		h := &detect.History{Bins: sh.Bins[start:i], FullFeed: make([]int, i-start),
			ASNs: make(map[bgpwatch.ASN][]detect.Step, len(sh.ASNs)), Countries: make(map[string][]detect.Step, len(sh.Countries))}
		copy(h.FullFeed, sh.FullFeed[start:i])
		for a, s := range sh.ASNs {
			if st := cut(s, start, i); len(st) > 0 {
				h.ASNs[a] = st
			}
		}
		for cc, s := range sh.Countries {
			if st := cut(s, start, i); len(st) > 0 {
				h.Countries[cc] = st
			}
		}
		out = append(out, h)
		start = i
	}
	return out
}

// cut returns the steps of bins [lo, hi) re-indexed from lo; the value
// holding at lo becomes a step at 0.
func cut(s []detect.Step, lo, hi int) []detect.Step {
	var out []detect.Step
	var v int32
	for _, x := range s {
		if int(x.At) <= lo {
			v = x.Slash24
			continue
		}
		if int(x.At) >= hi {
			break
		}
		if len(out) == 0 && v != 0 {
			out = append(out, detect.Step{At: 0, Slash24: v})
		}
		out = append(out, detect.Step{At: x.At - int32(lo), Slash24: x.Slash24})
	}
	if len(out) == 0 && v != 0 {
		out = append(out, detect.Step{At: 0, Slash24: v})
	}
	return out
}

// overlap reports whether two events of one entity share time; an
// ongoing event runs on.
func overlap(a, b *bgpwatch.Event) bool {
	before := func(t, end time.Time) bool { return end.IsZero() || t.Before(end) }
	return before(a.StartedAt, b.EndedAt) && before(b.StartedAt, a.EndedAt)
}

// sameValues compares what detection decides about an event besides its
// times (the evidence is kept, not recomputed).
func sameValues(s, r *bgpwatch.Event) bool {
	if s.BaselineSlash24 != r.BaselineSlash24 || s.MinSlash24 != r.MinSlash24 || s.Access != r.Access ||
		!floatEq(s.DropRatio, r.DropRatio) || !floatEq(s.AlertArea, r.AlertArea) || len(s.ASNs) != len(r.ASNs) {
		return false
	}
	m := map[bgpwatch.ASN][2]int{}
	for _, a := range s.ASNs {
		m[a.ASN] = [2]int{a.BaselineSlash24, a.MinSlash24}
	}
	for _, a := range r.ASNs {
		if v, ok := m[a.ASN]; !ok || v != [2]int{a.BaselineSlash24, a.MinSlash24} {
			return false
		}
	}
	return true
}

func floatEq(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// keptEvidence is the stored evidence that still applies to the
// recomputed event: withdrawn from Lookback before its start until its
// end, at most MaxWithdrawn (the earliest).
func keptEvidence(s, r *bgpwatch.Event, cfg detect.Config) []bgpwatch.WithdrawnPrefix {
	from := r.StartedAt.Add(-cfg.Lookback)
	var out []bgpwatch.WithdrawnPrefix
	for _, w := range s.Withdrawn {
		if w.WithdrawnAt.Before(from) || (!r.EndedAt.IsZero() && !w.WithdrawnAt.Before(r.EndedAt)) {
			continue
		}
		out = append(out, w)
	}
	if cfg.MaxWithdrawn > 0 && len(out) > cfg.MaxWithdrawn {
		out = out[:cfg.MaxWithdrawn]
	}
	return out
}

func printChange(w io.Writer, c *eventChange) {
	ev := c.Recomputed
	if ev == nil {
		ev = c.Stored
	}
	what := "country " + ev.Country
	if ev.Scope == string(bgpwatch.ScopeASN) {
		what = fmt.Sprintf("asn AS%d (%s)", ev.ASN, ev.Country)
	}
	span := func(e *wireEvent) string {
		end := "ongoing"
		if !e.EndedAt.IsZero() {
			end = e.EndedAt.Format(time.RFC3339)
		}
		return fmt.Sprintf("%s → %s, drop %.2f, min %d of %d /24s", e.StartedAt.Format(time.RFC3339), end, e.DropRatio, e.Min, e.Baseline)
	}
	switch c.Change {
	case "new", "gone":
		fmt.Fprintf(w, "%-8s %s %s\n", c.Change, what, span(ev))
	default:
		fmt.Fprintf(w, "%-8s %s id %d: %s  was  %s\n", c.Change, what, c.Stored.ID, span(c.Recomputed), span(c.Stored))
	}
}
