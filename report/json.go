package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// Entry is one statistics entry in JSON: the keys of Locust's
// StatsEntry.serialize (what locust --json prints), extended with derived
// values. Times are milliseconds, timestamps epoch seconds. It is plain
// data, safe to copy and to read from many goroutines.
type Entry struct {
	// Locust's keys.
	Name                 string   `json:"name"`
	Method               string   `json:"method"`
	LastRequestTimestamp *float64 `json:"last_request_timestamp"` // null before the first request
	StartTime            float64  `json:"start_time"`
	NumRequests          int64    `json:"num_requests"`
	NumNoneRequests      int64    `json:"num_none_requests"` // always 0: every request here has a time
	NumFailures          int64    `json:"num_failures"`
	TotalResponseTime    float64  `json:"total_response_time"`
	MaxResponseTime      float64  `json:"max_response_time"`
	MinResponseTime      *float64 `json:"min_response_time"` // null without requests
	TotalContentLength   int64    `json:"total_content_length"`
	// ResponseTimes counts requests per rounded millisecond value, rounded
	// as Locust rounds (see Buckets).
	ResponseTimes Counts `json:"response_times"`
	// NumReqsPerSec and NumFailPerSec count requests and failures per epoch
	// second (see NewDocument for how they are measured).
	NumReqsPerSec Counts `json:"num_reqs_per_sec"`
	NumFailPerSec Counts `json:"num_fail_per_sec"`

	// Extensions (not in Locust's output).
	Percentiles        PercentileMap `json:"percentiles"`          // whole run, ms
	AvgResponseTime    float64       `json:"avg_response_time"`    // ms
	MedianResponseTime float64       `json:"median_response_time"` // ms
	AvgContentLength   float64       `json:"avg_content_length"`   // bytes
	RPS                float64       `json:"rps"`                  // whole-run requests/s
	FailPerSec         float64       `json:"fail_per_sec"`         // whole-run failures/s
	FailRatio          float64       `json:"fail_ratio"`           // failures / requests
	CurrentRPS         float64       `json:"current_rps"`          // 10 s window
	CurrentFailPerSec  float64       `json:"current_fail_per_sec"` // 10 s window
}

