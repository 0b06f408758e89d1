package locust

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
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

const shardBufSize = 256

// StatsOptions configures a Stats engine. The zero value is ready to use.
type StatsOptions struct {
	// ExtraPercentiles are computed in every snapshot in addition to
	// Percentiles (for example 99.5 for a threshold).
	ExtraPercentiles []float64
	// CurrentPercentiles, when true, keeps a 10-second window of response
	// times for every entry so snapshots carry current percentiles per
	// entry (Locust's --csv-full-history). The aggregate always has them.
	CurrentPercentiles bool
	// HistogramMax is the longest response time the histograms resolve to
	// 3 significant digits (they start at 1 µs); 0 means one hour, and
	// less than a millisecond is raised to one. A longer response time is
	// counted in the top bucket: percentiles that fall on it read the
	// ceiling (or the exact Min, if higher), p100 and Max stay exact.
	HistogramMax time.Duration
	// Shards is the number of recording shards; 0 means 4 × GOMAXPROCS.
	Shards int
	// Now returns the current wall-clock time; nil means time.Now. Tests
	// use it to simulate time.
	Now func() time.Time
	// Elapsed returns the time elapsed since NewStats on a monotonic
	// clock; it places requests without a Start in the per-second buckets
	// of the current window. nil means Now().Sub of the instant NewStats
	// read from Now, which is monotonic with time.Now: a wall-clock step
	// does not move the buckets. Tests set it with Now to simulate a step.
	Elapsed func() time.Duration
	// Logger receives the warning given once when a run passes 1,000
	// distinct names; nil means slog.Default(). A Runner sets its own.
	Logger *slog.Logger
}

// Stats is the statistics engine: one entry per (type, name) plus the
// aggregate, failures grouped by (method, name, error), and exceptions
// raised by user code.
//
// Recording (Stats.Record, Recorder.Record) is safe for concurrent use, does not
// allocate, and takes no global lock: events are appended to one of several
// sharded buffers and folded into per-entry HDR histograms in batches.
// Snapshot is safe for concurrent use with recording, and consistent: its
// entries add up to its Total. A Stats must not be copied after first use.
type Stats struct {
	opts        StatsOptions
	percentiles []float64 // Percentiles followed by ExtraPercentiles
	now         func() time.Time
	highest     int64     // histogram ceiling in microseconds
	base        time.Time // instant of NewStats; offsets are from it
	baseWall    int64     // its unix nanos

	entries *entryTable
	total   *entry

	shards []shard
	rr     atomic.Uint32 // round robin for recorders without a shard
	// fold is read-locked while a batch is folded into the entries and
	// write-locked while a snapshot reads them, so that a snapshot sees
	// whole batches only.
	fold sync.RWMutex

	errMu      sync.Mutex
	errors     map[errorKey]*errorEntry
	excMu      sync.Mutex
	exceptions map[string]*exceptionEntry
	excOrder   []string
	negative   map[[2]string]string // (type, name) → its exception message

	resetAt atomic.Int64 // offset of the last reset (start time) from base

	cutShort atomic.Int64 // requests cut short by the stop (not in the entries)
	dropped  atomic.Int64 // open model: iterations dropped for want of a free user
	rounded  atomic.Int64 // requests merged from rounded buckets (Merge)
	late     atomic.Int64 // open model: iterations that waited for a free user
}

type errorKey struct {
	e   *entry
	msg string
}

type errorEntry struct {
	method, name, msg string
	count             int64
	first, last       int64 // offsets from Stats.base
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
	off    int64 // end of the request: offset from Stats.base
	err    error
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
		entries:    newEntryTable(),
		errors:     map[errorKey]*errorEntry{},
		exceptions: map[string]*exceptionEntry{},
		negative:   map[[2]string]string{},
		highest:    defaultHistHighest,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.HistogramMax > 0 {
		s.highest = max(int64(opts.HistogramMax/time.Microsecond), minHistHighest)
	}
	s.percentiles = append(append([]float64(nil), Percentiles...), opts.ExtraPercentiles...)
	s.base = s.now()
	s.baseWall = s.base.UnixNano()
	s.total = s.newEntry("", AggregatedName, true)
	return s
}

// elapsed is the current offset from base on the monotonic clock.
func (s *Stats) elapsed() int64 {
	if s.opts.Elapsed != nil {
		return int64(s.opts.Elapsed())
	}
	return int64(s.now().Sub(s.base))
}

