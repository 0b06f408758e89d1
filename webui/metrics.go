package webui

import (
	"net/http"
	"slices"
	"sync"
	"time"

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

	mu     sync.Mutex // guards the cache (scrapes may overlap)
	runner *locust.Runner
	cache  map[entryKey]histCache
}

// histRefresh is how old a running entry's histogram may get in /metrics:
// copying an HDR histogram costs about 0.4 ms and a few hundred KiB, so a
// scrape recomputes at most this often (every scrape once the test ended).
const histRefresh = 5 * time.Second

// histCache is an entry's histogram as last computed.
type histCache struct {
	at    time.Time
	reqs  int64
	count uint64
	sum   float64
	cum   map[float64]uint64
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
	live := running(r)
	for _, es := range entries {
		c.entry(ch, es, es.Type, es.Name)
		c.histogram(ch, r, es, live)
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

// histogram sends the entry's response-time histogram, from the cache
// when it is recent (see histRefresh).
func (c *collector) histogram(ch chan<- prometheus.Metric, r *locust.Runner, es locust.EntryStats, live bool) {
	k := entryKey{es.Type, es.Name}
	c.mu.Lock()
	if c.runner != r {
		c.runner, c.cache = r, map[entryKey]histCache{}
	}
	hc, ok := c.cache[k]
	c.mu.Unlock()
	if !ok || hc.reqs != es.Requests && (!live || time.Since(hc.at) >= histRefresh) {
		var fresh bool
		if hc, fresh = buckets(r, es); !fresh {
			return
		}
		c.mu.Lock()
		if c.runner == r {
			c.cache[k] = hc
		}
		c.mu.Unlock()
	}
	m, err := prometheus.NewConstHistogram(c.rt, hc.count, hc.sum, hc.cum, es.Type, es.Name)
	if err == nil {
		ch <- m
	}
}

// buckets turns the entry's HDR histogram (microseconds) into classic
// buckets.
func buckets(r *locust.Runner, es locust.EntryStats) (histCache, bool) {
	h := r.Stats().Histogram(es.Type, es.Name)
	if h == nil {
		return histCache{}, false
	}
	bounds := Buckets()
	counts := make(map[float64]uint64, len(bounds))
	var total uint64
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		total += uint64(bar.Count)
		// a bar holds values From..To µs; it counts in the buckets at or above To
		sec := float64(bar.To) / 1e6
		if i, _ := slices.BinarySearch(bounds, sec); i < len(bounds) {
			counts[bounds[i]] += uint64(bar.Count)
		}
	}
	cum := make(map[float64]uint64, len(bounds))
	var run uint64
	for _, b := range bounds {
		run += counts[b]
		cum[b] = run
	}
	return histCache{at: time.Now(), reqs: es.Requests, count: total, sum: es.TotalTime.Seconds(), cum: cum}, true
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
