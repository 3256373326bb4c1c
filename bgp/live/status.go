package live

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// Feed is the state of one streamed source such as RIS Live.
type Feed struct {
	Name         string // e.g. "ris-live"
	URL          string
	Connected    bool
	Since        time.Time // when Connected last changed
	LastMessage  time.Time
	Messages     int64 // messages received
	Updates      int64 // UPDATE messages received
	Observations int64
	Reconnects   int64
	// Peers are the collector sessions the feed reported state for.
	Peers []Session
}

// CollectorFeed is the state of one public route collector followed
// live: bootstrapped from its archive, then fed by its stream.
type CollectorFeed struct {
	Name  string
	State string // waiting, bootstrapping, catching-up, live, gap, stale, live-without-bootstrap
	Since time.Time
	// Files, FilesDone and Bytes follow the archive files of the current
	// bootstrap or gap fill.
	Files, FilesDone int
	Bytes            int64
	DataTime         time.Time // newest observation sent to the pipeline
	LastMessage      time.Time // wall time of the last stream message
	Messages         int64     // stream observations taken
	Buffered         int64     // stream observations held while the archive catches up
	BadFiles         int
	BadMessages      int64     // malformed stream messages (of the whole stream)
	RIB              time.Time // latest RIB dump read
	Gaps             int
	GapFrom          time.Time // data time the last stream interruption began
	Unfilled         bool      // the archive did not fill the last gap: stale until the next RIB dump
}

// SessionSource reports BGP sessions; *Speaker implements it.
type SessionSource interface {
	Sessions() []Session
	Stats() Stats
}

// StatusConfig configures a Status. Every field is optional.
type StatusConfig struct {
	Speaker SessionSource
	Feeds   []func() Feed
	// Collectors reports the public collectors followed live.
	Collectors func() []CollectorFeed
	// Watermark reports the time up to which live ingest has applied
	// observations (bins before it are closed) and how many came after it
	// had passed their time (ingest.Live's Watermark and Late).
	Watermark func() (time.Time, int64)
	// Queue reports the length and capacity of the observation queue.
	Queue func() (n, capacity int)
	Now   func() time.Time
}

// Status gathers live session, feed and table state for GET /v1/peers and
// /metrics. It is safe for concurrent use; live ingest publishes the
// visibility engine's view into it at every tick (Publish).
type Status struct {
	cfg StatusConfig

	observations atomic.Int64

	mu      sync.Mutex
	peers   []visibility.PeerStat
	bins    int
	updated time.Time
	rates   map[string]rateSample // per collector, for messages per second
}

// rateSample is a collector's message count at a time, and the rate
// measured up to it.
type rateSample struct {
	at   time.Time
	n    int64
	rate float64
}

// NewStatus returns a Status reading from the sources in cfg.
func NewStatus(cfg StatusConfig) *Status {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Status{cfg: cfg, rates: map[string]rateSample{}}
}

// Publish records the pipeline's view at time at: the visibility engine's
// sessions, the bins written so far and the observations applied since the
// previous call. Live ingest calls it from the pipeline's goroutine (see
// ingest.LiveConfig.Publish).
func (s *Status) Publish(ps []visibility.PeerStat, binsWritten, applied int, at time.Time) {
	s.observations.Add(int64(applied))
	s.mu.Lock()
	s.peers, s.bins, s.updated = ps, binsWritten, at
	s.mu.Unlock()
}

// BinsWritten returns the bins the pipeline had written at the latest
// Publish.
func (s *Status) BinsWritten() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bins
}

