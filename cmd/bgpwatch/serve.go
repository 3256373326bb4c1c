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
	"github.com/bgpwatch/bgpwatch/config"
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
	queryTimeout   time.Duration
	accessLog      bool
	shutdown       time.Duration
	webhooks       bool
	web            bool
	db             *dbFlags
	live           *config.File // live ingest settings (nil or not Live(): none)
}

const serveDescription = `
Serves the HTTP API (see GET /openapi.json) and the newsroom page at /,
delivers webhooks and, when configured, ingests live BGP data (BGP sessions
through an embedded GoBGP speaker, the RIPE RIS Live feed), all on one
PostgreSQL database. Live settings come from --config (YAML, see
docs/bgpwatch.example.yaml); flags given on the command line override it.

Series requests without from/to cover the 7 days up to the latest stored bin
(replayed history may lie years in the past). Webhook administration needs
Authorization: Bearer <token>, the token read from the environment variable
named by --admin-token-env (default BGPWATCH_ADMIN_TOKEN); without it the
admin endpoints answer 403.

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
	fs.DurationVar(&cfg.queryTimeout, "query-timeout", 15*time.Second, "give up on the database work of one API request after this long (503 timeout)")
	fs.BoolVar(&cfg.accessLog, "access-log", true, "log every request to stderr")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to let requests finish on shutdown")
	fs.BoolVar(&cfg.webhooks, "webhooks", true, "deliver queued webhook notices")
	fs.BoolVar(&cfg.web, "web", true, "serve the newsroom page at / and the chart.svg endpoints")
	lf := addLiveFlags(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if err := lf.load(fs, &cfg, e.getenv); err != nil {
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

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	metrics := api.NewMetrics(nil)
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
		AdminToken: cfg.adminToken, RateLimit: cfg.rateLimit, TrustedProxies: cfg.trustedProxies,
		CacheTTL: cfg.cacheTTL, QueryTimeout: cfg.queryTimeout, AccessLog: cfg.accessLog, AccessLogTo: lb, Version: version,
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
		d := webhook.NewDispatcher(db, webhook.Config{}, log.With("component", "webhook"))
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
