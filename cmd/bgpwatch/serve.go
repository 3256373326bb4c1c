package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/backfill"
	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/netmeta"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/web"
	"github.com/bgpwatch/bgpwatch/webhook"
)

func init() {
	register(&command{name: "serve", summary: "serve the HTTP API, webhooks and live ingest", run: runServe})
}

// serveConfig is everything serve runs with.
type serveConfig struct {
	listen         string
	adminTokenEnv  string
	adminToken     string
	rateLimit      int
	trustedProxies []netip.Prefix
	cacheTTL       time.Duration
	cacheMaxBytes  config.ByteSize
	queryTimeout   time.Duration
	accessLog      bool
	shutdown       time.Duration
	webhooks       bool
	allowPrivate   bool // webhook receivers on internal addresses
	web            bool
	db             *dbFlags
	live           *config.File // live ingest settings (nil or not Live(): none)
	meta           *metaFlags   // network metadata to import at start and refresh
	metaEvery      time.Duration
}

const serveDescription = `
Serves the HTTP API (see GET /openapi.json) and the newsroom page at /,
delivers webhooks and, when configured, ingests live BGP data (BGP sessions
through an embedded GoBGP speaker, the RIPE RIS Live feed, routers over BMP
on --bmp-listen, OpenBMP from Kafka such as RouteViews'), all on one
PostgreSQL database. Live settings come from --config (YAML, see
docs/bgpwatch.example.yaml); flags given on the command line override it.
The visibility and detection flags are those of replay and detect, and
override the file's visibility: and detection: keys one by one.

  bgpwatch serve --ris-live --collectors ris

watches every RIS collector live from the first minute: the running
collectors are listed from the RIS archive's root page (a bview in the last
24 hours), and each one's latest bview and the updates files since are
downloaded (--ris-url, cached in --cache-dir as fetch does) before its RIS
Live stream is applied; a cut stream is filled from the archive.

Series requests without from/to cover the 7 days up to the latest stored bin
(replayed history may lie years in the past). Webhook administration needs
Authorization: Bearer <token>, the token read from the environment variable
named by --admin-token-env (default BGPWATCH_ADMIN_TOKEN); without it the
admin endpoints answer 403. Webhook receivers on internal addresses
(loopback, private, link-local, multicast, unspecified, CGNAT) are refused
at registration (an IP in the URL) and on every address delivery dials
(names too), unless --webhooks-allow-private.

With --metadata (download) or --metadata-dir (saved files), the network
metadata is imported at start and again every --metadata-refresh (24h);
see 'bgpwatch fetch --help'.

Stops gracefully on SIGINT or SIGTERM.`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "[flags]", serveDescription)
	cfg := serveConfig{db: addDBFlags(fs, e)}
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "`address` to listen on")
	fs.StringVar(&cfg.adminTokenEnv, "admin-token-env", "BGPWATCH_ADMIN_TOKEN", "environment `variable` holding the admin bearer token")
	fs.IntVar(&cfg.rateLimit, "rate-limit", 600, "requests per minute per client `n`; 0 disables the limit")
	var proxies string
	fs.StringVar(&proxies, "trusted-proxy", "", "comma-separated `prefixes` of reverse proxies whose X-Forwarded-For is believed")
	fs.DurationVar(&cfg.cacheTTL, "cache-ttl", 5*time.Second, "keep read responses in memory this long (0 disables)")
	cfg.cacheMaxBytes = api.DefaultCacheMaxBytes
	fs.Var(&cfg.cacheMaxBytes, "cache-max-bytes", "memory `budget` of the response cache, bytes or a size such as 64MiB; least recently used responses are evicted past it")
	fs.DurationVar(&cfg.queryTimeout, "query-timeout", 15*time.Second, "give up on the database work of one API request after this long (503 timeout)")
	fs.BoolVar(&cfg.accessLog, "access-log", true, "log every request to stderr")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to let requests finish on shutdown")
	fs.BoolVar(&cfg.webhooks, "webhooks", true, "deliver queued webhook notices")
	fs.BoolVar(&cfg.allowPrivate, "webhooks-allow-private", false, "allow webhook receivers on internal addresses (loopback, private, link-local, CGNAT, ...), refused by default at registration and on every address dialled")
	fs.BoolVar(&cfg.web, "web", true, "serve the newsroom page at / and the chart.svg endpoints")
	lf := addLiveFlags(fs)
	cfg.meta = addMetaFlags(fs, e, true)
	fs.DurationVar(&cfg.metaEvery, "metadata-refresh", 24*time.Hour, "with --metadata or --metadata-dir: import the network metadata again this often")
	df := addDetectionFlags(fs, &lf.path)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if err := lf.load(fs, &cfg, e.getenv); err != nil {
		return err
	}
	if err := df.apply(fs, lf.file); err != nil {
		return err
	}
	cfg.live = lf.file
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pfx, err := parseProxy(p)
		if err != nil {
			return fmt.Errorf("%w: --trusted-proxy: %v", errUsage, err)
		}
		cfg.trustedProxies = append(cfg.trustedProxies, pfx)
	}
	if cfg.rateLimit < 0 {
		return fmt.Errorf("%w: --rate-limit must not be negative", errUsage)
	}
	if cfg.metaEvery < time.Minute {
		return fmt.Errorf("%w: --metadata-refresh must be at least 1m", errUsage)
	}
	if cfg.meta.dir != "" { // fail the start, not the first refresh
		if _, err := netmeta.LoadDirCheck(cfg.meta.dir); err != nil {
			return err
		}
	}
	cfg.adminToken = strings.TrimSpace(e.getenv(cfg.adminTokenEnv))
	return cfg.run(ctx, e)
}