// PeerInfo is one row of GET /v1/peers.
type PeerInfo struct {
	Source        string     `json:"source"` // "bgp" (own session), "ris-live" (collector peer or the feed itself)
	Collector     string     `json:"collector"`
	Address       string     `json:"address,omitempty"`
	ASN           uint32     `json:"asn,omitempty"`
	State         string     `json:"state"`
	Since         *time.Time `json:"since,omitempty"`
	UptimeSeconds float64    `json:"uptime_seconds"` // 0 unless established/connected
	V4Prefixes    int        `json:"v4_prefixes"`
	V6Prefixes    int        `json:"v6_prefixes"`
	FullFeedV4    bool       `json:"full_feed_v4"`
	FullFeedV6    bool       `json:"full_feed_v6"`
	LastUpdate    *time.Time `json:"last_update,omitempty"`
	Updates       int64      `json:"updates"`
	// ResetCount and IdleUntil show a BGP session's damping after resets
	// for unparsable MP_REACH_NLRI or MP_UNREACH_NLRI (Session.ResetCount,
	// Session.IdleUntil); absent when there is none.
	ResetCount int        `json:"reset_count,omitempty"`
	IdleUntil  *time.Time `json:"idle_until,omitempty"`
	// Feed is set on the row of a public collector followed live.
	Feed *FeedInfo `json:"feed,omitempty"`
}

// FeedInfo is the state of a collector followed live (GET /v1/peers).
type FeedInfo struct {
	State             string     `json:"state"` // waiting, bootstrapping, catching-up, live, gap, stale, live-without-bootstrap
	Since             *time.Time `json:"since,omitempty"`
	Files             int        `json:"files"`      // archive files of the current bootstrap or gap fill
	FilesDone         int        `json:"files_done"` // of them, read
	Bytes             int64      `json:"bytes"`      // archive bytes read in it
	DataTime          *time.Time `json:"data_time,omitempty"`
	LagSeconds        float64    `json:"lag_seconds"` // wall clock minus data time
	LastMessage       *time.Time `json:"last_message,omitempty"`
	Messages          int64      `json:"messages"`
	MessagesPerSecond float64    `json:"messages_per_second"`
	Buffered          int64      `json:"buffered"`
	BadFiles          int        `json:"bad_files"`
	BadMessages       int64      `json:"bad_messages,omitempty"`
	RIB               *time.Time `json:"rib_time,omitempty"`
	Gaps              int        `json:"gaps"`
	GapFrom           *time.Time `json:"gap_from,omitempty"` // data time the last interruption began
	Unfilled          bool       `json:"unfilled,omitempty"` // the last gap was not filled by the archive
}

// rate returns a collector's stream messages per second, measured over at
// least 5 s.
func (s *Status) rate(name string, n int64, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rates[name]
	if !ok {
		s.rates[name] = rateSample{at: now, n: n}
		return 0
	}
	if d := now.Sub(r.at); d >= 5*time.Second {
		r = rateSample{at: now, n: n, rate: float64(n-r.n) / d.Seconds()}
		s.rates[name] = r
	}
	return r.rate
}

