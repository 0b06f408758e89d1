package locust

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Percentiles is the list of percentiles Locust reports, in its order.
// It is read-only: do not modify it.
var Percentiles = []float64{50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100}

// AggregatedName is the name of the row that sums every entry, as Locust
// calls it.
const AggregatedName = "Aggregated"

const (
	// histogram range in microseconds: 1 µs to 60 s at 3 significant digits.
	histLowest  = 1
	histHighest = 60_000_000
	histDigits  = 3

	// per-second rings: long enough for Locust's 10 s window plus lag.
	ringSize = 32
	// the current-rate window: Locust's seconds last-12 .. last-3.
	windowSeconds = 10
	windowLag     = 3

	shardBufSize = 256
)

// StatsOptions configures a Stats engine. The zero value is ready to use.
type StatsOptions struct {
	// ExtraPercentiles are computed in every snapshot in addition to
	// Percentiles (for example 99.5 for a threshold).
	ExtraPercentiles []float64
	// CurrentPercentiles, when true, keeps a 10-second window of response
	// times for every entry so snapshots carry current percentiles per
	// entry (Locust's --csv-full-history). The aggregate always has them.
	CurrentPercentiles bool
	// Shards is the number of recording shards; 0 means 4 × GOMAXPROCS.
	Shards int
	// Now returns the current time; nil means time.Now. Tests use it to
	// simulate time.
	Now func() time.Time
}

// Stats is the statistics engine: one entry per (type, name) plus the
// aggregate, failures grouped by (method, name, error), and exceptions
// raised by user code.
//
// Recording (Stats.Record, Recorder.Record) is safe for concurrent use, does not
// allocate, and takes no global lock: events are appended to one of several
// sharded buffers and folded into per-entry HDR histograms in batches.
// Snapshot is safe for concurrent use with recording. A Stats must not be
// copied after first use.
type Stats struct {
	opts        StatsOptions
	percentiles []float64 // Percentiles followed by ExtraPercentiles
	now         func() time.Time

	entries atomic.Pointer[map[entryKey]*entry] // copy-on-write
	mu      sync.Mutex                          // creation of entries
	total   *entry

	shards []shard
	rr     atomic.Uint32 // round robin for recorders without a shard

	errMu      sync.Mutex
	errors     map[errorKey]*errorEntry
	excMu      sync.Mutex
	exceptions map[string]*exceptionEntry
	excOrder   []string

	resetAt atomic.Int64 // unix nanos of the last reset (start time)

	cutShort atomic.Int64 // requests cut short by the stop (not in the entries)
}

type entryKey struct{ typ, name string }

type errorKey struct {
	e   *entry
	msg string
}

type errorEntry struct {
	method, name, msg string
	count             int64
	first, last       int64 // unix nanos
}

type exceptionEntry struct {
	msg, stack string
	count      int64
	nodes      map[string]struct{}
}

// shard buffers samples from the goroutines bound to it. It is padded so that
// two shards never share a cache line.
type shard struct {
	mu  sync.Mutex
	n   int
	buf [shardBufSize]sample
	_   [64]byte
}

type sample struct {
	e      *entry
	dur    int64 // nanoseconds
	length int64
	end    int64 // unix nanos
	err    error
}

type secCount struct {
	sec   int64
	reqs  int64
	fails int64
}

type entry struct {
	mu        sync.Mutex
	typ, name string
	hist      *hdr.Histogram
	reqs      int64
	fails     int64
	sum       int64 // nanoseconds
	min, max  int64 // nanoseconds
	length    int64
	start     int64 // unix nanos of first request (or reset)
	last      int64 // unix nanos of last request end
	ring      [ringSize]secCount
	window    *histWindow // nil unless current percentiles are tracked
}

// histWindow holds one histogram per second for the current window:
// compact (packed) ones for the entries, and plain ones, faster to record
// into but larger (about 140 KiB each), for the aggregate, which every
// request goes through.
type histWindow struct {
	secs  [windowSeconds + windowLag + 2]int64
	hists [windowSeconds + windowLag + 2]*hdr.PackedHistogram // nil when plain
	plain [windowSeconds + windowLag + 2]*hdr.Histogram       // nil when packed
	tmp   *hdr.Histogram
}

func newHistWindow(plain bool) *histWindow {
	w := &histWindow{}
	for i := range w.secs {
		if plain {
			w.plain[i] = hdr.New(histLowest, histHighest, histDigits)
		} else {
			w.hists[i] = hdr.NewPacked(histLowest, histHighest, histDigits)
		}
		w.secs[i] = -1
	}
	return w
}