// wall turns an offset from base into a wall-clock time.
func (s *Stats) wall(off int64) time.Time {
	return time.Unix(0, s.baseWall+off)
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
// user repeating its requests skips the table lookup (hashing two strings).
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
// A negative r.Duration is not a request the target served: it is counted
// as an exception naming the entry and the duration, and left out of the
// entries. It is safe for concurrent use and does not allocate, but it picks a shard
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
	dur := int64(r.Duration)
	if dur < 0 {
		s.negativeDuration(r)
		return
	}
	e := rc.lookup(r.Type, r.Name)
	var off int64
	if r.Start.IsZero() {
		off = s.elapsed()
	} else if off = int64(r.Start.Sub(s.base)); off <= math.MaxInt64-dur {
		off += dur
	}
	sh := rc.sh
	sh.mu.Lock()
	sh.buf[sh.n] = sample{e: e, dur: dur, length: r.Length, off: off, err: r.Err}
	sh.n++
	if sh.n == shardBufSize {
		s.flushLocked(sh)
	}
	sh.mu.Unlock()
}

// negativeDuration counts a request with a negative duration as an
// exception: a client's bug, not a response time. The exceptions of one
// (type, name) share one row, whose message names the first duration.
func (s *Stats) negativeDuration(r *Request) {
	key := [2]string{r.Type, r.Name}
	s.excMu.Lock()
	msg, ok := s.negative[key]
	if !ok {
		msg = fmt.Sprintf("negative response time recorded for %s %q (the first: %s): not counted in the statistics",
			r.Type, r.Name, r.Duration)
		s.negative[[2]string{strings.Clone(r.Type), strings.Clone(r.Name)}] = msg
	}
	s.excMu.Unlock()
	s.RecordException(msg, "", "")
}

// flushLocked folds a shard's buffer into the entries. sh.mu must be held.
func (s *Stats) flushLocked(sh *shard) {
	n := sh.n
	if n == 0 {
		return
	}
	buf := sh.buf[:n]
	s.fold.RLock()
	t := s.total
	t.mu.Lock()
	for i := range buf {
		t.add(&buf[i], s.highest)
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
		cur.add(smp, s.highest)
	}
	if cur != nil {
		cur.mu.Unlock()
	}
	if failed {
		s.addErrors(buf) // under fold too, so that a Reset clears both or neither
	}
	s.fold.RUnlock()
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
				ee = &errorEntry{method: smp.e.typ, name: smp.e.name, msg: strings.Clone(msg), first: smp.off, last: smp.off}
				s.errors[errorKey{smp.e, ee.msg}] = ee
			}
			lastE, lastMsg = smp.e, msg
		}
		ee.count++
		ee.last = max(ee.last, smp.off)
		ee.first = min(ee.first, smp.off)
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
// It is used to merge exception tables from other processes. Safe for
// concurrent use.
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
	now := s.elapsed()
	s.fold.Lock()
	s.resetAt.Store(now)
	s.entries.each(func(e *entry) {
		e.mu.Lock()
		e.resetLocked(now)
		e.mu.Unlock()
	})
	s.total.mu.Lock()
	s.total.resetLocked(now)
	s.total.mu.Unlock()
	s.errMu.Lock() // lock order: fold, then errMu
	s.errors = map[errorKey]*errorEntry{}
	s.errMu.Unlock()
	s.fold.Unlock()
	s.excMu.Lock()
	s.exceptions = map[string]*exceptionEntry{}
	s.excOrder = nil
	s.negative = map[[2]string]string{}
	s.excMu.Unlock()
	s.cutShort.Store(0)
	s.dropped.Store(0)
	s.rounded.Store(0)
	s.late.Store(0)
}

// RecordDropped counts n iterations of the open model that were due but
// dropped because no user was free (Snapshot.Dropped). Safe for
// concurrent use.
func (s *Stats) RecordDropped(n int64) {
	s.dropped.Add(n)
}

// RecordLate counts n iterations of the open model that waited for a free
// user (Config.ArrivalWait) and started late (Snapshot.Late). Safe for
// concurrent use.
func (s *Stats) RecordLate(n int64) {
	s.late.Add(n)
}

// RecordCutShort counts n requests that were cut short by the stop of the
// test: in flight when their user was stopped, they are not in the entries
// (as in Locust), but Snapshot.CutShort counts them so that successes,
// failures and cut-short requests add up to what the target received.
// Safe for concurrent use.
func (s *Stats) RecordCutShort(n int64) {
	s.cutShort.Add(n)
}