// collectorRows returns the rows of the collectors followed live.
func (s *Status) collectorRows(now time.Time) []PeerInfo {
	if s.cfg.Collectors == nil {
		return nil
	}
	var out []PeerInfo
	for _, c := range s.cfg.Collectors() {
		st := c.State
		fi := &FeedInfo{
			State: st, Since: tp(c.Since), Files: c.Files, FilesDone: c.FilesDone, Bytes: c.Bytes,
			DataTime: tp(c.DataTime), LastMessage: tp(c.LastMessage), Messages: c.Messages,
			MessagesPerSecond: s.rate(c.Name, c.Messages, now), Buffered: c.Buffered, BadFiles: c.BadFiles, BadMessages: c.BadMessages,
			RIB: tp(c.RIB), Gaps: c.Gaps, GapFrom: tp(c.GapFrom), Unfilled: c.Unfilled,
		}
		if !c.DataTime.IsZero() {
			fi.LagSeconds = max(0, now.Sub(c.DataTime).Seconds())
		}
		row := PeerInfo{Source: "ris-live", Collector: c.Name, State: st, Since: tp(c.Since),
			LastUpdate: tp(c.LastMessage), Updates: c.Messages, Feed: fi}
		if st == "live" && !c.Since.IsZero() {
			row.UptimeSeconds = now.Sub(c.Since).Seconds()
		}
		out = append(out, row)
	}
	return out
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// List returns every known peer: configured BGP sessions, collector peers
// of the feeds, and each feed as a row of its own; prefix counts and
// full-feed flags come from the visibility engine's latest snapshot.
func (s *Status) List() []PeerInfo {
	now := s.cfg.Now()
	s.mu.Lock()
	stats := make(map[bgpwatch.Peer]visibility.PeerStat, len(s.peers))
	for _, p := range s.peers {
		stats[p.Peer] = p
	}
	s.mu.Unlock()
	seen := make(map[bgpwatch.Peer]bool)
	var out []PeerInfo
	add := func(src string, x Session, up bool) {
		seen[x.Peer] = true
		pi := PeerInfo{
			Source: src, Collector: x.Peer.Collector, Address: x.Peer.Addr.String(), ASN: uint32(x.Peer.ASN),
			State: x.State, Since: tp(x.Since), LastUpdate: tp(x.LastUpdate), Updates: x.Updates,
			ResetCount: x.ResetCount, IdleUntil: tp(x.IdleUntil),
		}
		if up && !x.Since.IsZero() {
			pi.UptimeSeconds = now.Sub(x.Since).Seconds()
		}
		if st, ok := stats[x.Peer]; ok {
			pi.V4Prefixes, pi.V6Prefixes, pi.FullFeedV4, pi.FullFeedV6 = st.V4, st.V6, st.FullFeedV4, st.FullFeedV6
			if st.LastSeen.After(x.LastUpdate) {
				pi.LastUpdate = tp(st.LastSeen)
			}
		}
		out = append(out, pi)
	}
	if s.cfg.Speaker != nil {
		for _, x := range s.cfg.Speaker.Sessions() {
			add("bgp", x, x.State == "established")
		}
	}
	for _, f := range s.cfg.Feeds {
		fd := f()
		state := "disconnected"
		if fd.Connected {
			state = "connected"
		}
		row := PeerInfo{Source: fd.Name, Collector: fd.Name, State: state, Since: tp(fd.Since),
			LastUpdate: tp(fd.LastMessage), Updates: fd.Updates}
		if fd.Connected && !fd.Since.IsZero() {
			row.UptimeSeconds = now.Sub(fd.Since).Seconds()
		}
		out = append(out, row)
		for _, x := range fd.Peers {
			add(fd.Name, x, x.State == "connected" || x.State == "established")
		}
	}
	out = append(out, s.collectorRows(now)...)
	// Sessions the engine knows without a state report (e.g. RIS Live
	// peers seen only through UPDATEs).
	for _, st := range s.peersSnapshot() {
		if seen[st.Peer] {
			continue
		}
		src := "ris-live"
		if st.Peer.Collector == Collector {
			src = "bgp"
		}
		add(src, Session{Peer: st.Peer, State: "unknown", LastUpdate: st.LastSeen}, false)
	}
	slices.SortStableFunc(out, func(a, b PeerInfo) int {
		if c := cmp.Compare(a.Collector, b.Collector); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ASN, b.ASN); c != 0 {
			return c
		}
		return cmp.Compare(a.Address, b.Address)
	})
	return out
}

func (s *Status) peersSnapshot() []visibility.PeerStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers
}

// Peers implements the API's PeerLister hook.
func (s *Status) Peers(ctx context.Context) (any, error) {
	l := s.List()
	if l == nil {
		l = []PeerInfo{}
	}
	return l, nil
}

// ---- metrics ----

