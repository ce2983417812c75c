package tracker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shoal-p2p/shoal/trackerclient"
)

// metrics are the server's Prometheus series, on a registry of its own so
// several servers in one process (tests) do not collide.
type metrics struct {
	reg       *prometheus.Registry
	announces *prometheus.CounterVec
	scrapes   *prometheus.CounterVec
	errors    *prometheus.CounterVec
	handout   prometheus.Histogram
}

func newMetrics(store Store, now func() time.Time) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_tracker_announces_total",
			Help: "Announces answered, by protocol (http, udp) and event (started, completed, stopped, update).",
		}, []string{"protocol", "event"}),
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_tracker_scrapes_total",
			Help: "Scrapes answered, by protocol.",
		}, []string{"protocol"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_tracker_errors_total",
			Help: "Requests refused or failed, by reason.",
		}, []string{"reason"}),
		handout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shoal_tracker_handout_peers",
			Help:    "Peers handed out per announce.",
			Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100, 200},
		}),
	}
	m.reg.MustRegister(m.announces, m.scrapes, m.errors, m.handout, storeCollector{store, now})
	return m
}

func (m *metrics) announce(proto string, e trackerclient.Event) {
	ev := string(e)
	if e == trackerclient.EventNone {
		ev = "update"
	}
	m.announces.WithLabelValues(proto, ev).Inc()
}

func (m *metrics) fail(reason string) { m.errors.WithLabelValues(reason).Inc() }

// storeCollector reports the store's totals at scrape time.
type storeCollector struct {
	store Store
	now   func() time.Time
}

var (
	torrentsDesc = prometheus.NewDesc("shoal_tracker_torrents", "Swarms held by the peer store.", nil, nil)
	peersDesc    = prometheus.NewDesc("shoal_tracker_peers", "Peers held by the peer store.", nil, nil)
	seedersDesc  = prometheus.NewDesc("shoal_tracker_seeders", "Seeders held by the peer store.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- torrentsDesc
	ch <- peersDesc
	ch <- seedersDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.Stats(ctx, c.now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(torrentsDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(torrentsDesc, prometheus.GaugeValue, float64(st.Torrents))
	ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(st.Peers))
	ch <- prometheus.MustNewConstMetric(seedersDesc, prometheus.GaugeValue, float64(st.Seeders))
}
