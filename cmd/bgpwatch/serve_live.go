package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/bgp/risfeed"
	"github.com/bgpwatch/bgpwatch/bgp/rislive"
	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
)

// liveFlags are serve's configuration-file flag and the live-ingest
// overrides of the file.
type liveFlags struct {
	path       string
	binStep    time.Duration
	risLive    bool
	risURL     string
	collectors string
	archiveURL string
	cacheDir   string
	bgpASN     uint
	routerID   string
	bgpListen  string
	bgpPort    int
	neighbors  stringList // ADDR,ASN[,passive][,addpath][,port=N]
	bmpListen  string
	file       *config.File
}

// addLiveFlags registers --config and the live-ingest flags on fs.
func addLiveFlags(fs *flag.FlagSet) *liveFlags {
	lf := &liveFlags{}
	fs.StringVar(&lf.path, "config", "", "YAML configuration `file` (see docs/bgpwatch.example.yaml); flags override it")
	fs.DurationVar(&lf.binStep, "bin-step", 0, "series bin `width` for live ingest (default 5m)")
	fs.BoolVar(&lf.risLive, "ris-live", false, "ingest the RIPE RIS Live feed")
	fs.StringVar(&lf.risURL, "ris-live-url", "", "RIS Live websocket `URL` (default "+rislive.DefaultURL+")")
	fs.StringVar(&lf.collectors, "collectors", "", "RIS `collectors` to bootstrap from the RIS archive before their RIS Live stream (rrc00,rrc01,... or ris for all); implies --ris-live")
	fs.StringVar(&lf.archiveURL, "ris-url", "", "RIPE RIS archive `URL` for --collectors (BGPWATCH_RIS_URL, default "+fetch.DefaultRISURL+")")
	fs.StringVar(&lf.cacheDir, "cache-dir", "", "download cache `directory` for --collectors (BGPWATCH_CACHE_DIR, else $XDG_CACHE_HOME/bgpwatch, else ~/.cache/bgpwatch)")
	fs.UintVar(&lf.bgpASN, "bgp-asn", 0, "local `ASN` of bgpwatch's BGP sessions")
	fs.StringVar(&lf.routerID, "bgp-router-id", "", "BGP router `id` (an IPv4 address)")
	fs.StringVar(&lf.bgpListen, "bgp-listen", "", "`address` to accept BGP sessions on (default all)")
	fs.IntVar(&lf.bgpPort, "bgp-port", 0, "TCP `port` to accept BGP sessions on (default 179; -1 disables)")
	fs.StringVar(&lf.bmpListen, "bmp-listen", "", "TCP `address` of the BMP station routers connect to, e.g. :11019 (overrides bmp.listen)")
	fs.Var(&lf.neighbors, "bgp-neighbor", "BGP neighbor `ADDR,ASN[,passive][,addpath][,port=N]`; repeatable, added to the file's")
	return lf
}

