package locust

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

const (
	// histogram range in microseconds: 1 µs to StatsOptions.HistogramMax
	// (default one hour) at 3 significant digits.
	histLowest         = 1
	defaultHistHighest = int64(time.Hour / time.Microsecond)
	minHistHighest     = int64(time.Millisecond / time.Microsecond)
	histDigits         = 3

	// An entry keeps its first exactSamples response times exactly, then
	// moves them into a packed (sparse) HDR histogram, and into a full one
	// (about 190 KiB for the default range, but the fastest to record into)
	// once it holds more than packedMaxCount values or packedMaxSlots
	// distinct buckets: the many entries of a run whose names carry ids
	// stay small, and a busy entry records as fast as ever.
	exactSamples   = 64
	packedMaxCount = 4096
	packedMaxSlots = 1024
)

type entry struct {
	mu        sync.Mutex
	typ, name string
	lat       latencies
	reqs      int64
	fails     int64
	sum       uint128 // nanoseconds
	min, max  int64   // nanoseconds
	length    int64
	start     int64 // offset of the first request (or reset) from Stats.base
	last      int64 // offset of the end of the latest request (when reqs > 0)
	ring      [ringSize]secCount
	window    *histWindow // nil unless current percentiles are tracked
}

// uint128 is a sum that cannot overflow on any run: 2^64 ns is 584 years.
type uint128 struct{ hi, lo uint64 }

func (u *uint128) add(v uint64) {
	var c uint64
	u.lo, c = bits.Add64(u.lo, v, 0)
	u.hi += c
}

// duration is the sum as a Duration, saturated at the largest one.
func (u uint128) duration() time.Duration {
	if u.hi != 0 || u.lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(u.lo)
}

func (u uint128) seconds() float64 {
	return (float64(u.hi)*(1<<64) + float64(u.lo)) / 1e9
}

// latencies holds an entry's response times: exactly while there are few,
// then in a packed HDR histogram of microseconds, then in a full one. At
// most one of packed and hist is set; exact is empty when either is.
type latencies struct {
	exact  []int64 // nanoseconds
	packed *hdr.PackedHistogram
	hist   *hdr.Histogram
}

func (l *latencies) record(ns, highest int64) {
	l.recordN(ns, 1, highest)
}

// recordN records n response times of ns nanoseconds, moving to the next
// form (exact values, packed histogram, full histogram) when the current
// one is full.
func (l *latencies) recordN(ns, n, highest int64) {
	us := toMicros(ns, highest)
	switch {
	case l.hist != nil:
		_ = l.hist.RecordValues(us, n)
	case l.packed != nil:
		_ = l.packed.RecordValues(us, n)
		if l.packed.TotalCount() > packedMaxCount || l.packed.Populated() > packedMaxSlots {
			l.hist = hdr.New(histLowest, highest, histDigits)
			l.packed.MergeInto(l.hist)
			l.packed = nil
		}
	case int64(len(l.exact))+n <= exactSamples:
		for range n {
			l.exact = append(l.exact, ns)
		}
	default:
		l.packed = hdr.NewPacked(histLowest, highest, histDigits)
		for _, v := range l.exact {
			_ = l.packed.RecordValue(toMicros(v, highest))
		}
		l.exact = nil
		l.recordN(ns, n, highest)
	}
}

// toMicros converts to the histogram's unit; a value above the range goes
// into the top bucket.
func toMicros(ns, highest int64) int64 {
	return min(ns/1000, highest)
}

func (l *latencies) reset() {
	l.exact = l.exact[:0]
	l.packed = nil // back to exact values; a full histogram is kept
	if l.hist != nil {
		l.hist.Reset()
	}
}

// histogram returns a histogram of microseconds that the caller owns.
func (l *latencies) histogram(highest int64) *hdr.Histogram {
	if l.hist != nil {
		return l.hist.Clone()
	}
	h := hdr.New(histLowest, highest, histDigits)
	if l.packed != nil {
		l.packed.MergeInto(h)
	}
	for _, v := range l.exact {
		_ = h.RecordValue(toMicros(v, highest))
	}
	return h
}

// percentiles returns the percentiles ps, never below minNs nor above maxNs
// (the exact extremes); p100 is the exact max.
func (l *latencies) percentiles(ps []float64, minNs, maxNs int64) []time.Duration {
	if l.hist != nil {
		return percentilesOf(l.hist, ps, minNs, maxNs)
	}
	if l.packed != nil {
		return clampPercentiles(l.packed.ValueAtPercentilesSlice(ps), ps, minNs, maxNs)
	}
	out := make([]time.Duration, len(ps))
	n := len(l.exact)
	if n == 0 {
		return out
	}
	slices.Sort(l.exact)
	for i, p := range ps {
		out[i] = time.Duration(l.exact[hdrRank(p, n)-1])
	}
	return out
}

// hdrRank is the rank (1-based) HDR histograms use for percentile p of n
// values: round(p/100 × n), at least 1 and at most n.
func hdrRank(p float64, n int) int {
	r := int(p/100*float64(n) + 0.5)
	return min(max(r, 1), n)
}