// Failure is one row of the failures table in JSON. It is plain data, safe
// to copy and to read from many goroutines.
type Failure struct {
	Method      string    `json:"method"`
	Name        string    `json:"name"`
	Error       string    `json:"error"`
	Occurrences int64     `json:"occurrences"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
}

// Exception is one row of the exceptions table in JSON (the keys of
// Locust's web UI). It is plain data, safe to copy and to read from many
// goroutines.
type Exception struct {
	Count     int64    `json:"count"`
	Message   string   `json:"msg"`
	Traceback string   `json:"traceback"`
	Nodes     []string `json:"nodes"`
}

// ThresholdResult is one checked threshold (a threshold.Result) in JSON.
// It is plain data, safe to copy and to read from many goroutines.
type ThresholdResult struct {
	Expr string `json:"expr"`
	// Actual is the measured value (threshold.Result.Actual), null when
	// the value is missing or not finite.
	Actual     *float64 `json:"actual"`
	ActualText string   `json:"actual_text"`
	Pass       bool     `json:"pass"`
	Missing    bool     `json:"missing"`
}

// Document is the file --json-file writes and --compare reads: the whole
// test with its final statistics. It is plain data, safe to copy and to
// read from many goroutines.
type Document struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Host      string    `json:"host"`
	UserCount int       `json:"user_count"` // the highest user count seen
	Stats     []Entry   `json:"stats"`      // sorted by (name, method)
	Total     Entry     `json:"total"`      // the Aggregated row
	// CutShort is the number of requests cut short by the stop of the test
	// (locust.Snapshot.CutShort): in flight when the users were stopped,
	// they are in no entry, as in Locust, but counted here, so that
	// Total.NumRequests + CutShort is what the clients sent. 0 in documents
	// written before it existed.
	CutShort   int64             `json:"cut_short"`
	Failures   []Failure         `json:"failures"`
	Exceptions []Exception       `json:"exceptions"`
	Thresholds []ThresholdResult `json:"thresholds"`
	// History is the per-second samples of the run (may be empty); see
	// Sample.MarshalJSON for their keys.
	History []Sample `json:"history,omitempty"`
	// RoundedRequests is locust.Snapshot.RoundedRequests: requests merged
	// from Locust's rounded buckets (Python workers), so the percentiles
	// are only as exact as those buckets; absent when all are exact.
	RoundedRequests int64 `json:"rounded_requests,omitempty"`
	// Extra holds what Events.Report listeners added.
	Extra map[string]any `json:"extra,omitempty"`
}

// Entry returns the entry (method, name) of the document; the aggregate
// for ("", locust.AggregatedName). Safe for concurrent use.
func (d *Document) Entry(method, name string) (Entry, bool) {
	if method == "" && name == locust.AggregatedName {
		return d.Total, true
	}
	for _, e := range d.Stats {
		if e.Method == method && e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// ReportInput is everything a report is made from. Only Snapshot is
// required; the zero value of every other field leaves its part out. It is
// plain data; the functions that take it only read it.
type ReportInput struct {
	// Title heads the HTML report; "" means "Load test report".
	Title string
	// Start and End are when the test ran; zero End means Snapshot.Time.
	Start, End time.Time
	// Host is the target host.
	Host string
	// UserCount is the highest number of users; 0 means the highest count
	// in History, or Snapshot.UserCount.
	UserCount int
	// Snapshot is the final statistics.
	Snapshot *locust.Snapshot
	// Stats, when set, provides the histograms for the response_times
	// buckets of the JSON entries.
	Stats *locust.Stats
	// History is the per-second samples for the charts and the per-second
	// counts of the JSON entries.
	History []Sample
	// Thresholds are the results of a threshold extension.
	Thresholds []threshold.Result
	// Comparison is a comparison with a baseline run (--compare).
	Comparison *Comparison
	// ExtraKeys and Extra are the values Events.Report listeners added, in
	// order (locust.ReportData.Extra).
	ExtraKeys []string
	Extra     map[string]any
}

func (in *ReportInput) end() time.Time {
	if !in.End.IsZero() {
		return in.End
	}
	if in.Snapshot != nil {
		return in.Snapshot.Time
	}
	return time.Time{}
}

func (in *ReportInput) users() int {
	if in.UserCount > 0 {
		return in.UserCount
	}
	n := 0
	for _, s := range in.History {
		n = max(n, s.UserCount)
	}
	if n == 0 && in.Snapshot != nil {
		n = in.Snapshot.UserCount
	}
	return n
}

// NewDocument builds the JSON document of in. in.Snapshot must not be nil.
//
// The response_times of each entry are the entry's HDR histogram (from
// in.Stats; empty without it), each bucket's middle value rounded as Locust
// rounds (see Buckets). num_reqs_per_sec and num_fail_per_sec are the
// differences of the entry's totals between consecutive samples of
// in.History, keyed by the epoch second of the earlier sample; they are
// empty without a history. Safe for concurrent use.
func NewDocument(in ReportInput) *Document {
	s := in.Snapshot
	d := &Document{
		Start:      in.Start,
		End:        in.end(),
		Host:       in.Host,
		UserCount:  in.users(),
		Stats:      make([]Entry, 0, len(s.Entries)),
		CutShort:   s.CutShort,
		Failures:   make([]Failure, 0, len(s.Errors)),
		Exceptions: make([]Exception, 0, len(s.Exceptions)),
		Thresholds: make([]ThresholdResult, 0, len(in.Thresholds)),
		History:    in.History,
	}
	d.RoundedRequests = s.RoundedRequests
	perSec := perSecondCounts(in.History)
	for _, e := range s.Entries {
		d.Stats = append(d.Stats, newEntry(e, s.Total, in.Stats, perSec[entryKey{e.Type, e.Name}]))
	}
	d.Total = newEntry(s.Total, s.Total, in.Stats, perSec[entryKey{"", locust.AggregatedName}])
	for _, e := range s.Errors {
		d.Failures = append(d.Failures, Failure{
			Method: e.Method, Name: e.Name, Error: e.Error, Occurrences: e.Occurrences,
			FirstSeen: e.FirstSeen.UTC(), LastSeen: e.LastSeen.UTC(),
		})
	}
	for _, e := range s.Exceptions {
		nodes := e.Nodes
		if nodes == nil {
			nodes = []string{}
		}
		d.Exceptions = append(d.Exceptions, Exception{Count: e.Count, Message: e.Message, Traceback: e.Traceback, Nodes: nodes})
	}
	for _, r := range in.Thresholds {
		d.Thresholds = append(d.Thresholds, ThresholdResult{
			Expr: r.Threshold.Expr, Actual: actual(r), ActualText: r.ActualText,
			Pass: r.Pass, Missing: r.Missing,
		})
	}
	if len(in.Extra) > 0 {
		d.Extra = make(map[string]any, len(in.Extra))
		for k, v := range in.Extra {
			d.Extra[k] = v
		}
	}
	return d
}

func actual(r threshold.Result) *float64 {
	if r.Missing {
		return nil
	}
	return finite(r.Actual)
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

type entryKey struct{ typ, name string }

type secCounts struct{ reqs, fails Counts }

// perSecondCounts turns the totals of consecutive samples into per-second
// counts per entry (the aggregate under ("", "Aggregated")).
func perSecondCounts(h []Sample) map[entryKey]*secCounts {
	out := map[entryKey]*secCounts{}
	prev := map[entryKey][2]int64{}
	add := func(k entryKey, sec, reqs, fails int64) {
		p, seen := prev[k]
		prev[k] = [2]int64{reqs, fails}
		dr, df := reqs-p[0], fails-p[1]
		if !seen || dr < 0 || df < 0 { // first sight, or the stats were reset
			dr, df = reqs, fails
		}
		if dr == 0 && df == 0 {
			return
		}
		c := out[k]
		if c == nil {
			c = &secCounts{reqs: Counts{}, fails: Counts{}}
			out[k] = c
		}
		if dr > 0 {
			c.reqs[sec] += dr
		}
		if df > 0 {
			c.fails[sec] += df
		}
	}
	var prevSec int64
	for i, smp := range h {
		sec := smp.Time.Unix()
		if i > 0 {
			sec = prevSec
		}
		prevSec = smp.Time.Unix()
		add(entryKey{"", locust.AggregatedName}, sec, smp.Requests, smp.Failures)
		for _, e := range smp.Entries {
			add(entryKey{e.Type, e.Name}, sec, e.Requests, e.Failures)
		}
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func newEntry(e, total locust.EntryStats, st *locust.Stats, ps *secCounts) Entry {
	out := Entry{
		Name:               e.Name,
		Method:             e.Type,
		StartTime:          epoch(e.Start),
		NumRequests:        e.Requests,
		NumFailures:        e.Failures,
		TotalResponseTime:  e.TotalSeconds * 1000,
		MaxResponseTime:    ms(e.Max),
		TotalContentLength: e.ContentLength,
		ResponseTimes:      Counts{},
		NumReqsPerSec:      Counts{},
		NumFailPerSec:      Counts{},
		Percentiles:        PercentileMap{},
		AvgResponseTime:    ms(e.Avg()),
		MedianResponseTime: ms(e.Median()),
		AvgContentLength:   e.AvgContentLength(),
		RPS:                e.TotalRPS(total),
		FailPerSec:         e.TotalFailPerSec(total),
		FailRatio:          e.FailRatio(),
		CurrentRPS:         e.CurrentRPS,
		CurrentFailPerSec:  e.CurrentFailPerSec,
	}
	if !e.Last.IsZero() {
		v := epoch(e.Last)
		out.LastRequestTimestamp = &v
	}
	if e.Requests > 0 {
		v := ms(e.Min)
		out.MinResponseTime = &v
		for i, p := range e.PercentileList {
			if i < len(e.PercentileValues) {
				out.Percentiles = append(out.Percentiles, PercentileValue{P: p, MS: ms(e.PercentileValues[i])})
			}
		}
	}
	if st != nil && e.Requests > 0 {
		out.ResponseTimes = bucketsOf(st, e.Type, e.Name)
	}
	if ps != nil {
		out.NumReqsPerSec, out.NumFailPerSec = ps.reqs, ps.fails
	}
	return out
}

// BucketMS rounds a response time in milliseconds as Locust does for its
// response_times table: below 100 ms to the millisecond, below 1 s to 10 ms,
// below 10 s to 100 ms, and above to the second, each half to even like
// Python's round. Safe for concurrent use.
func BucketMS(msv float64) int64 {
	switch {
	case msv < 100:
		return int64(math.RoundToEven(msv))
	case msv < 1000:
		return int64(math.RoundToEven(msv/10)) * 10
	case msv < 10000:
		return int64(math.RoundToEven(msv/100)) * 100
	}
	return int64(math.RoundToEven(msv/1000)) * 1000
}

// Buckets turns an HDR histogram of microseconds (as locust.Stats.Histogram
// returns) into Locust's response_times table: the middle value of every
// non-empty HDR bucket, in milliseconds, rounded with BucketMS, with the
// counts of the buckets that round to the same key added up. It only reads
// h; h must not be recorded into concurrently.
func Buckets(h *hdr.Histogram) Counts {
	out := Counts{}
	if h == nil {
		return out
	}
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		mid := float64(b.From+b.To) / 2 / 1000
		out[BucketMS(mid)] += b.Count
	}
	return out
}

// bucketsOf is Buckets of the entry's histogram, read bucket by bucket
// (Stats.EachBucket) instead of through a full copy of the histogram, which
// costs about 190 KiB per entry and adds up in a run with many names.
func bucketsOf(st *locust.Stats, typ, name string) Counts {
	out := Counts{}
	st.EachBucket(typ, name, func(from, to, n int64) {
		out[BucketMS(float64(from+to)/2/1000)] += n
	})
	return out
}

// Counts maps integer keys (milliseconds or epoch seconds) to counts, as in
// Locust's response_times and num_reqs_per_sec. It marshals to a JSON object
// with the keys in numeric order. Like any map, it may be read from many
// goroutines but not written concurrently.
type Counts map[int64]int64

// MarshalJSON writes the counts as an object with keys in numeric order.
func (c Counts) MarshalJSON() ([]byte, error) {
	keys := make([]int64, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strconv.FormatInt(k, 10))
		b.WriteString(`":`)
		b.WriteString(strconv.FormatInt(c[k], 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object with integer keys (float keys such as
// Locust 2.12's "150.0" are truncated).
func (c *Counts) UnmarshalJSON(data []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	out := make(Counts, len(m))
	for k, v := range m {
		f, err := strconv.ParseFloat(k, 64)
		if err != nil {
			return fmt.Errorf("counts: key %q is not a number", k)
		}
		out[int64(f)] += int64(v)
	}
	*c = out
	return nil
}

// PercentileValue is one percentile (0..100) and its value in milliseconds.
// It is plain data.
type PercentileValue struct {
	P  float64
	MS float64
}

// PercentileMap is a list of percentiles that marshals to a JSON object in
// its own order: {"50": 5.2, "66": 6.1, ...} (milliseconds). It is plain
// data; its methods other than UnmarshalJSON only read it.
type PercentileMap []PercentileValue

// Get returns the value of percentile p in milliseconds, if present.
func (m PercentileMap) Get(p float64) (float64, bool) {
	for _, v := range m {
		if v.P == p {
			return v.MS, true
		}
	}
	return 0, false
}

// MarshalJSON writes the object in the list's order.
func (m PercentileMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strconv.FormatFloat(v.P, 'f', -1, 64))
		b.WriteString(`":`)
		f := v.MS
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		b.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object, sorted by percentile.
func (m *PercentileMap) UnmarshalJSON(data []byte) error {
	var raw map[string]float64
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(PercentileMap, 0, len(raw))
	for k, v := range raw {
		p, err := strconv.ParseFloat(k, 64)
		if err != nil {
			return fmt.Errorf("percentiles: key %q is not a number", k)
		}
		out = append(out, PercentileValue{P: p, MS: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].P < out[j].P })
	*m = out
	return nil
}

// WriteJSON writes what locust --json prints: the list of entries (without
// the aggregate), indented by four spaces, built as NewDocument builds them.
// Safe for concurrent use.
func WriteJSON(w io.Writer, in ReportInput) error {
	d := NewDocument(in)
	return writeIndented(w, d.Stats)
}

// WriteDocument writes d as indented JSON (the --json-file format).
// Safe for concurrent use.
func WriteDocument(w io.Writer, d *Document) error {
	return writeIndented(w, d)
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// ReadDocument reads a document written by --json-file (WriteDocument).
// Safe for concurrent use.
func ReadDocument(r io.Reader) (*Document, error) {
	var d Document
	dec := json.NewDecoder(r)
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	if d.Stats == nil && d.Total.Name == "" {
		return nil, errors.New("not a golocust --json-file document (no stats and no total)")
	}
	return &d, nil
}

// ReadDocumentFile reads the document in the file name; see ReadDocument.
// Safe for concurrent use.
func ReadDocumentFile(name string) (*Document, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := ReadDocument(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}
