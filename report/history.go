package report

import (
	"encoding/json"
	"time"

	"github.com/golocust/locust"
)

// Sample is one point of a test's history, taken from a snapshot (the
// extension takes one every second while the test runs, and the final one
// at the stop). The HTML charts
// draw it; the JSON per-second counts are derived from it. It is plain
// data, safe to copy and to read from many goroutines.
type Sample struct {
	// Time is when the snapshot was taken.
	Time time.Time
	// UserCount is the number of running users.
	UserCount int
	// CurrentRPS and CurrentFailPerSec are the aggregate's current rates
	// (Locust's 10 s window).
	CurrentRPS, CurrentFailPerSec float64
	// P50 and P95 are the aggregate's current (10 s window) median and
	// 95th percentile.
	P50, P95 time.Duration
	// AvgResponseTime is the aggregate's whole-run average.
	AvgResponseTime time.Duration
	// Requests and Failures are the aggregate's whole-run totals.
	Requests, Failures int64
	// Entries holds every entry's whole-run totals at this time. It is not
	// written to JSON.
	Entries []EntryCount
}

// EntryCount is the whole-run request and failure totals of one entry. It
// is plain data.
type EntryCount struct {
	Type, Name         string
	Requests, Failures int64
}

// NewSample takes a history sample from s. The percentiles are the current
// window's when s carries them (the aggregate always does), else whole-run.
// Safe for concurrent use.
func NewSample(s *locust.Snapshot) Sample {
	t := s.Total
	smp := Sample{
		Time:              s.Time,
		UserCount:         s.UserCount,
		CurrentRPS:        t.CurrentRPS,
		CurrentFailPerSec: t.CurrentFailPerSec,
		AvgResponseTime:   t.Avg(),
		Requests:          t.Requests,
		Failures:          t.Failures,
		Entries:           make([]EntryCount, 0, len(s.Entries)),
	}
	var ok bool
	if smp.P50, ok = t.CurrentPercentile(50); !ok {
		smp.P50 = t.Median()
	}
	if smp.P95, ok = t.CurrentPercentile(95); !ok {
		smp.P95, _ = t.Percentile(95)
	}
	for _, e := range s.Entries {
		smp.Entries = append(smp.Entries, EntryCount{Type: e.Type, Name: e.Name, Requests: e.Requests, Failures: e.Failures})
	}
	return smp
}

// sampleJSON is Sample's JSON form: the keys of Locust 2.12's stats history
// (user_count, current_rps, current_fail_per_sec,
// response_time_percentile_50 and _95; its time is "HH:MM:SS", here RFC
// 3339) plus total_avg_response_time, num_requests and num_failures;
// response times in milliseconds.
type sampleJSON struct {
	Time              time.Time `json:"time"`
	UserCount         int       `json:"user_count"`
	CurrentRPS        float64   `json:"current_rps"`
	CurrentFailPerSec float64   `json:"current_fail_per_sec"`
	P50               float64   `json:"response_time_percentile_50"`
	P95               float64   `json:"response_time_percentile_95"`
	AvgResponseTime   float64   `json:"total_avg_response_time"`
	Requests          int64     `json:"num_requests"`
	Failures          int64     `json:"num_failures"`
}

// MarshalJSON writes the sample as an object with the keys time (RFC
// 3339), user_count, current_rps, current_fail_per_sec,
// response_time_percentile_50 and response_time_percentile_95 (Locust
// 2.12's stats history), total_avg_response_time, num_requests and
// num_failures; response times in milliseconds; Entries is left out.
// Safe for concurrent use.
func (s Sample) MarshalJSON() ([]byte, error) {
	return json.Marshal(sampleJSON{
		Time: s.Time.UTC(), UserCount: s.UserCount,
		CurrentRPS: s.CurrentRPS, CurrentFailPerSec: s.CurrentFailPerSec,
		P50: ms(s.P50), P95: ms(s.P95), AvgResponseTime: ms(s.AvgResponseTime),
		Requests: s.Requests, Failures: s.Failures,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Sample) UnmarshalJSON(data []byte) error {
	var j sampleJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	fromMS := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	*s = Sample{
		Time: j.Time, UserCount: j.UserCount,
		CurrentRPS: j.CurrentRPS, CurrentFailPerSec: j.CurrentFailPerSec,
		P50: fromMS(j.P50), P95: fromMS(j.P95), AvgResponseTime: fromMS(j.AvgResponseTime),
		Requests: j.Requests, Failures: j.Failures,
	}
	return nil
}
