package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the Prometheus collectors of the API and the ingest
// counters. It uses its own registry, never the global default.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ingest   *prometheus.CounterVec

	mu      sync.Mutex
	lastObs map[string]time.Time

	server atomic.Pointer[Server]
}

// NewMetrics registers bgpwatch's collectors on reg (a new registry when
// nil), plus the Go runtime and process collectors.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bgpwatch_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bgpwatch_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bgpwatch_ingest_total", Help: "Ingested items by source (replay, live) and kind (observations, bins, events).",
		}, []string{"source", "kind"}),
		lastObs: map[string]time.Time{},
	}
	reg.MustRegister(m.requests, m.latency, m.ingest, statsCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the metrics live in (others may add to it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AddObservations counts observations read by a source.
func (m *Metrics) AddObservations(source string, n int) {
	m.ingest.WithLabelValues(source, "observations").Add(float64(n))
}

// AddBins counts 5-minute bins written.
func (m *Metrics) AddBins(source string, n int) {
	m.ingest.WithLabelValues(source, "bins").Add(float64(n))
}

// AddEvents counts events saved.
func (m *Metrics) AddEvents(source string, n int) {
	m.ingest.WithLabelValues(source, "events").Add(float64(n))
}

// SetLastObservation records the time of a source's latest observation.
func (m *Metrics) SetLastObservation(source string, t time.Time) {
	m.mu.Lock()
	m.lastObs[source] = t
	m.mu.Unlock()
}

func (m *Metrics) attach(s *Server) { m.server.Store(s) }

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var (
	descObsAge = prometheus.NewDesc("bgpwatch_last_observation_age_seconds",
		"Seconds since the latest observation of a source.", []string{"source"}, nil)
	descBinAge = prometheus.NewDesc("bgpwatch_series_last_bin_age_seconds",
		"Seconds since the start of the latest stored series bin.", nil, nil)
	descEvents = prometheus.NewDesc("bgpwatch_events",
		"Stored events by scope and status (ongoing, ended).", []string{"scope", "status"}, nil)
	descQueue = prometheus.NewDesc("bgpwatch_webhook_queue_depth",
		"Webhook deliveries waiting to be sent.", nil, nil)
	descUp = prometheus.NewDesc("bgpwatch_database_up",
		"1 when the database answered the metrics queries.", nil, nil)
	descCacheBytes = prometheus.NewDesc("bgpwatch_api_cache_bytes",
		"Bytes charged to the API response cache (bodies, gzip forms, keys, headers, overhead).", nil, nil)
	descCacheMax = prometheus.NewDesc("bgpwatch_api_cache_max_bytes",
		"The API response cache's byte budget (--cache-max-bytes).", nil, nil)
	descCacheEntries = prometheus.NewDesc("bgpwatch_api_cache_entries",
		"Responses kept in the API response cache.", nil, nil)
	descCacheEvictions = prometheus.NewDesc("bgpwatch_api_cache_evictions_total",
		"Responses evicted from the API response cache to stay within its byte budget or entry limit.", nil, nil)
)

// statsCollector queries the database at scrape time.
type statsCollector struct{ m *Metrics }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descObsAge
	ch <- descBinAge
	ch <- descEvents
	ch <- descQueue
	ch <- descUp
	ch <- descCacheBytes
	ch <- descCacheMax
	ch <- descCacheEntries
	ch <- descCacheEvictions
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	s := m.server.Load()
	now := time.Now()
	if s != nil {
		now = s.now()
	}
	m.mu.Lock()
	for src, t := range m.lastObs {
		ch <- prometheus.MustNewConstMetric(descObsAge, prometheus.GaugeValue, now.Sub(t).Seconds(), src)
	}
	m.mu.Unlock()
	if s == nil {
		return
	}
	cs := s.cache.stats()
	ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(cs.Bytes))
	ch <- prometheus.MustNewConstMetric(descCacheMax, prometheus.GaugeValue, float64(cs.MaxBytes))
	ch <- prometheus.MustNewConstMetric(descCacheEntries, prometheus.GaugeValue, float64(cs.Entries))
	ch <- prometheus.MustNewConstMetric(descCacheEvictions, prometheus.CounterValue, float64(cs.Evictions))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 1.0
	if ext, err := s.extentNow(ctx); err != nil {
		up = 0
	} else if ext.OK {
		ch <- prometheus.MustNewConstMetric(descBinAge, prometheus.GaugeValue, now.Sub(ext.Last).Seconds())
	}
	if st, err := s.st.Stats(ctx); err != nil {
		up = 0
	} else {
		for _, e := range st.Events {
			status := "ended"
			if e.Ongoing {
				status = "ongoing"
			}
			ch <- prometheus.MustNewConstMetric(descEvents, prometheus.GaugeValue, float64(e.N), e.Scope, status)
		}
	}
	if q, ok := s.cfg.Webhooks.(QueueDepther); ok {
		if n, err := q.QueueDepth(ctx); err != nil {
			up = 0
		} else {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n))
		}
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
}