// load reads the configuration file (if any), applies the flags given on
// the command line over it, and fills serve's settings that the file sets
// and the command line does not (listen, db, data dir, admin token env).
func (lf *liveFlags) load(fs *flag.FlagSet, cfg *serveConfig, getenv func(string) string) error {
	f := config.Default()
	if lf.path != "" {
		var err error
		if f, err = config.Load(lf.path); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.Listen != "" && !set["listen"] {
		cfg.listen = f.Listen
	}
	if f.AdminTokenEnv != "" && !set["admin-token-env"] {
		cfg.adminTokenEnv = f.AdminTokenEnv
	}
	if f.CacheMaxBytes != 0 && !set["cache-max-bytes"] {
		cfg.cacheMaxBytes = f.CacheMaxBytes
	}
	if !set["webhooks-allow-private"] {
		cfg.allowPrivate = f.Webhooks.AllowPrivate
	}
	if cfg.db != nil {
		if f.DB != "" && !set["db"] {
			cfg.db.url = f.DB
		}
		if f.DataDir != "" && !set["data-dir"] {
			cfg.db.dataDir = f.DataDir
		}
	}
	if set["bin-step"] {
		f.BinStep = lf.binStep
	}
	if set["ris-live"] {
		f.RISLive.Enabled = lf.risLive
	}
	if lf.risURL != "" {
		f.RISLive.URL = lf.risURL
	}
	if lf.bmpListen != "" {
		if f.BMP == nil {
			f.BMP = &config.BMP{}
		}
		f.BMP.Listen = lf.bmpListen
	}
	if lf.collectors != "" {
		f.RISLive.Collectors = nil
		for _, c := range strings.Split(lf.collectors, ",") {
			if c = strings.TrimSpace(c); c != "" {
				f.RISLive.Collectors = append(f.RISLive.Collectors, c)
			}
		}
	}
	if lf.archiveURL != "" {
		f.RISLive.ArchiveURL = lf.archiveURL
	}
	if f.RISLive.ArchiveURL == "" {
		f.RISLive.ArchiveURL = getenv("BGPWATCH_RIS_URL")
	}
	if lf.cacheDir != "" {
		f.RISLive.CacheDir = lf.cacheDir
	}
	if f.RISLive.CacheDir == "" {
		f.RISLive.CacheDir = fetch.DefaultCacheDir(getenv)
	}
	if set["bgp-asn"] || set["bgp-router-id"] || set["bgp-listen"] || set["bgp-port"] || len(lf.neighbors) > 0 {
		if f.BGP == nil {
			f.BGP = &config.BGP{}
		}
		if set["bgp-asn"] {
			f.BGP.ASN = uint32(lf.bgpASN)
		}
		if lf.routerID != "" {
			f.BGP.RouterID = lf.routerID
		}
		if lf.bgpListen != "" {
			f.BGP.ListenAddress = lf.bgpListen
		}
		if set["bgp-port"] {
			f.BGP.ListenPort = int32(lf.bgpPort)
		}
		for _, s := range lf.neighbors {
			n, err := parseNeighborFlag(s)
			if err != nil {
				return fmt.Errorf("%w: --bgp-neighbor %q: %v", errUsage, s, err)
			}
			f.BGP.Neighbors = append(f.BGP.Neighbors, n)
		}
	}
	// Validate the merged result the same way as a file.
	if err := f.Validate(getenv); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	lf.file = f
	return nil
}

// parseNeighborFlag parses ADDR,ASN[,passive][,addpath][,port=N].
func parseNeighborFlag(s string) (config.Neighbor, error) {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 2 {
		return config.Neighbor{}, errors.New("want ADDR,ASN[,passive][,addpath][,port=N]")
	}
	a, err := netip.ParseAddr(parts[0])
	if err != nil {
		return config.Neighbor{}, err
	}
	asn, err := bgpwatch.ParseASN(parts[1])
	if err != nil {
		return config.Neighbor{}, err
	}
	n := config.Neighbor{Address: a.String(), ASN: uint32(asn)}
	for _, p := range parts[2:] {
		switch {
		case p == "passive":
			n.Passive = true
		case p == "addpath" || p == "add_path":
			n.AddPath = true
		case len(p) > 5 && p[:5] == "port=":
			var port uint16
			if _, err := fmt.Sscanf(p[5:], "%d", &port); err != nil {
				return n, fmt.Errorf("port %q", p[5:])
			}
			n.Port = port
		default:
			return n, fmt.Errorf("unknown option %q", p)
		}
	}
	return n, nil
}

// liveRun is running live ingest: sources, pipeline and status.
type liveRun struct {
	status *live.Status
	done   chan struct{}
	err    error
}

// lister is the API's peer hook; nil (an untyped nil interface) when live
// ingest is not running.
func (l *liveRun) lister() interface {
	Peers(ctx context.Context) (any, error)
} {
	if l == nil {
		return nil
	}
	return l.status
}

// wait blocks until live ingest has stopped (ctx ended) and its pending
// bins and events are written.
func (l *liveRun) wait() error {
	<-l.done
	return l.err
}

// liveMetrics is what startLive needs from the API's metrics: the ingest
// counters and the registry for the live collectors. *api.Metrics has both.
type liveMetrics interface {
	ingest.Recorder
	Registry() *prometheus.Registry
}

// startLive starts live ingest as configured in f: the embedded BGP speaker
// and/or the RIS Live client, feeding one pipeline that bins on the wall
// clock, saves events with source "live" and queues webhook notices. It
// returns nil when no live source is configured. Everything stops when
// ctx ends; wait reports the end.
func startLive(ctx context.Context, f *config.File, db *store.DB, metrics liveMetrics, log *slog.Logger) (*liveRun, error) {
	if f == nil || !f.Live() {
		return nil, nil
	}
	log = log.With("component", "live")
	reg, err := loadRegistry(f.Delegations, f.ASNInfo, f.ASNNames)
	if err != nil {
		return nil, err
	}
	if len(reg.reg.Countries()) == 0 {
		log.Warn("no ASN has a country: country series and country events need RIR delegation files (delegations: in the config file)")
	}
	if infos := reg.all(); len(infos) > 0 {
		if err := db.UpsertASNs(ctx, infos); err != nil {
			return nil, err
		}
	}
	// Access types from the stored network metadata (recomputed for the
	// registry names and the curated table), as replay does.
	if _, err := db.ImportNetworkMeta(ctx, nil, nil); err != nil {
		return nil, err
	}
	stored, err := db.NetworkInfos(ctx)
	if err != nil {
		return nil, err
	}
	reg.withMeta(stored)
	hash, err := putSettings(ctx, db, f.DetectConfig(), f.VisibilityConfig())
	if err != nil {
		return nil, err
	}
	p := ingest.New(ingest.Config{
		Visibility: f.VisibilityConfig(), Detect: f.DetectConfig(), SettingsHash: hash,
		CountryOf: reg.countryOf, Info: reg.info,
		Source: store.SourceLive, Notify: true, FlushBins: 1, Logger: log,
		History: db, // resume detection where the last run stopped
	}, db)
	size := f.QueueSize
	if size <= 0 {
		size = 65536
	}
	obs := make(chan bgpwatch.Observation, size)
	sctx, cancel := context.WithCancel(ctx)
	sc := live.StatusConfig{Queue: func() (int, int) { return len(obs), cap(obs) }}

	var sp *live.Speaker
	if f.BGP != nil && len(f.BGP.Neighbors) > 0 {
		cfg := f.SpeakerConfig()
		cfg.Logger = log.With("source", "bgp")
		if sp, err = live.Start(sctx, cfg, obs); err != nil {
			cancel()
			return nil, err
		}
		sc.Speaker = sp
		log.Info("bgp speaker started", "asn", cfg.ASN, "port", cfg.ListenPort, "neighbors", len(cfg.Neighbors))
	}
	var wg sync.WaitGroup
	// Routers over BMP (a station, Kafka) send on obs, as own sessions do.
	bm, err := startBMP(sctx, f, obs, metrics, log, &wg)
	if err != nil {
		cancel()
		if sp != nil {
			sp.Stop()
		}
		wg.Wait()
		return nil, err
	}
	sc.Feeds = append(sc.Feeds, bm.feeds...)
	var rec ingest.Recorder
	if metrics != nil {
		rec = metrics
	}
	var status *live.Status
	runner := ingest.NewLive(bm.wrap(p), ingest.LiveConfig{
		Tick: f.Tick, Lateness: f.Lateness, SilentAfter: f.SilentAfter, Recorder: rec, Logger: log,
		Publish: func(n int, st ingest.Stats, at time.Time) {
			status.Publish(p.Engine().Peers(), st.BinsWritten, n, at)
		},
	})
	if f.RISLive.Enabled {
		var c *rislive.Client
		rc := f.RISConfig()
		rc.Logger = log.With("source", "ris-live")
		ris := make(chan bgpwatch.Observation, 4096)
		if len(f.RISLive.Collectors) > 0 {
			// Each collector bootstrapped from the archive, then its stream.
			archive := fetch.Options{RISURL: f.RISLive.ArchiveURL, CacheDir: f.RISLive.CacheDir, UserAgent: "bgpwatch/" + version}
			hc := risfeed.HubConfig{Collector: risfeed.Config{
				Archive:    archive,
				Poll:       f.RISLive.ArchivePoll,
				FirstWait:  f.RISLive.FirstWait,
				MaxWait:    f.RISLive.ArchiveMaxWait,
				GapHold:    f.RISLive.GapHold,
				StaleAfter: f.SilentAfter,
				Logger:     log.With("source", "ris-archive"),
			}}
			if !f.RISLive.FollowsAll() {
				hc.Collectors = f.RISLive.Collectors
			} else {
				// Every collector running now, from the archive's root page,
				// and any other the stream names.
				alog := log.With("source", "ris-archive")
				hc.Discover = func(ctx context.Context, at time.Time) ([]string, error) {
					names, skipped, err := fetch.RISCollectors(ctx, archive, at)
					for name, why := range skipped {
						alog.Info("collector not followed from the start", "collector", name, "why", why)
					}
					return names, err
				}
			}
			hub := risfeed.NewHub(hc, func(name string) risfeed.Sink { return runner.AddFeed(name) })
			rc.OnDisconnect = hub.Disconnected
			sc.Collectors = func() []live.CollectorFeed { return collectorFeeds(hub.Status(), c.State().BadMessages) }
			wg.Go(func() { hub.Run(sctx, ris) })
		} else {
			// RIS Live carries the collectors' own timestamps: a data-time feed.
			feed := runner.AddFeed("ris-live")
			feed.SetLive(true)
			wg.Go(func() { feed.Pump(sctx, ris) })
		}
		c = rislive.New(rc)
		sc.Feeds = append(sc.Feeds, func() live.Feed { return risFeed(c.State()) })
		wg.Go(func() { c.Run(sctx, ris) })
	}
	sc.Watermark = func() (time.Time, int64) { return runner.Watermark(), runner.Late() }
	status = live.NewStatus(sc)
	if metrics != nil {
		if err := metrics.Registry().Register(status); err != nil {
			log.Warn("live metrics not registered", "err", err)
		}
	}
	l := &liveRun{status: status, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		var wall <-chan bgpwatch.Observation // own sessions and BMP, stamped on receipt
		if sp != nil || f.BMP.Enabled() {
			wall = obs
		}
		l.err = runner.Run(sctx, wall)
		cancel()
		if sp != nil {
			sp.Stop()
		}
		wg.Wait()
	}()
	return l, nil
}

// risFeed adapts the RIS Live client's state to the status page.
func risFeed(s rislive.State) live.Feed {
	fd := live.Feed{
		Name: "ris-live", URL: s.URL, Connected: s.Connected, Since: s.Since, LastMessage: s.LastMessage,
		Messages: s.Messages, Updates: s.Updates, Observations: s.Observations, Reconnects: s.Reconnects,
	}
	for _, p := range s.Peers {
		fd.Peers = append(fd.Peers, live.Session{Peer: p.Peer, State: p.State, Since: p.Since})
	}
	return fd
}

// collectorFeeds adapts the RIS collectors' states to the status page.
func collectorFeeds(sts []risfeed.Status, badMessages int64) []live.CollectorFeed {
	out := make([]live.CollectorFeed, len(sts))
	for i, s := range sts {
		out[i] = live.CollectorFeed{
			Name: s.Name, State: s.State, Since: s.Since, Files: s.Files, FilesDone: s.FilesDone, Bytes: s.Bytes,
			DataTime: s.DataTime, LastMessage: s.LastMessage, Messages: s.Messages, Buffered: s.Buffered,
			BadFiles: s.BadFiles, BadMessages: badMessages, RIB: s.RIB, Gaps: s.Gaps,
			GapFrom: s.GapFrom, Unfilled: s.Unfilled,
		}
	}
	return out
}
