// Package ingest runs bgpwatch's processing chain — visibility state and
// 5-minute bins, event detection, persistence — for replays of MRT archives
// and live feeds alike. The Pipeline knows nothing about where observations
// come from: a replay driver (Replay in this package) or a live session
// manager feeds it with Observe and moves its clock with Advance.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// Sink is where the pipeline writes its results. *store.DB implements it.
type Sink interface {
	// WriteBins replaces the series rows of the batch's bin range.
	WriteBins(ctx context.Context, b *store.SeriesBatch) error
	// SaveEvent upserts an event under its natural key.
	SaveEvent(ctx context.Context, ev *bgpwatch.Event, source string, notify bool) (int64, error)
}

// HistoryReader reads what a detector resumes from. *store.DB implements it.
type HistoryReader interface {
	DetectorHistory(ctx context.Context, q store.HistoryQuery) (*store.DetectorHistory, error)
}

// Config configures a Pipeline.
type Config struct {
	Visibility visibility.Config
	Detect     detect.Config
	// CountryOf maps an ASN to its country ("" when unknown).
	CountryOf func(bgpwatch.ASN) string
	// Info describes an ASN (name, country, access) for the detector.
	Info func(bgpwatch.ASN) bgpwatch.ASNInfo
	// WriteFrom: bins starting before it are computed (and feed the
	// detector's baselines) but not written, and events are not saved from
	// them. Zero writes everything.
	WriteFrom time.Time
	// FlushBins is how many written bins are batched into one transaction
	// (default 24, two hours). Advance always flushes.
	FlushBins int
	// Source is stored with events: store.SourceReplay or store.SourceLive.
	Source string
	// Exclusive refuses to overwrite bins another source stored (see
	// store.SeriesBatch.Exclusive): the write fails with an
	// *store.OtherSourceError and the pipeline stops.
	Exclusive bool
	// Notify queues webhook notices for the events saved.
	Notify bool
	// SettingsHash is stored with every event: the hash of the visibility
	// and detection settings (config.Fingerprint), whose record the caller
	// stores first (store.DB.PutSettings). "" stores none.
	SettingsHash string
	// MaxGap: when an observation comes more than MaxGap after the previous
	// one, the visibility and detection state is started afresh instead of
	// carrying it over bin by bin (default 24h; archives from different
	// years in one replay would otherwise fill millions of empty bins).
	MaxGap time.Duration
	// History, when set, resumes the detector at the first bin (and after
	// a reset) from the stored series, and the FullFeed and events of
	// Source, before that bin (or before WriteFrom, if later), instead of
	// starting cold: no warm-up, the collector-outage check works from the
	// first bin, and stored ongoing events go on under their natural keys
	// (see detect.Detector.Resume). *store.DB implements it.
	History HistoryReader
	// Logger receives event and flush messages; nil discards them.
	Logger *slog.Logger
}

// Stats counts what a Pipeline did.
type Stats struct {
	BinsWritten    int       `json:"bins_written"`           // committed to the store
	BinsNoFeed     int       `json:"bins_without_full_feed"` // bins skipped: no full-feed peer
	BinsBeforeFrom int       `json:"bins_before_from"`       // computed, not written
	EventsStarted  int       `json:"events_started"`
	EventsEnded    int       `json:"events_ended"`
	EventsSaved    int       `json:"event_saves"`
	Resets         int       `json:"state_resets"` // gaps longer than MaxGap
	ResumedBins    int       `json:"resumed_bins"` // stored bins the detector resumed from
	ResumeDropped  bool      `json:"resume_dropped,omitempty"`
	FirstBin       time.Time `json:"first_bin,omitzero"`
	LastBin        time.Time `json:"last_bin,omitzero"`
}

// eventKey is an event's natural key in the store.
type eventKey struct {
	scope   bgpwatch.Scope
	country string
	asn     bgpwatch.ASN
	started int64
}

// Pipeline turns observations into stored series and events. It is not
// safe for concurrent use: one goroutine feeds it.
type Pipeline struct {
	cfg  Config
	sink Sink
	log  *slog.Logger
	eng  *visibility.Engine
	det  *detect.Detector

	emitFn func(*bgpwatch.Bin) error
	ctx    context.Context // only set for the duration of an Observe/Advance call
	// flushErr is the first failed flush of the current Observe/Advance
	// call, returned when the call has done the rest of its work.
	flushErr error

	prevASN   map[bgpwatch.ASN]bgpwatch.Counts // last bin's non-zero ASN counts
	countries map[string]bool                  // countries seen so far
	country   map[bgpwatch.ASN]string          // CountryOf cache
	wroteAny  bool

	batch     store.SeriesBatch
	batchBins int
	pending   map[eventKey]int // index into events
	events    []bgpwatch.Event
	stats     Stats
	lastObs   time.Time
	resumed   bool // the detector was resumed (or had nothing to resume from)
	checking  bool // the detector checks the first bins after resuming
	// gapAt is lastObs + MaxGap.
	gapAt time.Time
}

