package locust

import (
	"math"
	"time"
)

// EntryStats is the state of one entry at the time of a snapshot. It is
// plain data, safe to copy and to read from many goroutines.
type EntryStats struct {
	// Type is the request type (the HTTP method, or any word a custom
	// client uses); empty for the aggregate.
	Type string
	// Name groups requests (a URL path or a name given by the caller).
	Name string
	// Requests counts every request, failed ones included.
	Requests int64
	// Failures counts the failed requests.
	Failures int64
	// TotalTime is the sum of all response times. It saturates at the
	// largest Duration (292 years of summed time, a long soak at a high
	// rate); TotalSeconds does not.
	TotalTime time.Duration
	// TotalSeconds is the same sum in seconds (float64: it cannot overflow).
	TotalSeconds float64
	// Min and Max are the exact extreme response times.
	Min, Max time.Duration
	// ContentLength is the sum of the response sizes in bytes.
	ContentLength int64
	// Start is when the entry began counting (the test start or the last
	// reset); Last is the end of its latest request (zero if none).
	Start, Last time.Time
	// CurrentRPS and CurrentFailPerSec are the rates over the current
	// window: the last 10 s as of the snapshot (the whole seconds of the
	// run's monotonic clock from now-10 s to now, the partial current one
	// included, divided by the time they cover). When nothing completes,
	// they fall to 0 within 11 s.
	CurrentRPS, CurrentFailPerSec float64
	// PercentileList is the list the two slices below are aligned with.
	PercentileList []float64
	// PercentileValues holds the whole-run percentiles, never above Max
	// nor below Min; p100 is Max.
	PercentileValues []time.Duration
	// CurrentPercentileValues holds percentiles over the current window,
	// never above its exact max nor below its exact min, or nil when they
	// are not tracked for this entry.
	CurrentPercentileValues []time.Duration
}

// Avg is the mean response time (exact while TotalTime is not saturated).
func (e EntryStats) Avg() time.Duration {
	if e.Requests == 0 {
		return 0
	}
	if e.TotalTime == math.MaxInt64 && e.TotalSeconds > 0 { // saturated
		return time.Duration(e.TotalSeconds / float64(e.Requests) * float64(time.Second))
	}
	return e.TotalTime / time.Duration(e.Requests)
}

// Median is the 50th percentile.
func (e EntryStats) Median() time.Duration {
	d, _ := e.Percentile(50)
	return d
}

// Percentile returns the whole-run percentile p (0..100) if it was computed
// (it is for Percentiles and StatsOptions.ExtraPercentiles).
func (e EntryStats) Percentile(p float64) (time.Duration, bool) {
	for i, q := range e.PercentileList {
		if q == p && i < len(e.PercentileValues) {
			return e.PercentileValues[i], true
		}
	}
	return 0, false
}

// CurrentPercentile returns percentile p over the current window, if tracked.
func (e EntryStats) CurrentPercentile(p float64) (time.Duration, bool) {
	for i, q := range e.PercentileList {
		if q == p && i < len(e.CurrentPercentileValues) {
			return e.CurrentPercentileValues[i], true
		}
	}
	return 0, false
}

// FailRatio is Failures / Requests (0 when there were none).
func (e EntryStats) FailRatio() float64 {
	if e.Requests == 0 {
		return 0
	}
	return float64(e.Failures) / float64(e.Requests)
}

// AvgContentLength is the mean response size in bytes.
func (e EntryStats) AvgContentLength() float64 {
	if e.Requests == 0 {
		return 0
	}
	return float64(e.ContentLength) / float64(e.Requests)
}

// TotalRPS is the whole-run rate of requests per second, measured from the
// entry's start to the last request of the aggregate (Locust's rule);
// total is the aggregate row of the same snapshot.
func (e EntryStats) TotalRPS(total EntryStats) float64 {
	return rate(e.Requests, e.Start, total.Last)
}

// TotalFailPerSec is the whole-run rate of failures per second.
func (e EntryStats) TotalFailPerSec(total EntryStats) float64 {
	return rate(e.Failures, e.Start, total.Last)
}

func rate(n int64, start, last time.Time) float64 {
	if n == 0 || last.IsZero() {
		return 0
	}
	secs := last.Sub(start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// ErrorStats is one row of the failures table. It is plain data, safe to
// copy and to read from many goroutines.
type ErrorStats struct {
	Method, Name, Error string
	Occurrences         int64
	FirstSeen, LastSeen time.Time
}

// ExceptionStats is one row of the exceptions table. It is plain data,
// safe to copy and to read from many goroutines.
type ExceptionStats struct {
	Count     int64
	Message   string
	Traceback string
	Nodes     []string
}

// Snapshot is an immutable view of the statistics at one moment. It is
// plain data: safe to copy, keep and read from many goroutines.
type Snapshot struct {
	// Time is when the snapshot was taken.
	Time time.Time
	// Entries are sorted by (Name, Type) like Locust's tables.
	Entries []EntryStats
	// Total is the "Aggregated" row.
	Total EntryStats
	// Errors are sorted by occurrences, most first.
	Errors []ErrorStats
	// Exceptions are in order of first occurrence.
	Exceptions []ExceptionStats
	// UserCount is the number of running users (set by the Runner).
	UserCount int
	// CutShort is the number of requests cut short by the stop of the test:
	// in flight when their user was stopped, they are in no entry, as in
	// Locust. Total.Requests + CutShort is what the clients sent.
	CutShort int64
	// Dropped is the number of open-model iterations (Config.ArrivalRate)
	// that were due when no user of the pool was free: they did not run.
	Dropped int64
	// RoundedRequests is the number of requests merged (Stats.Merge) from
	// Locust's rounded response-time buckets (Python workers) rather than
	// from exact times: when it is not 0, the percentiles are only as
	// exact as those buckets (1 ms below 100 ms, then 2 significant digits).
	RoundedRequests int64
	// Late is the number of open-model iterations that waited for a free
	// user (Config.ArrivalWait) and started late: their requests are timed
	// from their intended start.
	Late int64
}

// Entry returns the entry (typ, name) of the snapshot, if present.
func (s *Snapshot) Entry(typ, name string) (EntryStats, bool) {
	for _, e := range s.Entries {
		if e.Type == typ && e.Name == name {
			return e, true
		}
	}
	return EntryStats{}, false
}
