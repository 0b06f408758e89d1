package locust

import (
	"strings"
	"time"
)

// RemoteEntry is one entry of a report from another process (a cluster
// worker): the requests of one (Type, Name) since its previous report. It
// is plain data.
type RemoteEntry struct {
	Type, Name         string
	Requests, Failures int64
	TotalTime          time.Duration
	Min, Max           time.Duration // Min is ignored when Requests is 0
	ContentLength      int64
	// Buckets counts the response times by value (Locust's rounded
	// milliseconds: key in ms, value the count); each bucket's requests
	// are recorded at the bucket's value.
	Buckets map[int64]int64
	// Times, when not nil, replaces Buckets with precise response times:
	// key in nanoseconds, value the count, recorded as given (a Go
	// worker sends its exact times, or its HDR buckets' lowest values),
	// so that the percentiles are those of one process that recorded the
	// same requests. Requests merged from Buckets are counted in
	// Snapshot.RoundedRequests instead.
	Times map[int64]int64
	// RequestsPerSec and FailuresPerSec count the requests and failures
	// by the unix second they ended in; they feed the current rates.
	RequestsPerSec, FailuresPerSec map[int64]int64
}

// RemoteError is one row of another process's failure table: Count
// failures of (Method, Name) with the error text Text. It is plain data.
type RemoteError struct {
	Method, Name, Text string
	Count              int64
}

// Merge adds a report from another process to the statistics, as if its
// requests had been recorded here: each entry's counts, times, content
// length, response-time buckets and per-second counts go into the entry of
// the same (Type, Name) and into the aggregate, and each error into the
// failures table. An entry that cannot be right (no request, a negative
// count, more failures than requests) is skipped with the errors of its
// (Type, Name) in the same report: a failure is never in the failures
// table without its request in the entries. It does not
// touch the recording path; safe for concurrent use with recording and
// Snapshot.
func (s *Stats) Merge(entries []RemoteEntry, errs []RemoteError) {
	now := s.elapsed()
	var refused map[[2]string]bool
	s.fold.RLock()
	for i := range entries {
		re := &entries[i]
		if re.Requests <= 0 || re.Failures < 0 || re.Failures > re.Requests {
			if re.Requests != 0 || re.Failures != 0 {
				if refused == nil {
					refused = make(map[[2]string]bool)
				}
				refused[[2]string{re.Type, re.Name}] = true
			}
			continue
		}
		if re.Times == nil && len(re.Buckets) > 0 {
			s.rounded.Add(re.Requests)
		}
		e := s.lookup(re.Type, re.Name)
		e.mu.Lock()
		e.merge(re, s, now)
		e.mu.Unlock()
		s.total.mu.Lock()
		s.total.merge(re, s, now)
		s.total.mu.Unlock()
	}
	s.fold.RUnlock()
	if len(errs) == 0 {
		return
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	for _, re := range errs {
		if re.Count <= 0 || refused[[2]string{re.Method, re.Name}] {
			continue
		}
		e := s.lookup(re.Method, re.Name)
		ee, ok := s.errors[errorKey{e, re.Text}]
		if !ok {
			ee = &errorEntry{method: e.typ, name: e.name, msg: strings.Clone(re.Text), first: now, last: now}
			s.errors[errorKey{e, ee.msg}] = ee
		}
		ee.count += re.Count
		ee.last = max(ee.last, now)
	}
}

// merge adds a remote entry; e.mu must be held. now is the offset of the
// merge from Stats.base.
func (e *entry) merge(re *RemoteEntry, s *Stats, now int64) {
	mn, mx := max(int64(re.Min), 0), max(int64(re.Max), 0)
	if e.reqs == 0 || mn < e.min {
		e.min = mn
	}
	e.max = max(e.max, mx)
	e.reqs += re.Requests
	e.fails += re.Failures
	e.sum.add(uint64(max(re.TotalTime, 0)))
	e.length += re.ContentLength
	var latest int64 = -1 << 62
	for sec, n := range re.RequestsPerSec {
		if n <= 0 {
			continue
		}
		// the local second holding the end of the remote one, not later
		// than now: unix seconds and the run's seconds are not aligned
		local := min(floorSec((sec+1)*int64(time.Second)-1-s.baseWall), floorSec(now))
		e.countSeconds(local, n, re.FailuresPerSec[sec])
		latest = max(latest, local)
	}
	last := now
	if latest > -1<<62 {
		last = min(now, (latest+1)*int64(time.Second)-1)
	} else {
		latest = floorSec(now)
	}
	e.last = max(e.last, last)
	buckets, unit := re.Buckets, int64(time.Millisecond)
	if re.Times != nil {
		buckets, unit = re.Times, 1
	}
	for v, n := range buckets {
		if n <= 0 {
			continue
		}
		ns := max(v, 0) * unit
		e.lat.recordN(ns, n, s.highest)
		if e.window != nil {
			e.window.recordN(latest, ns, n, s.highest)
		}
	}
}

// countSeconds adds reqs requests and fails failures to second sec.
func (e *entry) countSeconds(sec, reqs, fails int64) {
	c := &e.ring[ringIndex(sec)]
	if c.sec < sec {
		*c = secCount{sec: sec}
	}
	if c.sec == sec {
		c.reqs += reqs
		c.fails += max(fails, 0)
	}
}

// recordN records n response times of ns nanoseconds in second sec.
func (w *histWindow) recordN(sec, ns, n, highest int64) {
	w.record(sec, ns, highest)
	if n <= 1 {
		return
	}
	i := ringIndex(sec)
	if w.secs[i] != sec {
		return
	}
	us := toMicros(ns, highest)
	if w.isPlain {
		_ = w.plain[i].RecordValues(us, n-1)
		return
	}
	_ = w.hists[i].RecordValues(us, n-1)
}