func (w *histWindow) reset(i int) {
	if w.plain[i] != nil {
		w.plain[i].Reset()
	} else {
		w.hists[i].Reset()
	}
}

func (w *histWindow) record(sec, us int64) {
	i := int(sec % int64(len(w.secs)))
	if w.secs[i] > sec {
		return
	}
	if w.secs[i] != sec {
		w.reset(i)
		w.secs[i] = sec
	}
	if h := w.plain[i]; h != nil {
		_ = h.RecordValue(us)
	} else {
		_ = w.hists[i].RecordValue(us)
	}
}

// merged returns a histogram of the seconds from..to inclusive; it is reused.
func (w *histWindow) merged(from, to int64) *hdr.Histogram {
	if w.tmp == nil {
		w.tmp = hdr.New(histLowest, histHighest, histDigits)
	}
	w.tmp.Reset()
	for i, s := range w.secs {
		if s >= from && s <= to {
			if w.plain[i] != nil {
				w.tmp.Merge(w.plain[i])
			} else {
				w.hists[i].MergeInto(w.tmp)
			}
		}
	}
	return w.tmp
}

// NewStats returns an empty statistics engine.
func NewStats(opts StatsOptions) *Stats {
	n := opts.Shards
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
	}
	s := &Stats{
		opts:       opts,
		now:        opts.Now,
		shards:     make([]shard, n),
		errors:     map[errorKey]*errorEntry{},
		exceptions: map[string]*exceptionEntry{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.percentiles = append(append([]float64(nil), Percentiles...), opts.ExtraPercentiles...)
	m := map[entryKey]*entry{}
	s.entries.Store(&m)
	// the clock starts before the aggregate is made, so that its Start
	// (the lower bound of the current-rate window) is now, not 1970
	s.resetAt.Store(s.now().UnixNano())
	s.total = s.newEntry("", AggregatedName, true)
	return s
}

func (s *Stats) newEntry(typ, name string, window bool) *entry {
	e := &entry{typ: typ, name: name, hist: hdr.New(histLowest, histHighest, histDigits)}
	e.resetLocked(s.resetAt.Load())
	if window || s.opts.CurrentPercentiles {
		e.window = newHistWindow(window)
	}
	return e
}

func (e *entry) resetLocked(start int64) {
	e.hist.Reset()
	e.reqs, e.fails, e.sum, e.length = 0, 0, 0, 0
	e.min, e.max = 0, 0
	e.start, e.last = start, 0
	e.ring = [ringSize]secCount{}
	if e.window != nil {
		for i := range e.window.secs {
			e.window.secs[i] = -1
			e.window.reset(i)
		}
	}
}

// lookup returns the entry for (typ, name), creating it on first use.
func (s *Stats) lookup(typ, name string) *entry {
	if e, ok := (*s.entries.Load())[entryKey{typ, name}]; ok {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.entries.Load()
	if e, ok := old[entryKey{typ, name}]; ok {
		return e
	}
	e := s.newEntry(strings.Clone(typ), strings.Clone(name), false)
	m := make(map[entryKey]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[entryKey{e.typ, e.name}] = e
	s.entries.Store(&m)
	return e
}

// Recorder records requests into one shard of a Stats. Give each goroutine
// (each simulated user) its own Recorder so that goroutines never write the
// same memory. A Recorder is safe for concurrent use, but is fastest when
// used by one goroutine. The zero value is not usable; see Stats.Recorder.
type Recorder struct {
	s     *Stats
	sh    *shard
	cache *entryCache // nil for the throwaway recorders of Stats.Record
}

// entryCache remembers the last few entries a Recorder used, so that a
// user repeating its requests skips the map lookup (hashing two strings).
// Entries live as long as their Stats, so the pointers stay valid.
type entryCache struct {
	e    [4]atomic.Pointer[entry]
	next atomic.Uint32
}

// Recorder returns a recorder bound to the next shard in turn, with a small
// cache of the entries it records into.
func (s *Stats) Recorder() Recorder {
	rc := s.recorder()
	rc.cache = &entryCache{}
	return rc
}

func (s *Stats) recorder() Recorder {
	i := s.rr.Add(1) % uint32(len(s.shards))
	return Recorder{s: s, sh: &s.shards[i]}
}

// Record adds one request to the statistics. A nil r.Err is a success;
// anything else is a failure grouped by (r.Type, r.Name, r.Err.Error()).
// It is safe for concurrent use and does not allocate, but it picks a shard
// through a counter all callers share: goroutines that record a lot should
// each use their own Recorder (users do).
func (s *Stats) Record(r Request) {
	s.recorder().record(&r)
}

// Record adds one request to the statistics; see Stats.Record.
func (rc Recorder) Record(r Request) {
	rc.record(&r)
}

// lookup returns the entry for (typ, name) through the recorder's cache.
func (rc Recorder) lookup(typ, name string) *entry {
	c := rc.cache
	if c == nil {
		return rc.s.lookup(typ, name)
	}
	for i := range c.e {
		if e := c.e[i].Load(); e != nil && e.name == name && e.typ == typ {
			return e
		}
	}
	e := rc.s.lookup(typ, name)
	c.e[c.next.Add(1)%uint32(len(c.e))].Store(e)
	return e
}

func (rc Recorder) record(r *Request) {
	s := rc.s
	e := rc.lookup(r.Type, r.Name)
	var end int64
	if r.Start.IsZero() {
		end = s.now().UnixNano()
	} else {
		end = r.Start.UnixNano() + int64(r.Duration)
	}
	dur := int64(r.Duration)
	if dur < 0 {
		dur = 0
	}
	sh := rc.sh
	sh.mu.Lock()
	sh.buf[sh.n] = sample{e: e, dur: dur, length: r.Length, end: end, err: r.Err}
	sh.n++
	if sh.n == shardBufSize {
		s.flushLocked(sh)
	}
	sh.mu.Unlock()
}

// flushLocked folds a shard's buffer into the entries. sh.mu must be held.
func (s *Stats) flushLocked(sh *shard) {
	n := sh.n
	if n == 0 {
		return
	}
	buf := sh.buf[:n]
	t := s.total
	t.mu.Lock()
	for i := range buf {
		t.add(&buf[i])
	}
	t.mu.Unlock()

	var cur *entry
	failed := false
	for i := range buf {
		smp := &buf[i]
		failed = failed || smp.err != nil
		if smp.e != cur {
			if cur != nil {
				cur.mu.Unlock()
			}
			cur = smp.e
			cur.mu.Lock()
		}
		cur.add(smp)
	}
	if cur != nil {
		cur.mu.Unlock()
	}

	if failed {
		s.addErrors(buf)
	}
	clear(buf)
	sh.n = 0
}

// addErrors adds the failures of a batch to the errors table under one
// lock. A run of the same error on the same entry (the usual case) costs a
// string comparison, not a map lookup.
func (s *Stats) addErrors(buf []sample) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	var (
		ee      *errorEntry
		lastE   *entry
		lastMsg string
	)
	for i := range buf {
		smp := &buf[i]
		if smp.err == nil {
			continue
		}
		msg := errorText(smp.err)
		if ee == nil || smp.e != lastE || msg != lastMsg {
			var ok bool
			if ee, ok = s.errors[errorKey{smp.e, msg}]; !ok {
				ee = &errorEntry{method: smp.e.typ, name: smp.e.name, msg: strings.Clone(msg), first: smp.end}
				s.errors[errorKey{smp.e, ee.msg}] = ee
			}
			lastE, lastMsg = smp.e, msg
		}
		ee.count++
		ee.last = max(ee.last, smp.end)
		ee.first = min(ee.first, smp.end)
	}
}

// errorText returns err.Error(), or says that it panicked: Error is user
// code, and it runs while a shard is locked, on whichever goroutine
// flushes (a user, or the one taking a snapshot).
func errorText(err error) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprintf("%T whose Error method panicked: %v", err, v)
		}
	}()
	return err.Error()
}

