package openbmp

import "github.com/prometheus/client_golang/prometheus"

var (
	descRecords = prometheus.NewDesc("bgpwatch_bmp_kafka_records_total",
		"Kafka records read, by result: decoded, skipped (not a router's raw BMP message), malformed or late (older than records of its router already applied).", []string{"result"}, nil)
	descStored = prometheus.NewDesc("bgpwatch_bmp_kafka_observations_stored_total",
		"Observations of the consumer known stored (their records may be committed).", nil, nil)
	descSent = prometheus.NewDesc("bgpwatch_bmp_kafka_observations_sent_total",
		"Observations the consumer sent to live ingest.", nil, nil)
	descUncommitted = prometheus.NewDesc("bgpwatch_bmp_kafka_uncommitted_records",
		"Records read whose offsets are not committed yet (not stored, or the commit is pending).", nil, nil)
)

// Describe implements prometheus.Collector: the consumer's own counters
// (its routers' are in bmp.Collector).
func (c *Consumer) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descStored, descSent, descUncommitted} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Consumer) Collect(ch chan<- prometheus.Metric) {
	s := c.Stats()
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Records-s.Skipped-s.Malformed-s.Late), "decoded")
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Skipped), "skipped")
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Malformed), "malformed")
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Late), "late")
	ch <- prometheus.MustNewConstMetric(descStored, prometheus.CounterValue, float64(s.Stored))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.Sent))
	ch <- prometheus.MustNewConstMetric(descUncommitted, prometheus.GaugeValue, float64(s.Pending))
}
