package bmp

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Statistics Report types (RFC 7854 §4.8, RFC 8671, RFC 9069) by the
// names the metrics use.
var statNames = map[uint16]string{
	0: "prefixes_rejected", 1: "duplicate_prefix_advertisements", 2: "duplicate_withdraws",
	3: "cluster_list_loops", 4: "as_path_loops", 5: "originator_id_loops", 6: "as_confed_loops",
	7: "adj_rib_in_routes", 8: "loc_rib_routes", 9: "adj_rib_in_routes_per_afi_safi", 10: "loc_rib_routes_per_afi_safi",
	11: "treat_as_withdraw_updates", 12: "treat_as_withdraw_prefixes", 13: "duplicate_updates",
	14: "adj_rib_out_pre_routes", 15: "adj_rib_out_post_routes", 16: "adj_rib_out_pre_routes_per_afi_safi",
	17: "adj_rib_out_post_routes_per_afi_safi",
}

// StatName names a Statistics Report type ("type_N" when unknown).
func StatName(t uint16) string {
	if n, ok := statNames[t]; ok {
		return n
	}
	return "type_" + strconv.Itoa(int(t))
}

var (
	descRouterUp = prometheus.NewDesc("bgpwatch_bmp_router_connected",
		"1 while the BMP router is connected.", []string{"source", "router", "address"}, nil)
	descMessages = prometheus.NewDesc("bgpwatch_bmp_messages_total",
		"BMP messages received, by type (route mirroring is counted and ignored).", []string{"source", "router", "address", "type"}, nil)
	descRoutes = prometheus.NewDesc("bgpwatch_bmp_routes_total",
		"Prefixes announced or withdrawn in Route Monitoring messages.", []string{"source", "router", "address"}, nil)
	descResets = prometheus.NewDesc("bgpwatch_bmp_malformed_total",
		"Router connections reset (or Kafka records skipped) for a malformed message.", []string{"source", "router", "address"}, nil)
	descPeerUp = prometheus.NewDesc("bgpwatch_bmp_peer_up",
		"1 while the monitored peer's session is up (Peer Up seen, no Peer Down since).", []string{"source", "router", "peer", "asn"}, nil)
	descStat = prometheus.NewDesc("bgpwatch_bmp_peer_statistic",
		"Last value of a Statistics Report counter or gauge of a monitored peer.", []string{"source", "router", "peer", "asn", "stat", "afi", "safi"}, nil)
)

// Collector exports routers' state as Prometheus metrics; source labels
// them ("station" or "kafka").
type Collector struct {
	Source  string
	Routers func() []RouterStatus
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRouterUp, descMessages, descRoutes, descResets, descPeerUp, descStat} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	seenPeer := map[[3]string]bool{}
	seenStat := map[[7]string]bool{}
	for _, r := range c.Routers() {
		up := 0.0
		if r.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descRouterUp, prometheus.GaugeValue, up, c.Source, r.Name, r.Remote)
		for t, n := range r.Counters.Messages {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(n), c.Source, r.Name, r.Remote, TypeName(uint8(t)))
		}
		ch <- prometheus.MustNewConstMetric(descRoutes, prometheus.CounterValue, float64(r.Counters.Routes), c.Source, r.Name, r.Remote)
		ch <- prometheus.MustNewConstMetric(descResets, prometheus.CounterValue, float64(r.Resets), c.Source, r.Name, r.Remote)
		for _, p := range r.Peers {
			pu := 0.0
			if p.Up && r.Connected {
				pu = 1
			}
			name := CollectorName(r.Name, AdjRIBInPre, p.Type, p.Distinguisher)
			if p.Type == PeerLocRIB {
				name = CollectorName(r.Name, LocRIB, p.Type, p.Distinguisher)
			}
			asn := strconv.FormatUint(uint64(p.AS), 10)
			k := [3]string{name, p.Addr.String(), asn}
			if seenPeer[k] { // two routers of one name: keep the first
				continue
			}
			seenPeer[k] = true
			ch <- prometheus.MustNewConstMetric(descPeerUp, prometheus.GaugeValue, pu, c.Source, name, p.Addr.String(), asn)
			for s, v := range p.Stats {
				afi, safi := "", ""
				if s.AFI != 0 {
					afi, safi = strconv.Itoa(int(s.AFI)), strconv.Itoa(int(s.SAFI))
				}
				sk := [7]string{name, p.Addr.String(), asn, StatName(s.Type), afi, safi}
				if seenStat[sk] {
					continue
				}
				seenStat[sk] = true
				ch <- prometheus.MustNewConstMetric(descStat, prometheus.GaugeValue, float64(v), c.Source, name, p.Addr.String(), asn, StatName(s.Type), afi, safi)
			}
		}
	}
}
