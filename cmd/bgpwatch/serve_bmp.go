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
	"github.com/bgpwatch/bgpwatch/bgp/openbmp"
	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/ingest"
)

// bmpRun is what startBMP started: the status feeds, and wrap, which
// gives live ingest's pipeline the bookkeeping the Kafka consumer needs to
// commit only what is stored.
type bmpRun struct {
	feeds []func() live.Feed
	wrap  func(ingest.Driven) ingest.Driven
}

// statser is the part of ingest.Driven that openbmp's wrapper leaves out.
type statser interface{ Stats() ingest.Stats }

// startBMP starts the BMP station and the OpenBMP Kafka consumer that the
// configuration has: they send observations to obs until ctx ends (wg
// tracks them); their metrics are registered.
func startBMP(ctx context.Context, f *config.File, obs chan<- bgpwatch.Observation, metrics liveMetrics, log *slog.Logger, wg *sync.WaitGroup) (*bmpRun, error) {
	r := &bmpRun{wrap: func(p ingest.Driven) ingest.Driven { return p }}
	if !f.BMP.Enabled() {
		return r, nil
	}
	register := func(c *bmp.Collector) {
		if metrics != nil {
			if err := metrics.Registry().Register(c); err != nil {
				log.Warn("bmp metrics not registered", "err", err)
			}
		}
	}
	var kc openbmp.Config
	if f.BMP.Kafka != nil {
		var err error
		if kc, err = f.BMP.KafkaConfig(); err != nil {
			return nil, err
		}
	}
	if f.BMP.Listen != "" {
		cfg := f.BMP.StationConfig()
		cfg.Logger = log.With("source", "bmp")
		st, err := bmp.Listen(cfg)
		if err != nil {
			return nil, err
		}
		log.Info("bmp station listening", "address", st.Addr().String())
		register(&bmp.Collector{Source: "station", Routers: st.Routers})
		started := time.Now()
		wg.Go(func() { st.Run(ctx, obs) })
		r.feeds = append(r.feeds, func() live.Feed { return bmpFeed("bmp", "tcp://"+st.Addr().String(), started, cfg.RIBs, st.Routers()) })
	}
	if f.BMP.Kafka != nil {
		kc.Logger = log.With("source", "bmp-kafka")
		c, err := openbmp.New(kc)
		if err != nil {
			return nil, err
		}
		log.Info("openbmp kafka consumer started", "brokers", strings.Join(kc.Brokers, ","), "group", kc.Group)
		register(&bmp.Collector{Source: "kafka", Routers: c.Routers})
		if metrics != nil {
			if err := metrics.Registry().Register(c); err != nil {
				log.Warn("kafka metrics not registered", "err", err)
			}
		}
		started := time.Now()
		wg.Go(func() { c.Run(ctx, obs) })
		url := "kafka://" + strings.Join(kc.Brokers, ",") + "/" + strings.Join(kc.Topics, ",") + kc.TopicRegex
		r.feeds = append(r.feeds, func() live.Feed {
			fd := bmpFeed("bmp-kafka", url, started, kc.RIBs, c.Routers())
			if st := c.Stats(); !st.Last.IsZero() {
				fd.LastMessage = st.Last
			}
			return fd
		})
		step := f.Step()
		r.wrap = func(p ingest.Driven) ingest.Driven {
			return struct {
				openbmp.Pipeline
				statser
			}{c.Wrap(p, step), p}
		}
	}
	return r, nil
}

// bmpFeed adapts routers' state to the status page: a row per router
// (collector = its name, address = its address) and a row per counted
// table of each monitored peer.
func bmpFeed(name, url string, since time.Time, ribs bmp.RIBSet, routers []bmp.RouterStatus) live.Feed {
	fd := live.Feed{Name: name, URL: url, Connected: true, Since: since}
	for _, r := range routers {
		// Remote is [collector/]address[#n].
		a := strings.SplitN(r.Remote, "#", 2)[0]
		addr, _ := netip.ParseAddr(a[strings.LastIndex(a, "/")+1:])
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