// New builds a pipeline writing to sink.
func New(cfg Config, sink Sink) *Pipeline {
	if cfg.CountryOf == nil {
		cfg.CountryOf = func(bgpwatch.ASN) string { return "" }
	}
	if cfg.Info == nil {
		co := cfg.CountryOf
		cfg.Info = func(a bgpwatch.ASN) bgpwatch.ASNInfo {
			return bgpwatch.ASNInfo{ASN: a, Country: co(a), Access: bgpwatch.AccessUnknown}
		}
	}
	if cfg.FlushBins <= 0 {
		cfg.FlushBins = 24
	}
	if cfg.MaxGap <= 0 {
		cfg.MaxGap = 24 * time.Hour
	}
	if cfg.Source == "" {
		cfg.Source = store.SourceReplay
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		cfg:       cfg,
		sink:      sink,
		log:       log,
		prevASN:   make(map[bgpwatch.ASN]bgpwatch.Counts),
		countries: make(map[string]bool),
		country:   make(map[bgpwatch.ASN]string),
		pending:   make(map[eventKey]int),
	}
	p.batch.Source = cfg.Source // bin_feeds rows are the source's
	p.batch.Exclusive = cfg.Exclusive
	p.reset()
	p.emitFn = p.emit
	return p
}

// reset starts with empty visibility and detection state.
func (p *Pipeline) reset() {
	p.eng = visibility.New(p.cfg.Visibility, p.countryOf)
	p.det = detect.New(p.cfg.Detect, p.cfg.Info)
	clear(p.prevASN)
	p.wroteAny = false
	p.resumed = p.cfg.History == nil
	p.checking = false
}

func (p *Pipeline) countryOf(a bgpwatch.ASN) string {
	c, ok := p.country[a]
	if !ok {
		c = p.cfg.CountryOf(a)
		p.country[a] = c
	}
	return c
}

// Engine exposes the visibility engine (peer statistics for status pages).
func (p *Pipeline) Engine() *visibility.Engine { return p.eng }

// Stats returns what the pipeline has done so far.
func (p *Pipeline) Stats() Stats { return p.stats }

// Observe applies one observation, first closing (and maybe writing) the
// bins that end at or before its time. When writing fails (the database is
// down), the observation is applied and the bins closed all the same; their
// rows and events stay queued for the next flush, and the error is returned.
func (p *Pipeline) Observe(ctx context.Context, o *bgpwatch.Observation) error {
	p.begin(ctx)
	defer p.end()
	if !p.lastObs.IsZero() && o.Time.After(p.gapAt) {
		end := p.lastObs.Truncate(bgpwatch.BinStep).Add(bgpwatch.BinStep)
		if err := p.eng.AdvanceTo(end, p.emitFn); err != nil {
			return err
		}
		if p.flushErr == nil {
			p.flushErr = p.flush(ctx) // what stays queued outlives the reset
		}
		p.log.Warn("gap in the input: starting visibility state afresh", "after", p.lastObs, "next", o.Time)
		p.stats.Resets++
		p.reset()
	}
	if o.Time.After(p.lastObs) {
		p.lastObs = o.Time
		p.gapAt = o.Time.Add(p.cfg.MaxGap)
	}
	if err := p.eng.AdvanceTo(o.Time, p.emitFn); err != nil {
		return err
	}
	p.eng.Apply(o)
	return p.flushErr
}

// Advance closes the bins that end at or before t and writes everything
// pending. Live ingest calls it on a wall-clock timer; a replay calls it at
// the end of its input. When writing fails, the bins are closed all the
// same and stay queued with their events for the next call.
func (p *Pipeline) Advance(ctx context.Context, t time.Time) error {
	p.begin(ctx)
	defer p.end()
	if err := p.eng.AdvanceTo(t, p.emitFn); err != nil {
		return err
	}
	if p.flushErr != nil {
		return p.flushErr
	}
	return p.flush(ctx)
}