var (
	descUpdates = prometheus.NewDesc("bgpwatch_live_updates_received_total",
		"Routes (BGP sessions) or UPDATE messages (feeds) received, by source.", []string{"source"}, nil)
	descObs = prometheus.NewDesc("bgpwatch_live_observations_total",
		"Observations fed into the live pipeline.", nil, nil)
	descEstablished = prometheus.NewDesc("bgpwatch_live_sessions_established_total",
		"Times a BGP session reached Established.", nil, nil)
	descSessionUp = prometheus.NewDesc("bgpwatch_live_session_up",
		"1 when the BGP session is established.", []string{"peer", "asn"}, nil)
	descPrefixes = prometheus.NewDesc("bgpwatch_live_peer_prefixes",
		"Prefixes in a live peer's table, by family.", []string{"collector", "peer", "asn", "family"}, nil)
	descFeedUp = prometheus.NewDesc("bgpwatch_live_feed_connected",
		"1 when the feed's stream is connected.", []string{"feed"}, nil)
	descFeedAge = prometheus.NewDesc("bgpwatch_live_feed_last_message_age_seconds",
		"Seconds since the feed's last message.", []string{"feed"}, nil)
	descFeedReconnects = prometheus.NewDesc("bgpwatch_live_feed_reconnects_total",
		"Reconnections of the feed's stream.", []string{"feed"}, nil)
	descQueue = prometheus.NewDesc("bgpwatch_live_queue_length",
		"Observations waiting for the live pipeline.", nil, nil)
	descLag = prometheus.NewDesc("bgpwatch_live_max_route_lag_seconds",
		"Largest delay between gobgp receiving a route and bgpwatch taking it.", nil, nil)

	descWatermark = prometheus.NewDesc("bgpwatch_live_watermark_timestamp_seconds",
		"Data time up to which live ingest has applied observations: bins ending before it are closed.", nil, nil)
	descLate = prometheus.NewDesc("bgpwatch_live_late_observations_total",
		"Observations that came after the watermark had passed their time (counted in the open bin).", nil, nil)

	collLabels    = []string{"collector"}
	descCollState = prometheus.NewDesc("bgpwatch_live_collector_state",
		"1 for the state a followed collector is in (waiting, bootstrapping, catching-up, live, gap, stale, live-without-bootstrap).",
		[]string{"collector", "state"}, nil)
	descCollSince = prometheus.NewDesc("bgpwatch_live_collector_state_since_timestamp_seconds",
		"When the collector entered its state (Unix time).", collLabels, nil)
	descCollLag = prometheus.NewDesc("bgpwatch_live_collector_lag_seconds",
		"Wall clock minus the time of the collector's newest observation passed to the pipeline.", collLabels, nil)
	descCollMsgs = prometheus.NewDesc("bgpwatch_live_collector_messages_total",
		"Stream observations received for the collector.", collLabels, nil)
	descCollBuffered = prometheus.NewDesc("bgpwatch_live_collector_buffered",
		"Stream observations held while the collector's archive catches up.", collLabels, nil)
	descCollFiles = prometheus.NewDesc("bgpwatch_live_collector_archive_files",
		"Archive files of the collector's current bootstrap, catch-up or gap fill.", collLabels, nil)
	descCollFilesDone = prometheus.NewDesc("bgpwatch_live_collector_archive_files_done",
		"Of them, read.", collLabels, nil)
	descCollBytes = prometheus.NewDesc("bgpwatch_live_collector_archive_bytes",
		"Archive bytes read in the current bootstrap, catch-up or gap fill.", collLabels, nil)
	descCollGaps = prometheus.NewDesc("bgpwatch_live_collector_gaps_total",
		"Stream interruptions of the collector filled from the archive.", collLabels, nil)
	descCollBadFiles = prometheus.NewDesc("bgpwatch_live_collector_bad_files_total",
		"Archive files of the collector missing or unreadable.", collLabels, nil)
)

