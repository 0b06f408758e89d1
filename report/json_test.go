package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// locustKeys are the keys of Locust's StatsEntry.serialize.
var locustKeys = []string{
	"name", "method", "last_request_timestamp", "start_time", "num_requests",
	"num_none_requests", "num_failures", "total_response_time", "max_response_time",
	"min_response_time", "total_content_length", "response_times", "num_reqs_per_sec",
	"num_fail_per_sec",
}

var extendedKeys = []string{
	"percentiles", "avg_response_time", "median_response_time", "avg_content_length",
	"rps", "fail_per_sec", "fail_ratio", "current_rps", "current_fail_per_sec",
}

func TestJSONShape(t *testing.T) {
	st, s := fixture(t, locust.StatsOptions{})
	// two history samples, one second apart, with the totals growing
	h0 := NewSample(s)
	h0.Time = t0.Add(3 * time.Second)
	h0.Requests, h0.Failures = 2, 0
	h0.Entries = []EntryCount{{Type: "GET", Name: "/a", Requests: 2}}
	h1 := NewSample(s)
	h1.Time = t0.Add(4 * time.Second)

	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, ReportInput{Snapshot: s, Stats: st, History: []Sample{h0, h1}}))
	var list []map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &list))
	require.Len(t, list, 2, "the entries, without the aggregate, as locust --json")
	for _, m := range list {
		for _, k := range append(locustKeys, extendedKeys...) {
			assert.Contains(t, m, k)
		}
	}
	a := list[0]
	e, _ := s.Entry("GET", "/a")
	assert.Equal(t, "/a", a["name"])
	assert.Equal(t, "GET", a["method"])
	assert.EqualValues(t, e.Requests, a["num_requests"])
	assert.EqualValues(t, 0, a["num_none_requests"])
	assert.EqualValues(t, e.Failures, a["num_failures"])
	assert.InDelta(t, 60.0, a["total_response_time"], 1e-9, "ms")
	assert.InDelta(t, 30.0, a["max_response_time"], 1e-9)
	assert.InDelta(t, 10.0, a["min_response_time"], 1e-9)
	assert.EqualValues(t, 600, a["total_content_length"])
	assert.InDelta(t, float64(t0.Unix()), a["start_time"], 1e-6)
	assert.InDelta(t, float64(e.Last.UnixNano())/1e9, a["last_request_timestamp"], 1e-6)
	assert.Equal(t, map[string]any{"10": 1.0, "20": 1.0, "30": 1.0}, a["response_times"])
	// totals 2 at t0+3 (first sample: counted in its own second), 3 at t0+4
	assert.Equal(t, map[string]any{"1704067203": 3.0}, a["num_reqs_per_sec"])
	assert.Equal(t, map[string]any{"1704067203": 1.0}, a["num_fail_per_sec"])
	assert.InDelta(t, e.TotalRPS(s.Total), a["rps"], 1e-12)
	assert.InDelta(t, 1.0/3, a["fail_ratio"], 1e-12)
	assert.InDelta(t, 20.0, a["avg_response_time"], 1e-9)
	pcts := a["percentiles"].(map[string]any)
	assert.Len(t, pcts, len(locust.Percentiles))
	for i, p := range locust.Percentiles {
		key := map[float64]string{99.9: "99.9", 99.99: "99.99"}[p]
		if key == "" {
			key = jsonNum(p)
		}
		assert.InDelta(t, ms(e.PercentileValues[i]), pcts[key], 1e-9, key)
	}
	// the percentiles keep Locust's order in the text
	assert.Regexp(t, `(?s)"50": .*"66": .*"99.99": .*"100": `, b.String())

	// the document: every part present, the aggregate in "total"
	th := []threshold.Result{{Threshold: threshold.Threshold{Expr: "p95 < 300ms"}, Actual: 30, ActualText: "30ms", Pass: true}}
	doc := NewDocument(ReportInput{Snapshot: s, Stats: st, Start: t0, Host: "http://127.0.0.1", Thresholds: th})
	b.Reset()
	require.NoError(t, WriteDocument(&b, doc))
	var m map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &m))
	for _, k := range []string{"start", "end", "host", "user_count", "stats", "total", "failures", "exceptions", "thresholds"} {
		assert.Contains(t, m, k)
	}
	assert.EqualValues(t, 7, m["user_count"])
	total := m["total"].(map[string]any)
	assert.Equal(t, "Aggregated", total["name"])
	assert.Equal(t, "", total["method"])
	assert.EqualValues(t, 4, total["num_requests"])
	assert.Equal(t, []any{map[string]any{
		"method": "GET", "name": "/a", "error": `HTTP 500, "oops"`, "occurrences": 1.0,
		"first_seen": "2024-01-01T00:00:03.03Z", "last_seen": "2024-01-01T00:00:03.03Z",
	}}, m["failures"])
	exc := m["exceptions"].([]any)[0].(map[string]any)
	assert.Equal(t, "panic in task x: boom", exc["msg"])
	assert.Equal(t, []any{"local"}, exc["nodes"])
	assert.Equal(t, []any{map[string]any{"expr": "p95 < 300ms", "actual": 30.0, "actual_text": "30ms", "pass": true, "missing": false}}, m["thresholds"])

	// and it reads back (the --compare baseline)
	back, err := ReadDocument(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, doc.Stats[0].Percentiles, back.Stats[0].Percentiles)
	assert.Equal(t, doc.Stats[0].ResponseTimes, back.Stats[0].ResponseTimes)
	assert.Equal(t, doc.Total.RPS, back.Total.RPS)
}

func jsonNum(p float64) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func TestReadDocumentRejectsOtherJSON(t *testing.T) {
	_, err := ReadDocument(bytes.NewReader([]byte(`{"foo": 1}`)))
	assert.Error(t, err)
	_, err = ReadDocument(bytes.NewReader([]byte(`not json`)))
	assert.Error(t, err)
}

// The response_times of the document are Buckets of each entry's histogram,
// at every size of an entry, though read without copying the histogram.
func TestResponseTimesAreTheHistogramBuckets(t *testing.T) {
	st := locust.NewStats(locust.StatsOptions{})
	for i, n := range []int{3, 200, 6000} {
		name := []string{"/few", "/some", "/many"}[i]
		for k := range n {
			d := time.Duration(k%997+1) * 137 * time.Microsecond
			st.Record(locust.Request{Type: "GET", Name: name, Duration: d, Start: time.Now()})
		}
	}
	d := NewDocument(ReportInput{Snapshot: st.Snapshot(), Stats: st})
	require.Len(t, d.Stats, 3)
	for _, e := range d.Stats {
		assert.Equal(t, Buckets(st.Histogram(e.Method, e.Name)), e.ResponseTimes, e.Name)
	}
	assert.Equal(t, Buckets(st.Histogram("", "")), d.Total.ResponseTimes)
}
