package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the agent's Prometheus metrics, on a registry of its own so
// that several agents can share a process (the demo).
type metrics struct {
	reg            *prometheus.Registry
	diskFull       prometheus.Counter
	removed        *prometheus.CounterVec
	hooks          *prometheus.CounterVec
	releaseLatency *prometheus.HistogramVec
	apiRequests    *prometheus.CounterVec
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		diskFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_agent_disk_full_errors_total",
			Help: "Adds, fetches and index writes refused because the disk was full.",
		}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_agent_torrents_removed_total",
			Help: "Torrents deleted from the store, by reason (api, keep, disk-watermark, superseded, unsubscribed).",
		}, []string{"reason"}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_agent_hooks_total",
			Help: "On-complete hook runs, by result (ok, failed, timeout).",
		}, []string{"result"}),
		releaseLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shoal_agent_release_complete_seconds",
			Help:    "Time from a release's publish to its verified completion on this host, per channel.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14), // 0.5 s .. ~68 min
		}, []string{"channel"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_agent_api_requests_total",
			Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.diskFull, m.removed, m.hooks, m.releaseLatency, m.apiRequests, storeCollector{a},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

// storeCollector reads the store's totals at scrape time.
type storeCollector struct{ a *Agent }

var (
	descDown      = prometheus.NewDesc("shoal_agent_downloaded_bytes_total", "Payload bytes received.", nil, nil)
	descUp        = prometheus.NewDesc("shoal_agent_uploaded_bytes_total", "Payload bytes sent.", nil, nil)
	descVerified  = prometheus.NewDesc("shoal_agent_pieces_verified_total", "Pieces that passed their SHA-1.", nil, nil)
	descHashFails = prometheus.NewDesc("shoal_agent_hash_failures_total", "Pieces that failed their SHA-1.", nil, nil)
	descBans      = prometheus.NewDesc("shoal_agent_peers_banned_total", "Peers banned for sending bad data.", nil, nil)
	descPeers     = prometheus.NewDesc("shoal_agent_peers", "Connected peers over all torrents.", nil, nil)
	descTorrents  = prometheus.NewDesc("shoal_agent_torrents", "Torrents in the store, by state.", []string{"state"}, nil)
	descStored    = prometheus.NewDesc("shoal_agent_disk_used_bytes", "Bytes of content the store holds (local content seeded in place excluded).", nil, nil)
	descFSUsed    = prometheus.NewDesc("shoal_agent_filesystem_used_ratio", "Used share of the store's filesystem.", nil, nil)
	descCurrent   = prometheus.NewDesc("shoal_agent_channel_current_seq", "Sequence number of each channel's current release.", []string{"channel"}, nil)
)

func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDown, descUp, descVerified, descHashFails, descBans, descPeers, descTorrents, descStored, descFSUsed, descCurrent} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	a.mu.Lock()
	tot := a.gone
	peers, stored := 0, int64(0)
	states := map[string]int{}
	for _, e := range a.entries {
		states[e.state]++
		if !e.local() {
			stored += e.rec.Size
		}
		if e.t == nil {
			continue
		}
		st := e.t.Stats()
		tot.down += st.Downloaded
		tot.up += st.Uploaded
		tot.verified += st.Verified
		tot.hashFails += st.HashFails
		tot.banned += st.Banned
		peers += st.Peers
	}
	current := map[string]uint64{}
	for name, s := range a.channels {
		current[name] = s.rec.Current
	}
	a.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descDown, prometheus.CounterValue, float64(tot.down))
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.CounterValue, float64(tot.up))
	ch <- prometheus.MustNewConstMetric(descVerified, prometheus.CounterValue, float64(tot.verified))
	ch <- prometheus.MustNewConstMetric(descHashFails, prometheus.CounterValue, float64(tot.hashFails))
	ch <- prometheus.MustNewConstMetric(descBans, prometheus.CounterValue, float64(tot.banned))
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(peers))
	for _, st := range []string{StateMetadata, StateChecking, StateDownloading, StateSeeding, StateError} {
		ch <- prometheus.MustNewConstMetric(descTorrents, prometheus.GaugeValue, float64(states[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(descStored, prometheus.GaugeValue, float64(stored))
	if d, err := a.cfg.Disk(); err == nil {
		ch <- prometheus.MustNewConstMetric(descFSUsed, prometheus.GaugeValue, d.Fraction())
	}
	for name, cur := range current {
		ch <- prometheus.MustNewConstMetric(descCurrent, prometheus.GaugeValue, float64(cur), name)
	}
}