// begin and end frame an Observe or Advance call.
func (p *Pipeline) begin(ctx context.Context) { p.ctx, p.flushErr = ctx, nil }
func (p *Pipeline) end()                      { p.ctx, p.flushErr = nil, nil }

// Close writes what is pending. Ongoing events stay ongoing in the store.
func (p *Pipeline) Close(ctx context.Context) error {
	return p.flush(ctx)
}

// emit receives each closed bin from the visibility engine.
func (p *Pipeline) emit(b *bgpwatch.Bin) error {
	if b.FullFeed == 0 {
		p.stats.BinsNoFeed++
		return nil
	}
	write := p.cfg.WriteFrom.IsZero() || !b.Start.Before(p.cfg.WriteFrom)
	if !p.resumed {
		first := b.Start
		if p.cfg.WriteFrom.After(first) {
			first = p.cfg.WriteFrom
		}
		if err := p.Resume(p.ctx, first); err != nil {
			p.log.Warn("detector not resumed: starting without history", "before", first, "err", err)
		}
	}
	trs := p.det.Observe(b)
	if p.checking {
		p.checkResume()
	}
	if !write {
		p.stats.BinsBeforeFrom++
		p.track(b)
		return nil
	}
	p.addRows(b)
	for i := range trs {
		p.transition(&trs[i])
	}
	// A failed flush must not stop the engine closing bins (an observation
	// would be left unapplied): the batch grows and is retried by the next
	// flush, which is not tried again within this call (a database that is
	// down would fail it once per bin).
	if p.batchBins >= p.cfg.FlushBins && p.flushErr == nil {
		p.flushErr = p.flush(p.ctx)
	}
	return nil
}

