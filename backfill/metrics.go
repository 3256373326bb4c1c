package backfill

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the runs' progress on /metrics, read from the
// database at each scrape: bgpwatch_backfill_windows{run,state} (done,
// running, pending, retrying, failed, total), bgpwatch_backfill_detected
// {run} and bgpwatch_backfill_eta_seconds{run}.
type Collector struct {
	pool    *pgxpool.Pool
	windows *prometheus.Desc
	eta     *prometheus.Desc
	det     *prometheus.Desc
}

// NewCollector returns the collector of the runs in pool's database.
func NewCollector(pool *pgxpool.Pool) *Collector {
	return &Collector{
		pool:    pool,
		windows: prometheus.NewDesc("bgpwatch_backfill_windows", "Backfill windows by state.", []string{"run", "state"}, nil),
		eta:     prometheus.NewDesc("bgpwatch_backfill_eta_seconds", "Estimated time left of a backfill run, from its rate so far.", []string{"run"}, nil),
		det:     prometheus.NewDesc("bgpwatch_backfill_detected", "1 once detection ran over the run's range.", []string{"run"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.windows
	ch <- c.eta
	ch <- c.det
}

// Collect implements prometheus.Collector; a database that does not answer
// within 2 s gives no samples.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ss, err := Statuses(ctx, c.pool)
	if err != nil {
		return
	}
	for _, s := range ss {
		run := strconv.FormatInt(s.Run, 10)
		for state, n := range map[string]int{"total": s.Windows, "done": s.Done, "running": s.Running, "pending": s.Pending, "retrying": s.Retrying, "failed": s.Failed} {
			ch <- prometheus.MustNewConstMetric(c.windows, prometheus.GaugeValue, float64(n), run, state)
		}
		ch <- prometheus.MustNewConstMetric(c.eta, prometheus.GaugeValue, s.ETA.Seconds(), run)
		det := 0.0
		if s.Detected {
			det = 1
		}
		ch <- prometheus.MustNewConstMetric(c.det, prometheus.GaugeValue, det, run)
	}
}
