package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/bgp/live"
	"github.com/bgpwatch/bgpwatch/config"
)

// startBMP starts the BMP station when the configuration has one: it
// listens for routers, sends their observations to obs until ctx ends
// (wg tracks it), registers its metrics and returns its status feed.
func startBMP(ctx context.Context, f *config.File, obs chan<- bgpwatch.Observation, metrics liveMetrics, log *slog.Logger, wg *sync.WaitGroup) ([]func() live.Feed, error) {
	if !f.BMP.Enabled() {
		return nil, nil
	}
	cfg := f.BMP.StationConfig()
	cfg.Logger = log.With("source", "bmp")
	st, err := bmp.Listen(cfg)
	if err != nil {
		return nil, err
	}
	log.Info("bmp station listening", "address", st.Addr().String())
	if metrics != nil {
		if err := metrics.Registry().Register(&bmp.Collector{Source: "station", Routers: st.Routers}); err != nil {
			log.Warn("bmp metrics not registered", "err", err)
		}
	}
	started := time.Now()
	wg.Go(func() { st.Run(ctx, obs) })
	feed := func() live.Feed { return bmpFeed("bmp", "tcp://"+st.Addr().String(), started, cfg.RIBs, st.Routers()) }
	return []func() live.Feed{feed}, nil
}

// bmpFeed adapts routers' state to the status page: a row per router
// (collector = its name, address = its address) and a row per counted
// table of each monitored peer.
func bmpFeed(name, url string, since time.Time, ribs bmp.RIBSet, routers []bmp.RouterStatus) live.Feed {
	fd := live.Feed{Name: name, URL: url, Connected: true, Since: since}
	for _, r := range routers {
		addr, _ := netip.ParseAddr(strings.SplitN(r.Remote, "#", 2)[0])
		state := "disconnected"
		if r.Connected {
			state = "connected"
		}
		fd.Peers = append(fd.Peers, live.Session{Peer: bgpwatch.Peer{Collector: r.Name, Addr: addr}, State: state, Since: r.Since, LastUpdate: r.Last,
			Updates: r.Counters.Messages[bmp.TypeRouteMonitoring]})
		for i := range r.Counters.Messages {
			fd.Messages += r.Counters.Messages[i]
		}
		fd.Updates += r.Counters.Messages[bmp.TypeRouteMonitoring]
		fd.Observations += r.Counters.Routes
		if r.Last.After(fd.LastMessage) {
			fd.LastMessage = r.Last
		}
		for _, p := range r.Peers {
			for k := bmp.AdjRIBInPre; k <= bmp.LocRIB; k++ {
				if !ribs.Has(k) || !p.RIBs.Has(k) {
					continue
				}
				ps := "down"
				if p.Up && r.Connected {
					ps = "established"
				}
				vp := bgpwatch.Peer{Collector: bmp.CollectorName(r.Name, k, p.Type, p.Distinguisher), ASN: bgpwatch.ASN(p.AS), Addr: p.Addr}
				fd.Peers = append(fd.Peers, live.Session{Peer: vp, State: ps, Since: p.Since, Updates: p.Routes, LastUpdate: p.LastUpdate})
			}
		}
	}
	return fd
}
