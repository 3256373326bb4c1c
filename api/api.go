// Package api serves bgpwatch's HTTP API for newsroom tools: country and
// network visibility series, shutdown events with their evidence, webhook
// administration, an OpenAPI document and Prometheus metrics. The routes and
// their JSON shapes are documented by openapi.json in this package (served
// at /openapi.json; a test keeps it in step with the router) and by the
// README.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/bgpwatch/bgpwatch"
)

// Reader is the read side of the store that the API needs; *store.DB
// implements it.
type Reader interface {
	Ping(ctx context.Context) error
	SeriesExtent(ctx context.Context) (bgpwatch.SeriesExtent, error)
	LatestCountries(ctx context.Context) ([]bgpwatch.CountryLatest, error)
	LatestBin(ctx context.Context, country string, asn bgpwatch.ASN) (time.Time, bool, error)
	Series(ctx context.Context, q bgpwatch.SeriesQuery) ([]bgpwatch.Point, error)
	ASNSummary(ctx context.Context, asn bgpwatch.ASN, at time.Time) (bgpwatch.ASNSummary, error)
	CountryASNs(ctx context.Context, q bgpwatch.CountryASNsQuery) ([]bgpwatch.CountryASN, error)
	ListEvents(ctx context.Context, f bgpwatch.EventFilter) ([]bgpwatch.Event, string, error)
	GetEvent(ctx context.Context, id int64) (bgpwatch.Event, error)
	EventPrefixes(ctx context.Context, id int64, limit int, cursor string) ([]bgpwatch.WithdrawnPrefix, string, error)
	Stats(ctx context.Context) (bgpwatch.EventStats, error)
}

// Webhooks is the subscription storage behind the admin endpoints.
type Webhooks interface {
	CreateSubscription(ctx context.Context, s *bgpwatch.Subscription) error
	ListSubscriptions(ctx context.Context) ([]bgpwatch.Subscription, error)
	DeleteSubscription(ctx context.Context, id int64) error
	ListDeliveries(ctx context.Context, subID int64, limit int, cursor string) ([]bgpwatch.Delivery, string, error)
}

// QueueDepther reports how many webhook deliveries wait to be sent; the
// metrics endpoint shows it when the webhook storage offers it.
type QueueDepther interface {
	QueueDepth(ctx context.Context) (int, error)
}

// PeerLister is the hook for GET /v1/peers: live ingest provides it when
// BGP sessions or live feeds are configured; without it the route answers
// 503. The result is encoded as JSON as it is.
type PeerLister interface {
	Peers(ctx context.Context) (any, error)
}

// Config configures a Server. Store is required; everything else is optional.
type Config struct {
	Store    Reader
	Webhooks Webhooks   // nil: the webhook endpoints answer 503
	Peers    PeerLister // nil: GET /v1/peers answers 503
	Logger   *slog.Logger
	Metrics  *Metrics         // nil: a private registry
	Now      func() time.Time // nil: time.Now
	// AdminToken guards the webhook endpoints; empty disables them (403).
	AdminToken string
	// WebhooksAllowPrivate accepts webhook URLs whose host is an IP address
	// in an internal range (loopback, private, link-local, ...); without
	// it they are refused with 400. Delivery checks every address it
	// dials the same way (webhook.Config.AllowPrivate).
	WebhooksAllowPrivate bool
	// RateLimit is requests per minute per client; 0 means no limit.
	RateLimit int
	// TrustedProxies are the proxy addresses whose X-Forwarded-For is
	// believed when keying the rate limit and logging the client.
	TrustedProxies []netip.Prefix
	// CacheTTL keeps read responses in memory this long (0 disables the
	// cache). Series only change once per 5-minute bin, so a few seconds
	// take the load of many identical newsroom dashboards off the database.
	CacheTTL time.Duration
	// CacheMaxBytes bounds the memory of the cached responses (bodies, gzip
	// forms, keys, headers); least recently used entries are evicted past
	// it. 0 means DefaultCacheMaxBytes (32 MiB).
	CacheMaxBytes int64
	// AccessLog turns per-request log lines on.
	AccessLog bool
	// AccessLogTo, when set, receives the access log lines directly, in
	// the format slog.TextHandler gives them, instead of going through
	// Logger: cheaper per request. Set it to the writer under Logger's
	// text handler.
	AccessLogTo io.Writer
	// QueryTimeout bounds the database work behind one request (0: 15 s),
	// so a database that hangs rather than refuses gets a 503 "timeout"
	// problem instead of a request that never ends.
	QueryTimeout time.Duration
	// Version is reported by /v1/health.
	Version string
	// BaselineWindow is the history a network's baseline is the median of
	// in /v1/countries/{cc}/asns: the detector's Window (0: its default).
	BaselineWindow time.Duration
	// Mount, when set, adds further routes (the newsroom page and its
	// charts, package web) to the router after the API's own, so that they
	// share its middleware (request ids, metrics, CORS, rate limit);
	// writeError is the API's problem+json error writer.
	Mount func(r chi.Router, writeError func(http.ResponseWriter, *http.Request, error))
}