// percentilesOf reads percentiles (µs histogram) as durations clamped to
// [min, max] (nanoseconds), so that a percentile never exceeds the max nor
// falls below the min; p100 is the max.
func percentilesOf(h *hdr.Histogram, ps []float64, minNs, maxNs int64) []time.Duration {
	if h.TotalCount() == 0 {
		return make([]time.Duration, len(ps))
	}
	return clampPercentiles(h.ValueAtPercentilesSlice(ps), ps, minNs, maxNs)
}

// clampPercentiles turns percentiles of a µs histogram (vals, aligned with
// ps) into durations within [minNs, maxNs], p100 being maxNs.
func clampPercentiles(vals []int64, ps []float64, minNs, maxNs int64) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, v := range vals {
		ns := min(max(v*1000, minNs), maxNs)
		if ps[i] >= 100 {
			ns = maxNs
		}
		out[i] = time.Duration(ns)
	}
	return out
}

func (s *Stats) newEntry(typ, name string, aggregate bool) *entry {
	e := &entry{typ: typ, name: name}
	if aggregate || s.opts.CurrentPercentiles {
		e.window = newHistWindow(aggregate)
	}
	e.resetLocked(s.resetAt.Load())
	return e
}

func (e *entry) resetLocked(start int64) {
	e.lat.reset()
	e.reqs, e.fails, e.sum, e.length = 0, 0, uint128{}, 0
	e.min, e.max = 0, 0
	e.start, e.last = start, 0
	e.ring = [ringSize]secCount{}
	if e.window != nil {
		e.window.clear()
	}
}

// add records one sample; e.mu must be held.
func (e *entry) add(smp *sample, highest int64) {
	d := smp.dur
	if e.reqs == 0 || d < e.min {
		e.min = d
	}
	if e.reqs == 0 || smp.off > e.last {
		e.last = smp.off
	}
	e.max = max(e.max, d)
	e.reqs++
	e.sum.add(uint64(d))
	e.length += smp.length
	e.lat.record(d, highest)
	if smp.err != nil {
		e.fails++
	}
	sec := floorSec(smp.off)
	e.countSecond(sec, smp.err != nil)
	if e.window != nil {
		e.window.record(sec, d, highest)
	}
}

// countsLocked returns the counters of the entry (no percentiles nor
// current figures yet: see fill); e.mu must be held.
func (e *entry) countsLocked(s *Stats) EntryStats {
	st := EntryStats{
		Type: e.typ, Name: e.name,
		Requests: e.reqs, Failures: e.fails,
		TotalTime:      e.sum.duration(),
		TotalSeconds:   e.sum.seconds(),
		Min:            time.Duration(e.min),
		Max:            time.Duration(e.max),
		ContentLength:  e.length,
		Start:          s.wall(e.start),
		PercentileList: s.percentiles,
	}
	if e.reqs > 0 {
		st.Last = s.wall(e.last)
	}
	return st
}

// fill adds the percentiles, clamped to the Min and Max of st, and the
// current figures (when current: false before the first request of the
// run) as of now, an offset from Stats.base. It locks e.mu.
func (e *entry) fill(st *EntryStats, s *Stats, now int64, current bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st.PercentileValues = e.lat.percentiles(s.percentiles, int64(st.Min), int64(st.Max))
	if current {
		e.currentLocked(st, s, now)
	}
}

// eachBucket calls fn for every non-empty bucket of the response times, in
// ascending order, with the bucket's range in microseconds as the HDR
// histogram of the entry would give it (exact values are put in the bucket
// they would fall in), without building a full histogram.
func (l *latencies) eachBucket(highest int64, fn func(fromUs, toUs, count int64)) {
	switch {
	case l.hist != nil:
		for _, b := range l.hist.Distribution() {
			if b.Count > 0 {
				fn(b.From, b.To, b.Count)
			}
		}
	case l.packed != nil:
		l.packed.ForEachBucket(func(v, n int64) bool {
			if n > 0 {
				from, to := bucketOf(v)
				fn(from, to, n)
			}
			return true
		})
	default:
		us := make([]int64, len(l.exact))
		for i, ns := range l.exact {
			us[i] = toMicros(ns, highest)
		}
		slices.Sort(us)
		for i := 0; i < len(us); {
			from, to := bucketOf(us[i])
			j := i
			for j < len(us) && us[j] <= to {
				j++
			}
			fn(from, to, int64(j-i))
			i = j
		}
	}
}

// bucketOf is the range [from, to] of the HDR bucket holding the value us,
// for histograms of histLowest 1 and histDigits 3 (2,048 sub-buckets: a
// bucket is 1 wide below 2,048 µs and twice as wide at each doubling).
func bucketOf(us int64) (from, to int64) {
	shift := max(bits.Len64(uint64(us)|2047)-11, 0)
	size := int64(1) << shift
	from = us &^ (size - 1)
	return from, from + size - 1
}
