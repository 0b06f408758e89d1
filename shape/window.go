package shape

import (
	"cmp"
	"math"
	"slices"
	"time"

	locust "github.com/golocust/locust"
)

// bucket is one non-empty bucket of an entry's response times (µs).
type bucket struct{ from, to, count int64 }

// mark is the statistics at one moment: the snapshot and every entry's
// buckets, so that the figures of the time between two marks can be told.
type mark struct {
	snap    *locust.Snapshot
	buckets map[[2]string]map[int64]bucket
}

func takeMark(r *locust.Runner) mark {
	s := r.Snapshot()
	m := mark{snap: s, buckets: make(map[[2]string]map[int64]bucket, len(s.Entries)+1)}
	read := func(typ, name string) {
		bs := map[int64]bucket{}
		r.Stats().EachBucket(typ, name, func(from, to, n int64) { bs[from] = bucket{from, to, n} })
		m.buckets[[2]string{typ, name}] = bs
	}
	read("", "")
	for _, e := range s.Entries {
		read(e.Type, e.Name)
	}
	return m
}

// between returns a snapshot of what happened from a to b: counts, times
// and percentiles of the requests recorded in between, with Start at a and
// Last at b so that the rates are over the window.
func between(a, b mark) *locust.Snapshot {
	out := &locust.Snapshot{Time: b.snap.Time, UserCount: b.snap.UserCount}
	list := b.snap.Total.PercentileList
	delta := func(typ, name string, now, before locust.EntryStats) locust.EntryStats {
		e := locust.EntryStats{
			Type:           now.Type,
			Name:           now.Name,
			Requests:       now.Requests - before.Requests,
			Failures:       now.Failures - before.Failures,
			TotalTime:      now.TotalTime - before.TotalTime,
			TotalSeconds:   now.TotalSeconds - before.TotalSeconds,
			ContentLength:  now.ContentLength - before.ContentLength,
			Start:          a.snap.Time,
			Last:           b.snap.Time,
			PercentileList: list,
		}
		key := [2]string{typ, name}
		var bs []bucket
		for from, nb := range b.buckets[key] {
			n := nb.count - a.buckets[key][from].count
			if n > 0 {
				bs = append(bs, bucket{from, nb.to, n})
			}
		}
		slices.SortFunc(bs, func(x, y bucket) int { return cmp.Compare(x.from, y.from) })
		if len(bs) > 0 {
			e.Min = time.Duration(bs[0].from) * time.Microsecond
			e.Max = time.Duration(bs[len(bs)-1].to) * time.Microsecond
			// the exact extremes of the whole run are the best bounds when
			// they fall inside the window's buckets
			if now.Min > e.Min && now.Min <= e.Max {
				e.Min = now.Min
			}
			if now.Max < e.Max && now.Max >= e.Min {
				e.Max = now.Max
			}
		}
		e.PercentileValues = percentiles(bs, list, e.Min, e.Max)
		if secs := b.snap.Time.Sub(a.snap.Time).Seconds(); secs > 0 {
			e.CurrentRPS = float64(e.Requests) / secs
			e.CurrentFailPerSec = float64(e.Failures) / secs
		}
		return e
	}
	out.Total = delta("", "", b.snap.Total, a.snap.Total)
	for _, now := range b.snap.Entries {
		before, _ := a.snap.Entry(now.Type, now.Name)
		if now.Requests-before.Requests > 0 {
			out.Entries = append(out.Entries, delta(now.Type, now.Name, now, before))
		}
	}
	return out
}

// percentiles reads each of list (0..100) from the sorted buckets, as the
// upper end of the bucket holding it, kept within [lo, hi].
func percentiles(bs []bucket, list []float64, lo, hi time.Duration) []time.Duration {
	var total int64
	for _, b := range bs {
		total += b.count
	}
	out := make([]time.Duration, len(list))
	if total == 0 {
		return out
	}
	for i, p := range list {
		want := max(int64(math.Ceil(p/100*float64(total))), 1)
		var seen int64
		v := hi
		for _, b := range bs {
			seen += b.count
			if seen >= want {
				v = time.Duration(b.to) * time.Microsecond
				break
			}
		}
		out[i] = min(max(v, lo), hi)
	}
	return out
}