// CutShort is Snapshot.CutShort without taking a snapshot: the requests cut
// short so far. Safe for concurrent use.
func (s *Stats) CutShort() int64 { return s.cutShort.Load() }

// Histogram returns a copy of the response-time histogram (in microseconds,
// up to StatsOptions.HistogramMax) of the entry (typ, name), or of the
// aggregate when typ is empty and name is empty or AggregatedName. It
// returns nil when there is no such entry. Safe for concurrent use; it
// allocates a full histogram, so it is not for the hot path.
func (s *Stats) Histogram(typ, name string) *hdr.Histogram {
	s.Flush()
	var e *entry
	if typ == "" && (name == "" || name == AggregatedName) {
		e = s.total
	} else if e = s.entries.get(s.entries.hash(typ, name), typ, name); e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lat.histogram(s.highest)
}

// EachBucket calls fn for every non-empty bucket of the response times of
// the entry (typ, name), or of the aggregate when typ is empty and name is
// empty or AggregatedName, in ascending order, with the bucket's range in
// microseconds and its count: the buckets of the HDR histogram Histogram
// would return, without building it (an entry with few requests keeps them
// in a few bytes, a full histogram takes about 190 KiB). It reports whether
// the entry exists. fn must not call back into s. Safe for concurrent use.
func (s *Stats) EachBucket(typ, name string, fn func(fromUs, toUs, count int64)) bool {
	s.Flush()
	var e *entry
	if typ == "" && (name == "" || name == AggregatedName) {
		e = s.total
	} else if e = s.entries.get(s.entries.hash(typ, name), typ, name); e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lat.eachBucket(s.highest, fn)
	return true
}

// Snapshot flushes the buffers and returns the current statistics. It is
// safe for concurrent use with recording, and consistent: the entries add
// up to the Total of the same snapshot (requests, failures, times and
// sizes); percentiles are read just after the counters and stay within
// their Min and Max. It allocates, so call it at most a few times per
// second.
func (s *Stats) Snapshot() *Snapshot {
	s.Flush()
	snap := &Snapshot{Time: s.now(), CutShort: s.cutShort.Load(), Dropped: s.dropped.Load(), RoundedRequests: s.rounded.Load(), Late: s.late.Load()}
	now := s.elapsed()
	// the counters of every entry under the fold lock, so that they add
	// up; the percentiles and current figures after it, entry by entry,
	// so that recording waits for a copy of counters only
	entries := make([]*entry, 0, s.entries.len())
	snap.Entries = make([]EntryStats, 0, s.entries.len())
	s.fold.Lock()
	s.total.mu.Lock()
	snap.Total = s.total.countsLocked(s)
	s.total.mu.Unlock()
	s.entries.each(func(e *entry) {
		e.mu.Lock()
		if e.reqs > 0 {
			snap.Entries = append(snap.Entries, e.countsLocked(s))
			entries = append(entries, e)
		}
		e.mu.Unlock()
	})
	s.fold.Unlock()
	current := snap.Total.Requests > 0
	s.total.fill(&snap.Total, s, now, current)
	for i, e := range entries {
		e.fill(&snap.Entries[i], s, now, current)
	}
	slices.SortFunc(snap.Entries, func(a, b EntryStats) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
	snap.Errors = s.errorRows()
	snap.Exceptions = s.exceptionRows()
	return snap
}

func (s *Stats) errorRows() []ErrorStats {
	s.errMu.Lock()
	rows := make([]ErrorStats, 0, len(s.errors))
	for _, ee := range s.errors {
		rows = append(rows, ErrorStats{
			Method: ee.method, Name: ee.name, Error: ee.msg, Occurrences: ee.count,
			FirstSeen: s.wall(ee.first), LastSeen: s.wall(ee.last),
		})
	}
	s.errMu.Unlock()
	slices.SortFunc(rows, func(a, b ErrorStats) int {
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
	if len(rows) == 0 {
		return nil
	}
	return rows
}

func (s *Stats) exceptionRows() []ExceptionStats {
	s.excMu.Lock()
	defer s.excMu.Unlock()
	var rows []ExceptionStats
	for _, msg := range s.excOrder {
		ex := s.exceptions[msg]
		nodes := make([]string, 0, len(ex.nodes))
		for n := range ex.nodes {
			nodes = append(nodes, n)
		}
		slices.Sort(nodes)
		rows = append(rows, ExceptionStats{
			Count: ex.count, Message: ex.msg, Traceback: ex.stack, Nodes: nodes,
		})
	}
	return rows
}