// add records one sample; e.mu must be held.
func (e *entry) add(smp *sample) {
	d := smp.dur
	if e.reqs == 0 || d < e.min {
		e.min = d
	}
	if d > e.max {
		e.max = d
	}
	e.reqs++
	e.sum += d
	e.length += smp.length
	if smp.end > e.last {
		e.last = smp.end
	}
	us := d / 1000
	if us > histHighest {
		us = histHighest
	}
	_ = e.hist.RecordValue(us)
	sec := smp.end / int64(time.Second)
	if smp.err != nil {
		e.fails++
	}
	c := &e.ring[sec%ringSize]
	if c.sec < sec {
		*c = secCount{sec: sec}
	}
	if c.sec == sec { // an older second than the slot holds is out of every window
		c.reqs++
		if smp.err != nil {
			c.fails++
		}
	}
	if e.window != nil {
		e.window.record(sec, us)
	}
}

// Flush folds every buffered event into the entries. Snapshot calls it; call
// it yourself only to read entries through Histogram. Safe for concurrent use.
func (s *Stats) Flush() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.flushLocked(sh)
		sh.mu.Unlock()
	}
}

// RecordException adds an error raised by user code (a task's panic or
// returned error) to the exceptions table, grouped by message. node names
// the process it came from ("local" when empty). Safe for concurrent use.
func (s *Stats) RecordException(msg, stack, node string) {
	s.AddException(msg, stack, node, 1)
}