// Server is the HTTP API. Create it with New; it is an http.Handler.
type Server struct {
	cfg     Config
	st      Reader
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
	router  chi.Router
	cache   *respCache
	access  *accessLog // nil: access lines go through log

	baselineWindow time.Duration
	queryTimeout   time.Duration

	idPrefix string        // random per process, so ids differ across restarts
	idSeq    atomic.Uint64 // request ids are idPrefix + sequence
	date     httpDate

	extentMu sync.Mutex
	extent   bgpwatch.SeriesExtent
	extentAt time.Time
}

// New builds the router.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, st: cfg.Store, log: cfg.Logger, now: cfg.Now, metrics: cfg.Metrics}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	s.metrics.attach(s)
	var b [6]byte
	rand.Read(b[:]) // crypto/rand never fails on Linux
	s.idPrefix = hex.EncodeToString(b[:]) + "-"
	s.cache = newRespCache(cfg.CacheTTL, s.now, cfg.CacheMaxBytes)
	if cfg.AccessLogTo != nil {
		s.access = newAccessLog(cfg.AccessLogTo)
	}
	s.queryTimeout = cfg.QueryTimeout
	if s.queryTimeout <= 0 {
		s.queryTimeout = defaultQueryTimeout
	}
	s.baselineWindow = cfg.BaselineWindow
	if s.baselineWindow <= 0 {
		s.baselineWindow = 24 * time.Hour // detect.DefaultConfig().Window
	}
	s.router = s.routes()
	return s
}

// CacheStats reports the response cache's memory accounting.
func (s *Server) CacheStats() CacheStats { return s.cache.stats() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router exposes the chi router (for route walking in tests and docs).
func (s *Server) Router() chi.Router { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.requestIDMiddleware, s.recoverMiddleware, s.observeMiddleware, s.corsMiddleware, middleware.GetHead)
	if s.cfg.RateLimit > 0 {
		r.Use(httprate.LimitBy(s.cfg.RateLimit, time.Minute,
			func(r *http.Request) (string, error) { return s.clientIP(r).String(), nil },
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				s.writeError(w, r, errRateLimited)
			})))
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errRouteNotFound)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errMethodNotAllow)
	})

	// Reads through the cache bound their own database work (see read).
	r.Get("/v1/countries", s.read(s.handleCountries))
	r.Get("/v1/countries/{cc}/series", s.read(s.handleCountrySeries))
	r.Get("/v1/countries/{cc}/asns", s.read(s.handleCountryASNs))
	r.Get("/v1/asns/{asn}", s.read(s.handleASN))
	r.Get("/v1/asns/{asn}/series", s.read(s.handleASNSeries))
	r.Get("/v1/events", s.read(s.handleEvents))
	r.Get("/v1/events/{id}", s.read(s.handleEvent))
	r.Get("/v1/events/{id}/prefixes", s.read(s.handleEventPrefixes))

	// Everything else runs in the request, bounded by the query timeout.
	r.Group(func(r chi.Router) {
		r.Use(s.timeoutMiddleware)
		r.Get("/openapi.json", s.handleOpenAPI)
		r.Get("/metrics", s.metrics.handler().ServeHTTP)
		r.Get("/v1/health", s.handleHealth)
		r.Get("/v1/peers", s.handlePeers)
		r.Group(func(r chi.Router) {
			r.Use(s.adminMiddleware)
			r.Post("/v1/webhooks", s.handleCreateWebhook)
			r.Get("/v1/webhooks", s.handleListWebhooks)
			r.Delete("/v1/webhooks/{id}", s.handleDeleteWebhook)
			r.Get("/v1/webhooks/{id}/deliveries", s.handleDeliveries)
		})
		if s.cfg.Mount != nil {
			s.cfg.Mount(r, s.writeError)
		}
	})
	return r
}

// adminMiddleware lets requests with the admin bearer token through. With
// no token configured the admin endpoints are closed, not open.
func (s *Server) adminMiddleware(next http.Handler) http.Handler {
	want := []byte(s.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(want) == 0 {
			s.writeError(w, r, errAdminDisabled)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bgpwatch admin"`)
			s.writeError(w, r, errUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// extentNow returns the stored series extent, cached for a few seconds: it
// bounds every series request and changes at most once per bin.
func (s *Server) extentNow(ctx context.Context) (bgpwatch.SeriesExtent, error) {
	s.extentMu.Lock()
	defer s.extentMu.Unlock()
	now := s.now()
	if !s.extentAt.IsZero() && now.Sub(s.extentAt) < 5*time.Second && now.After(s.extentAt) {
		return s.extent, nil
	}
	e, err := s.st.SeriesExtent(ctx)
	if err != nil {
		return e, err
	}
	s.extent, s.extentAt = e, now
	return e, nil
}
