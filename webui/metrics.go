package webui

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/golocust/locust"
)

// OtherName is the name label of the series that sums the entries beyond
// --metrics-max-names (their type label is empty).
const OtherName = "(other)"

// Buckets returns the upper bounds, in seconds, of the classic buckets of
// locust_response_time_seconds (1 ms to 60 s), in a new slice. Safe for
// concurrent use.
func Buckets() []float64 {
	return []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// collector reads the current test's statistics at each scrape.
type collector struct {
	e                                *Extension
	reqs, fails, rt, rps, fps, users *prometheus.Desc
	running, exc, dropped            *prometheus.Desc
}

func newCollector(e *Extension) *collector {
	lbl := []string{"type", "name"}
	return &collector{
		e:       e,
		reqs:    prometheus.NewDesc("locust_requests_total", "Requests ended (successes and failures), per entry.", lbl, nil),
		fails:   prometheus.NewDesc("locust_failures_total", "Failed requests, per entry.", lbl, nil),
		rt:      prometheus.NewDesc("locust_response_time_seconds", "Response times, per entry.", lbl, nil),
		rps:     prometheus.NewDesc("locust_current_rps", "Requests per second over the last 10 s, per entry; name=\"Aggregated\" for all.", lbl, nil),
		fps:     prometheus.NewDesc("locust_current_fail_per_sec", "Failures per second over the last 10 s, per entry; name=\"Aggregated\" for all.", lbl, nil),
		users:   prometheus.NewDesc("locust_users", "Running users.", nil, nil),
		running: prometheus.NewDesc("locust_test_running", "1 while a test runs, else 0.", nil, nil),
		exc:     prometheus.NewDesc("locust_exceptions_total", "Errors raised by user code.", nil, nil),
		dropped: prometheus.NewDesc("locust_entries_over_limit", "Entries summed into name=\"(other)\" because of --metrics-max-names.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reqs, c.fails, c.rt, c.rps, c.fps, c.users, c.running, c.exc, c.dropped} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	r := c.e.current()
	if r == nil {
		ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, 0)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, 0)
		return
	}
	s := r.Snapshot()
	entries := s.Entries // sorted by (name, type)
	limit := c.e.maxNames
	if limit < 1 {
		limit = DefaultMaxNames
	}
	var other locust.EntryStats
	over := 0
	if len(entries) > limit {
		over = len(entries) - limit
		for _, es := range entries[limit:] {
			other.Requests += es.Requests
			other.Failures += es.Failures
			other.CurrentRPS += es.CurrentRPS
			other.CurrentFailPerSec += es.CurrentFailPerSec
		}
		entries = entries[:limit]
		c.e.warnOverLimit(over)
	}
	bounds := Buckets()
	counts := make([]uint64, len(bounds)) // reused for every entry
	for _, es := range entries {
		c.entry(ch, es, es.Type, es.Name)
		c.histogram(ch, r, es, bounds, counts)
	}
	if over > 0 {
		c.entry(ch, other, "", OtherName)
	}
	ch <- prometheus.MustNewConstMetric(c.rps, prometheus.GaugeValue, s.Total.CurrentRPS, "", locust.AggregatedName)
	ch <- prometheus.MustNewConstMetric(c.fps, prometheus.GaugeValue, s.Total.CurrentFailPerSec, "", locust.AggregatedName)
	ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, float64(r.UserCount()))
	run := 0.0
	if running(r) {
		run = 1
	}
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, run)
	var n int64
	for _, x := range s.Exceptions {
		n += x.Count
	}
	ch <- prometheus.MustNewConstMetric(c.exc, prometheus.CounterValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.GaugeValue, float64(over))
}

func (c *collector) entry(ch chan<- prometheus.Metric, es locust.EntryStats, typ, name string) {
	ch <- prometheus.MustNewConstMetric(c.reqs, prometheus.CounterValue, float64(es.Requests), typ, name)
	ch <- prometheus.MustNewConstMetric(c.fails, prometheus.CounterValue, float64(es.Failures), typ, name)
	ch <- prometheus.MustNewConstMetric(c.rps, prometheus.GaugeValue, es.CurrentRPS, typ, name)
	ch <- prometheus.MustNewConstMetric(c.fps, prometheus.GaugeValue, es.CurrentFailPerSec, typ, name)
}

// histogram sends the entry's response-time histogram, read bucket by
// bucket from the statistics at this scrape (no copy of the HDR histogram):
// its count matches the requests of the same scrape up to the requests
// that ended in between. counts is scratch space, one per bound.
func (c *collector) histogram(ch chan<- prometheus.Metric, r *locust.Runner, es locust.EntryStats, bounds []float64, counts []uint64) {
	clear(counts)
	var total uint64
	ok := r.Stats().EachBucket(es.Type, es.Name, func(_, toUs, n int64) {
		total += uint64(n)
		// a bucket holds values up to toUs: it counts in the buckets at or above it
		if i, _ := slices.BinarySearch(bounds, float64(toUs)/1e6); i < len(bounds) {
			counts[i] += uint64(n)
		}
	})
	if !ok {
		return
	}
	cum := make(map[float64]uint64, len(bounds))
	var run uint64
	for i, b := range bounds {
		run += counts[i]
		cum[b] = run
	}
	m, err := prometheus.NewConstHistogram(c.rt, total, es.TotalTime.Seconds(), cum, es.Type, es.Name)
	if err == nil {
		ch <- m
	}
}

// warnOverLimit logs once per test that entries were summed.
func (e *Extension) warnOverLimit(over int) {
	e.mu.Lock()
	warn := !e.warned
	e.warned = true
	log := e.log
	e.mu.Unlock()
	if warn && log != nil {
		log.Warn("more request names than --metrics-max-names: the rest are summed into name=\"(other)\" in /metrics", "max", e.maxNames, "over", over)
	}
}

// MetricsHandler serves the Prometheus metrics of the current test (the
// UI serves it at /metrics; so does --metrics-addr). Safe for concurrent
// use.
func (e *Extension) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{})
}