// AddException adds count occurrences of an exception; see RecordException.
// It is used to merge exception tables from other processes.
func (s *Stats) AddException(msg, stack, node string, count int64) {
	if node == "" {
		node = "local"
	}
	s.excMu.Lock()
	defer s.excMu.Unlock()
	ex, ok := s.exceptions[msg]
	if !ok {
		ex = &exceptionEntry{msg: msg, stack: stack, nodes: map[string]struct{}{}}
		s.exceptions[msg] = ex
		s.excOrder = append(s.excOrder, msg)
	}
	ex.count += count
	ex.nodes[node] = struct{}{}
}

// Reset clears every entry, error and exception, and restarts the clock of
// the rates. Safe for concurrent use; events recorded concurrently with a
// Reset may land on either side of it.
func (s *Stats) Reset() {
	s.Flush()
	now := s.now().UnixNano()
	s.resetAt.Store(now)
	for _, e := range *s.entries.Load() {
		e.mu.Lock()
		e.resetLocked(now)
		e.mu.Unlock()
	}
	s.total.mu.Lock()
	s.total.resetLocked(now)
	s.total.mu.Unlock()
	s.errMu.Lock()
	s.errors = map[errorKey]*errorEntry{}
	s.errMu.Unlock()
	s.excMu.Lock()
	s.exceptions = map[string]*exceptionEntry{}
	s.excOrder = nil
	s.excMu.Unlock()
	s.cutShort.Store(0)
}

// RecordCutShort counts n requests that were cut short by the stop of the
// test: in flight when their user was stopped, they are not in the entries
// (as in Locust), but Snapshot.CutShort counts them so that successes,
// failures and cut-short requests add up to what the target received.
// Safe for concurrent use.
func (s *Stats) RecordCutShort(n int64) {
	s.cutShort.Add(n)
}

// Histogram returns a copy of the response-time histogram (in microseconds)
// of the entry (typ, name), or of the aggregate when typ is empty and name
// is empty or AggregatedName. It
// returns nil when there is no such entry. Safe for concurrent use; it
// allocates a full histogram, so it is not for the hot path.
func (s *Stats) Histogram(typ, name string) *hdr.Histogram {
	s.Flush()
	var e *entry
	if typ == "" && (name == "" || name == AggregatedName) {
		e = s.total
	} else if e = (*s.entries.Load())[entryKey{typ, name}]; e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hist.Clone()
}

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
	// TotalTime is the sum of all response times.
	TotalTime time.Duration
	// Min and Max are the exact extreme response times.
	Min, Max time.Duration
	// ContentLength is the sum of the response sizes in bytes.
	ContentLength int64
	// Start is when the entry began counting (the test start or the last
	// reset); Last is the end of its latest request (zero if none).
	Start, Last time.Time
	// CurrentRPS and CurrentFailPerSec are the rates over Locust's window:
	// the ten whole seconds before the last two.
	CurrentRPS, CurrentFailPerSec float64
	// PercentileList is the list the two slices below are aligned with.
	PercentileList []float64
	// PercentileValues holds the whole-run percentiles, never above Max
	// nor below Min.
	PercentileValues []time.Duration
	// CurrentPercentileValues holds percentiles over the current window,
	// or nil when they are not tracked for this entry.
	CurrentPercentileValues []time.Duration
}

