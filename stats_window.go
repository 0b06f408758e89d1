package locust

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

const (
	// the current-rate window: the whole seconds that began in the last
	// 10 s, the current (partial) one included, like Locust's 10 s window
	// but ending now, not a few seconds ago.
	windowSeconds = 10
	// per-second rings: the window's seconds plus slack, a power of two.
	ringSize = 16
	// slots of the per-second histograms of the current percentiles.
	windowSlots = ringSize
)

// secCount counts the requests that ended in one second of the run.
type secCount struct {
	sec   int64
	reqs  int64
	fails int64
}

// floorSec is the second of the run (since Stats.base, on the monotonic
// clock) that an offset in nanoseconds falls in; negative before the base.
func floorSec(off int64) int64 {
	sec := off / int64(time.Second)
	if off < 0 && off%int64(time.Second) != 0 {
		sec--
	}
	return sec
}

// ringIndex is the slot of second sec in a ring of ringSize slots; the
// unsigned modulo of a power of two keeps negative seconds in the ring.
func ringIndex(sec int64) int {
	return int(uint64(sec) % ringSize)
}

func (e *entry) countSecond(sec int64, failed bool) {
	c := &e.ring[ringIndex(sec)]
	if c.sec < sec {
		*c = secCount{sec: sec}
	}
	if c.sec == sec { // an older second than the slot holds is out of every window
		c.reqs++
		if failed {
			c.fails++
		}
	}
}

// currentLocked fills the current rates and percentiles of st: the
// seconds from now-10 s to now (not before the entry's start), divided by
// the time they cover up to now (at least one second). e.mu must be held.
func (e *entry) currentLocked(st *EntryStats, s *Stats, now int64) {
	to := floorSec(now)
	from := max(to-windowSeconds, floorSec(e.start))
	var reqs, fails int64
	for sec := from; sec <= to; sec++ {
		if c := e.ring[ringIndex(sec)]; c.sec == sec {
			reqs += c.reqs
			fails += c.fails
		}
	}
	span := float64(now-max(from*int64(time.Second), e.start)) / float64(time.Second)
	span = max(span, 1)
	st.CurrentRPS = float64(reqs) / span
	st.CurrentFailPerSec = float64(fails) / span
	if e.window != nil {
		st.CurrentPercentileValues = e.window.percentiles(from, to, s.percentiles, s.highest)
	}
}

// histWindow holds one histogram per second for the current window, with
// the exact min and max of each second: compact (packed) ones for the
// entries, made on first use, and plain ones, faster to record into but
// larger, for the aggregate, which every request goes through.
type histWindow struct {
	secs     [windowSlots]int64
	min, max [windowSlots]int64 // nanoseconds
	hists    [windowSlots]*hdr.PackedHistogram
	plain    [windowSlots]*hdr.Histogram
	isPlain  bool
	tmp      *hdr.Histogram       // scratch of a plain window (the aggregate's)
	ptmp     *hdr.PackedHistogram // scratch of a packed one: small, per entry
}

func newHistWindow(plain bool) *histWindow {
	w := &histWindow{isPlain: plain}
	w.clear()
	return w
}

func (w *histWindow) clear() {
	for i := range w.secs {
		w.secs[i] = -1 << 62
		w.resetSlot(i)
	}
}

func (w *histWindow) resetSlot(i int) {
	w.min[i], w.max[i] = 0, 0
	if w.plain[i] != nil {
		w.plain[i].Reset()
	}
	if w.hists[i] != nil {
		w.hists[i].Reset()
	}
}

func (w *histWindow) record(sec, ns, highest int64) {
	i := ringIndex(sec)
	if w.secs[i] > sec {
		return
	}
	if w.secs[i] != sec {
		w.resetSlot(i)
		w.secs[i] = sec
		w.min[i], w.max[i] = ns, ns
	}
	w.min[i] = min(w.min[i], ns)
	w.max[i] = max(w.max[i], ns)
	us := toMicros(ns, highest)
	if w.isPlain {
		if w.plain[i] == nil {
			w.plain[i] = hdr.New(histLowest, highest, histDigits)
		}
		_ = w.plain[i].RecordValue(us)
		return
	}
	if w.hists[i] == nil {
		w.hists[i] = hdr.NewPacked(histLowest, highest, histDigits)
	}
	_ = w.hists[i].RecordValue(us)
}

// percentiles merges the seconds from..to and reads ps from them, clamped
// to the exact min and max of those seconds; zeros when they are empty.
func (w *histWindow) percentiles(from, to int64, ps []float64, highest int64) []time.Duration {
	var mn, mx int64
	first := true
	add := func(i int) {
		if first {
			mn, mx, first = w.min[i], w.max[i], false
		}
		mn, mx = min(mn, w.min[i]), max(mx, w.max[i])
	}
	if !w.isPlain {
		// an entry's window merges into a packed scratch: a full one would
		// cost every entry about 190 KiB
		if w.ptmp == nil {
			w.ptmp = hdr.NewPacked(histLowest, highest, histDigits)
		}
		p := w.ptmp
		p.Reset()
		for i, s := range w.secs {
			if s < from || s > to || w.hists[i] == nil {
				continue
			}
			p.Merge(w.hists[i])
			add(i)
		}
		if p.TotalCount() == 0 {
			return make([]time.Duration, len(ps))
		}
		return clampPercentiles(p.ValueAtPercentilesSlice(ps), ps, mn, mx)
	}
	if w.tmp == nil {
		w.tmp = hdr.New(histLowest, highest, histDigits)
	}
	h := w.tmp
	h.Reset()
	for i, s := range w.secs {
		if s < from || s > to || w.plain[i] == nil {
			continue
		}
		h.Merge(w.plain[i])
		add(i)
	}
	return percentilesOf(h, ps, mn, mx)
}