// Describe implements prometheus.Collector.
func (s *Status) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUpdates, descObs, descEstablished, descSessionUp, descPrefixes,
		descFeedUp, descFeedAge, descFeedReconnects, descQueue, descLag, descCollState, descCollSince, descCollLag,
		descCollMsgs, descCollBuffered, descCollFiles, descCollFilesDone, descCollBytes, descCollGaps, descCollBadFiles, descWatermark, descLate} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Status) Collect(ch chan<- prometheus.Metric) {
	now := s.cfg.Now()
	ch <- prometheus.MustNewConstMetric(descObs, prometheus.CounterValue, float64(s.observations.Load()))
	if sp := s.cfg.Speaker; sp != nil {
		st := sp.Stats()
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(st.Routes), "bgp")
		ch <- prometheus.MustNewConstMetric(descEstablished, prometheus.CounterValue, float64(st.Established))
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, st.MaxLag.Seconds())
		for _, x := range sp.Sessions() {
			up := 0.0
			if x.State == "established" {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descSessionUp, prometheus.GaugeValue, up, x.Peer.Addr.String(), x.Peer.ASN.String())
		}
	}
	for _, f := range s.cfg.Feeds {
		fd := f()
		up := 0.0
		if fd.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(fd.Updates), fd.Name)
		ch <- prometheus.MustNewConstMetric(descFeedUp, prometheus.GaugeValue, up, fd.Name)
		ch <- prometheus.MustNewConstMetric(descFeedReconnects, prometheus.CounterValue, float64(fd.Reconnects), fd.Name)
		if !fd.LastMessage.IsZero() {
			ch <- prometheus.MustNewConstMetric(descFeedAge, prometheus.GaugeValue, now.Sub(fd.LastMessage).Seconds(), fd.Name)
		}
	}
	if s.cfg.Watermark != nil {
		wm, late := s.cfg.Watermark()
		if !wm.IsZero() {
			ch <- prometheus.MustNewConstMetric(descWatermark, prometheus.GaugeValue, float64(wm.UnixNano())/1e9)
		}
		ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(late))
	}
	if s.cfg.Collectors != nil {
		for _, c := range s.cfg.Collectors() {
			n := c.Name
			ch <- prometheus.MustNewConstMetric(descCollState, prometheus.GaugeValue, 1, n, c.State)
			if !c.Since.IsZero() {
				ch <- prometheus.MustNewConstMetric(descCollSince, prometheus.GaugeValue, float64(c.Since.UnixNano())/1e9, n)
			}
			if !c.DataTime.IsZero() {
				ch <- prometheus.MustNewConstMetric(descCollLag, prometheus.GaugeValue, max(0, now.Sub(c.DataTime).Seconds()), n)
			}
			ch <- prometheus.MustNewConstMetric(descCollMsgs, prometheus.CounterValue, float64(c.Messages), n)
			ch <- prometheus.MustNewConstMetric(descCollBuffered, prometheus.GaugeValue, float64(c.Buffered), n)
			ch <- prometheus.MustNewConstMetric(descCollFiles, prometheus.GaugeValue, float64(c.Files), n)
			ch <- prometheus.MustNewConstMetric(descCollFilesDone, prometheus.GaugeValue, float64(c.FilesDone), n)
			ch <- prometheus.MustNewConstMetric(descCollBytes, prometheus.GaugeValue, float64(c.Bytes), n)
			ch <- prometheus.MustNewConstMetric(descCollGaps, prometheus.CounterValue, float64(c.Gaps), n)
			ch <- prometheus.MustNewConstMetric(descCollBadFiles, prometheus.CounterValue, float64(c.BadFiles), n)
		}
	}
	if s.cfg.Queue != nil {
		n, _ := s.cfg.Queue()
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n))
	}
	for _, p := range s.peersSnapshot() {
		addr, asn := p.Peer.Addr.String(), strconv.FormatUint(uint64(p.Peer.ASN), 10)
		ch <- prometheus.MustNewConstMetric(descPrefixes, prometheus.GaugeValue, float64(p.V4), p.Peer.Collector, addr, asn, "ipv4")
		ch <- prometheus.MustNewConstMetric(descPrefixes, prometheus.GaugeValue, float64(p.V6), p.Peer.Collector, addr, asn, "ipv6")
	}
}