// Resume brings the detector up to date with the stored history before
// first (Config.History), once: the pipeline does it by itself at its first
// bin, so calling it is only needed to do it earlier (before live sources
// start, say). Catch-up event changes are saved with the next flush. On an
// error detection starts cold, as it would without History.
func (p *Pipeline) Resume(ctx context.Context, first time.Time) error {
	if p.resumed {
		return nil
	}
	p.resumed = true
	cfg := p.det.Config()
	began := time.Now()
	sh, err := p.cfg.History.DetectorHistory(ctx, store.HistoryQuery{
		Before: first,
		Span:   cfg.Window + cfg.MinHistory,
		Source: p.cfg.Source,
		Open:   cfg.RecoverFor,
	})
	if err != nil {
		return fmt.Errorf("ingest: resume: %w", err)
	}
	if len(sh.Bins) == 0 {
		p.log.Info("no stored history to resume the detector from", "before", first)
		return nil
	}
	feeds := 0
	for _, ff := range sh.FullFeed {
		if ff > 0 {
			feeds++
		}
	}
	for cc := range sh.Countries {
		if cc != "" {
			p.countries[cc] = true // its rows go on, zero when it disappears
		}
	}
	trs := p.det.Resume(&sh.History)
	for i := range trs {
		p.transition(&trs[i])
	}
	// ASNs that were not zero at the last stored bin get a zero row when
	// they are gone at the first new one.
	for a, c := range sh.LastASNs {
		p.prevASN[a] = c
	}
	p.stats.ResumedBins += len(sh.Bins)
	p.checking = true
	ongoing := 0
	for _, ev := range sh.Events {
		if ev.EndedAt.IsZero() {
			ongoing++
		}
	}
	p.log.Info("detector resumed from the stored history", "from", sh.Bins[0], "to", sh.Bins[len(sh.Bins)-1],
		"bins", len(sh.Bins), "full_feed_bins", feeds, "asns", len(sh.ASNs), "countries", len(sh.Countries),
		"events", len(sh.Events), "ongoing", ongoing, "catch_up", len(trs), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// checkResume reports the end of the detector's check of the first bins
// after resuming.
func (p *Pipeline) checkResume() {
	if _, checking := p.det.Resumed(); checking {
		return
	}
	p.checking = false
	if p.det.ResumeDropped() {
		p.stats.ResumeDropped = true
		p.log.Warn("detector history dropped: the view after the restart stayed far below the one before it; starting without history")
	}
}

// track updates the previous-bin state without writing rows.
func (p *Pipeline) track(b *bgpwatch.Bin) {
	for a, c := range b.ASNs {
		if c == (bgpwatch.Counts{}) {
			delete(p.prevASN, a)
		} else {
			p.prevASN[a] = c
		}
	}
	for cc := range b.Countries {
		if cc != "" {
			p.countries[cc] = true
		}
	}
}

// addRows appends the bin's rows to the batch: every seen country, the
// ASNs whose counts changed (all non-zero ASNs at a key frame: the first
// written bin and 00:00 UTC), and its FullFeed.
func (p *Pipeline) addRows(b *bgpwatch.Bin) {
	start := b.Start.UTC()
	key := !p.wroteAny || start.Truncate(24*time.Hour).Equal(start)
	p.wroteAny = true
	if p.batchBins == 0 {
		p.batch.From = start
	}
	p.batch.To = start
	p.batchBins++
	if p.stats.FirstBin.IsZero() {
		p.stats.FirstBin = start
	}
	p.stats.LastBin = start
	p.batch.Feeds = append(p.batch.Feeds, store.FeedPoint{Bin: start, FullFeed: b.FullFeed})

	asnsPer := make(map[string]int, len(p.countries)+1)
	for a, c := range b.ASNs {
		zero := c == (bgpwatch.Counts{})
		if !zero {
			if cc := p.countryOf(a); cc != "" {
				asnsPer[cc]++
			}
		}
		prev, had := p.prevASN[a]
		if (key && !zero) || (had && prev != c) || (!had && !zero) {
			p.batch.ASNs = append(p.batch.ASNs, store.ASNPoint{ASN: a, Bin: start, Counts: c})
		}
		if zero {
			delete(p.prevASN, a)
		} else {
			p.prevASN[a] = c
		}
	}
	// ASNs a producer left out although they were non-zero before are zero now.
	if len(p.prevASN) > len(b.ASNs) {
		for a := range p.prevASN {
			if _, ok := b.ASNs[a]; !ok {
				p.batch.ASNs = append(p.batch.ASNs, store.ASNPoint{ASN: a, Bin: start})
				delete(p.prevASN, a)
			}
		}
	}
	for cc := range b.Countries {
		if cc != "" {
			p.countries[cc] = true
		}
	}
	for cc := range p.countries {
		p.batch.Countries = append(p.batch.Countries, store.CountryPoint{
			Country: cc, Bin: start, Counts: b.Countries[cc], ASNs: asnsPer[cc],
		})
	}
}

// transition queues an event change; several changes of one event within a
// batch collapse into the last.
func (p *Pipeline) transition(tr *detect.Transition) {
	ev := tr.Event
	ev.ASNs = slices.Clone(ev.ASNs)
	ev.Withdrawn = slices.Clone(ev.Withdrawn)
	ev.SettingsHash = p.cfg.SettingsHash
	switch tr.Kind {
	case detect.Started:
		p.stats.EventsStarted++
		p.log.Info("event started", "scope", ev.Scope, "country", ev.Country, "asn", ev.ASN,
			"started_at", ev.StartedAt, "baseline_slash24", ev.BaselineSlash24, "min_slash24", ev.MinSlash24)
	case detect.Ended:
		p.stats.EventsEnded++
		p.log.Info("event ended", "scope", ev.Scope, "country", ev.Country, "asn", ev.ASN,
			"started_at", ev.StartedAt, "ended_at", ev.EndedAt, "drop_ratio", ev.DropRatio)
	}
	k := eventKey{ev.Scope, ev.Country, ev.ASN, ev.StartedAt.UnixNano()}
	if ev.Scope == bgpwatch.ScopeCountry {
		k.asn = 0
	}
	if i, ok := p.pending[k]; ok {
		p.events[i] = ev
		return
	}
	p.pending[k] = len(p.events)
	p.events = append(p.events, ev)
}

// flush writes the batched bins, then the events changed in them (so that
// an event's notice never precedes the series that show it).
func (p *Pipeline) flush(ctx context.Context) error {
	if p.batchBins > 0 {
		if err := p.sink.WriteBins(ctx, &p.batch); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		p.log.Debug("wrote bins", "from", p.batch.From, "to", p.batch.To,
			"country_rows", len(p.batch.Countries), "asn_rows", len(p.batch.ASNs))
		p.stats.BinsWritten += p.batchBins // counted once stored, for honest metrics
		p.batch.Countries = p.batch.Countries[:0]
		p.batch.ASNs = p.batch.ASNs[:0]
		p.batch.Feeds = p.batch.Feeds[:0]
		p.batchBins = 0
	}
	for i := range p.events {
		if _, err := p.sink.SaveEvent(ctx, &p.events[i], p.cfg.Source, p.cfg.Notify); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		p.stats.EventsSaved++
	}
	p.events = p.events[:0]
	clear(p.pending)
	return nil
}
