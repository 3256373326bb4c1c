package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/synth"
)

// discard is a Sink that keeps nothing: the benchmark measures reading,
// merging and the visibility engine, not PostgreSQL.
type discard struct{}

func (discard) WriteBins(context.Context, *store.SeriesBatch) error { return nil }
func (discard) SaveEvent(context.Context, *bgpwatch.Event, string, bool) (int64, error) {
	return 0, nil
}

// BenchmarkReplayMerge replays the "small" scenario (36 hours, two
// collectors: RIB dumps and 432 five-minute plus 144 fifteen-minute
// updates files, read in time order across files and collectors) into a
// pipeline that writes nowhere; one iteration is the whole archive. Most
// of its time goes to opening the many small files (their decoders'
// buffers), not to the merge. BGPWATCH_BENCH_DIR keeps the generated
// archive between runs.
func BenchmarkReplayMerge(b *testing.B) {
	dir := os.Getenv("BGPWATCH_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, "small")
	if _, err := os.Stat(filepath.Join(dir, ".done")); err != nil {
		sc, err := synth.Builtin("small")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := synth.Generate(context.Background(), sc, dir, synth.Options{Workers: 2}); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	files, err := ingest.Discover([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var n int64
	for range b.N {
		p := ingest.New(ingest.Config{}, discard{})
		sum, err := ingest.Replay(context.Background(), ingest.ReplayConfig{Files: files}, p)
		if err != nil {
			b.Fatal(err)
		}
		n += sum.Observations
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "obs/s")
}