func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (cfg *serveConfig) run(ctx context.Context, e *env) error {
	// The access log writes a line per request: batch the writes.
	lb := &logBuffer{w: bufio.NewWriterSize(e.stderr, 64<<10)}
	defer lb.flush()
	stopFlush := make(chan struct{})
	defer close(stopFlush)
	go lb.flushEvery(250*time.Millisecond, stopFlush)
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.db.logger = log
	db, err := cfg.db.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	running := 0

	// Network metadata: imported in the background (a full import takes
	// seconds to tens of seconds) and refreshed every --metadata-refresh.
	if cfg.meta != nil && cfg.meta.any() {
		go func() {
			if err := cfg.meta.importMetadata(ctx, db, slogWriter{log}, log); err != nil && ctx.Err() == nil {
				log.Warn("metadata import failed; previous data kept", "err", err)
			}
			refreshMetadata(ctx, cfg.meta, db, cfg.metaEvery, log)
		}()
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	metrics := api.NewMetrics(nil)
	// Backfill runs' progress (bgpwatch backfill / worker).
	if err := metrics.Registry().Register(backfill.NewCollector(db.Pool())); err != nil {
		log.Warn("backfill metrics not registered", "err", err)
	}
	// Live ingest (BGP sessions, RIS Live), when configured: it feeds the
	// same pipeline as replay, reports to metrics and lists its peers.
	lv, err := startLive(ctx, cfg.live, db, metrics, log)
	if err != nil {
		return err
	}
	if lv != nil {
		running++
		go func() { errc <- wrapErr("live ingest", lv.wait()) }()
	}
	acfg := api.Config{
		Store: db, Webhooks: db, Logger: log, Metrics: metrics,
		AdminToken: cfg.adminToken, WebhooksAllowPrivate: cfg.allowPrivate, RateLimit: cfg.rateLimit, TrustedProxies: cfg.trustedProxies,
		CacheTTL: cfg.cacheTTL, CacheMaxBytes: int64(cfg.cacheMaxBytes), QueryTimeout: cfg.queryTimeout, AccessLog: cfg.accessLog, AccessLogTo: lb, Version: version,
	}
	if lv != nil {
		acfg.Peers = lv.lister()
	}
	if cfg.live != nil {
		// A network's baseline in /v1/countries/{cc}/asns is the detector's.
		acfg.BaselineWindow = cfg.live.DetectConfig().Window
	}
	if cfg.web {
		acfg.Mount = func(r chi.Router, writeError func(http.ResponseWriter, *http.Request, error)) {
			web.New(db, log.With("component", "web"), web.WithErrorWriter(writeError)).Mount(r)
		}
	}
	srv := api.New(acfg)
	if cfg.adminToken == "" {
		log.Warn("admin endpoints disabled: no token in the environment", "env", cfg.adminTokenEnv)
	}

	// Webhook delivery.
	if cfg.webhooks {
		d := webhook.NewDispatcher(db, webhook.Config{AllowPrivate: cfg.allowPrivate}, log.With("component", "webhook"))
		running++
		go func() { errc <- wrapErr("webhook dispatcher", d.Run(ctx)) }()
	}

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(e.stderr, "bgpwatch: serving on http://%s/ (API docs at /openapi.json)\n", ln.Addr())
	running++
	go func() {
		err := hs.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- wrapErr("http server", err)
	}()

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		running--
	}
	log.Info("shutting down")
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), cfg.shutdown)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	for ; running > 0; running-- {
		select {
		case err := <-errc:
			if first == nil {
				first = err
			}
		case <-sctx.Done():
			return errors.Join(first, errors.New("shutdown timed out"))
		}
	}
	return first
}

// logBuffer is a locked buffered writer for the log, flushed periodically.
type logBuffer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	b.w.Flush() // nowhere to report a failing stderr
	b.mu.Unlock()
}

func (b *logBuffer) flushEvery(d time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-stop:
			return
		}
	}
}

// wrapErr names the component that failed; cancellation is not a failure.
func wrapErr(what string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

var (
	_ api.Reader   = (*store.DB)(nil)
	_ api.Webhooks = (*store.DB)(nil)
)