// Avg is the mean response time.
func (e EntryStats) Avg() time.Duration {
	if e.Requests == 0 {
		return 0
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

// ErrorStats is one row of the failures table.
type ErrorStats struct {
	Method, Name, Error string
	Occurrences         int64
	FirstSeen, LastSeen time.Time
}

// ExceptionStats is one row of the exceptions table.
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

// Snapshot flushes the buffers and returns the current statistics. It is
// safe for concurrent use with recording; it allocates, so call it at most
// a few times per second.
func (s *Stats) Snapshot() *Snapshot {
	s.Flush()
	snap := &Snapshot{Time: s.now(), CutShort: s.cutShort.Load()}
	s.total.mu.Lock()
	lastSec := s.total.last / int64(time.Second) // 0 when no request yet
	snap.Total = s.total.statsLocked(s.percentiles, lastSec)
	s.total.mu.Unlock()

	m := *s.entries.Load()
	snap.Entries = make([]EntryStats, 0, len(m))
	for _, e := range m {
		e.mu.Lock()
		if e.reqs > 0 {
			snap.Entries = append(snap.Entries, e.statsLocked(s.percentiles, lastSec))
		}
		e.mu.Unlock()
	}
	slices.SortFunc(snap.Entries, func(a, b EntryStats) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})

	s.errMu.Lock()
	for _, ee := range s.errors {
		snap.Errors = append(snap.Errors, ErrorStats{
			Method: ee.method, Name: ee.name, Error: ee.msg, Occurrences: ee.count,
			FirstSeen: time.Unix(0, ee.first), LastSeen: time.Unix(0, ee.last),
		})
	}
	s.errMu.Unlock()
	slices.SortFunc(snap.Errors, func(a, b ErrorStats) int {
		if c := cmp.Compare(b.Occurrences, a.Occurrences); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Method, b.Method); c != 0 {
			return c
		}
		return cmp.Compare(a.Error, b.Error)
	})

	s.excMu.Lock()
	for _, msg := range s.excOrder {
		ex := s.exceptions[msg]
		nodes := make([]string, 0, len(ex.nodes))
		for n := range ex.nodes {
			nodes = append(nodes, n)
		}
		slices.Sort(nodes)
		snap.Exceptions = append(snap.Exceptions, ExceptionStats{
			Count: ex.count, Message: ex.msg, Traceback: ex.stack, Nodes: nodes,
		})
	}
	s.excMu.Unlock()
	return snap
}

// statsLocked computes an EntryStats; e.mu must be held. lastSec is the
// integer second of the aggregate's last request (0: none yet).
func (e *entry) statsLocked(ps []float64, lastSec int64) EntryStats {
	st := EntryStats{
		Type: e.typ, Name: e.name,
		Requests: e.reqs, Failures: e.fails,
		TotalTime:      time.Duration(e.sum),
		Min:            time.Duration(e.min),
		Max:            time.Duration(e.max),
		ContentLength:  e.length,
		Start:          time.Unix(0, e.start),
		PercentileList: ps,
	}
	if e.last != 0 {
		st.Last = time.Unix(0, e.last)
	}
	st.PercentileValues = percentilesOf(e.hist, ps, e.min, e.max)
	if lastSec > 0 {
		startSec := e.start / int64(time.Second)
		from := max(lastSec-windowSeconds-windowLag+1, startSec)
		to := lastSec - windowLag
		if to >= from {
			var reqs, fails int64
			for sec := from; sec <= to; sec++ {
				c := e.ring[sec%ringSize]
				if c.sec == sec {
					reqs += c.reqs
					fails += c.fails
				}
			}
			n := float64(to - from + 1)
			st.CurrentRPS = float64(reqs) / n
			st.CurrentFailPerSec = float64(fails) / n
		}
		if e.window != nil {
			h := e.window.merged(max(from, lastSec-windowSeconds-windowLag+1), to)
			if h.TotalCount() > 0 {
				mn, mx := h.Min()*1000, h.Max()*1000
				st.CurrentPercentileValues = percentilesOf(h, ps, mn, mx)
			} else {
				st.CurrentPercentileValues = make([]time.Duration, len(ps))
			}
		}
	}
	return st
}

// percentilesOf reads percentiles (µs histogram) as durations clamped to
// [min, max] (nanoseconds), so that a percentile never exceeds the max.
func percentilesOf(h *hdr.Histogram, ps []float64, minNs, maxNs int64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if h.TotalCount() == 0 {
		return out
	}
	vals := h.ValueAtPercentilesSlice(ps)
	for i, v := range vals {
		ns := v * 1000
		if ns > maxNs {
			ns = maxNs
		}
		if ns < minNs {
			ns = minNs
		}
		out[i] = time.Duration(ns)
	}
	return out
}
