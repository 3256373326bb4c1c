// Command bootstrapbench loads RIB dumps into the visibility engine the
// way replay and the live bootstrap do (ingest.Replay: a decoding
// goroutine per file, the k-way merge, the pipeline's engine and
// detector), with a sink that discards the bins instead of writing them
// to PostgreSQL. It prints the elapsed time, the observations and the
// peak resident memory; scripts/bench-bootstrap.sh times it against zcat.
//
//	bootstrapbench [-cpuprofile F] [-memprofile F] FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
)

// discard is an ingest.Sink that stores nothing.
type discard struct{ bins int }

func (d *discard) WriteBins(_ context.Context, b *store.SeriesBatch) error {
	d.bins++
	return nil
}

func (d *discard) SaveEvent(context.Context, *bgpwatch.Event, string, bool) (int64, error) {
	return 0, nil
}

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	mem := flag.String("memprofile", "", "write a heap profile to `file` at the end")
	flag.Parse()
	if err := run(flag.Args(), *cpu, *mem); err != nil {
		fmt.Fprintln(os.Stderr, "bootstrapbench:", err)
		os.Exit(1)
	}
}

func run(paths []string, cpuProfile, memProfile string) error {
	if len(paths) == 0 {
		return fmt.Errorf("no input files")
	}
	files, err := ingest.Discover(paths)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sink := &discard{}
	p := ingest.New(ingest.Config{CountryOf: func(bgpwatch.ASN) string { return "" }}, sink)
	start := time.Now()
	sum, err := ingest.Replay(context.Background(), ingest.ReplayConfig{Files: files}, p)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	peers := p.Engine().Peers()
	full := 0
	for _, ps := range peers {
		if ps.FullFeedV4 {
			full++
		}
	}
	fmt.Printf("elapsed_s %.3f\nobservations %d\nobs_per_s %.0f\nsessions %d\nfull_feed_v4 %d\nerrors %d\n",
		elapsed.Seconds(), sum.Observations, float64(sum.Observations)/elapsed.Seconds(), len(peers), full, len(sum.Errors))
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	return nil
}
