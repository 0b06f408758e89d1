package webui

import (
	"bytes"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/report"
)

// maxPoints is how many chart points a test keeps; beyond it every other
// point is dropped (the chart still spans the whole run, with coarser
// points), so that a soak test does not grow without bound.
const maxPoints = 3600

// maxHistoryCSV caps the stats history CSV kept for the download.
const maxHistoryCSV = 32 << 20

// point is one chart point. Times are epoch milliseconds, response times
// milliseconds; Avg holds each charted entry's average response time over
// the requests that ended since the previous point (-1: none).
type point struct {
	T     int64     `json:"t"`
	Users int       `json:"users"`
	RPS   float64   `json:"rps"`
	FPS   float64   `json:"fps"`
	P50   float64   `json:"p50"`
	P95   float64   `json:"p95"`
	Avg   []float64 `json:"avg"`
}

// entryKey names an entry.
type entryKey struct{ typ, name string }

// totals are an entry's whole-run totals at the previous point.
type totals struct {
	n int64
	t time.Duration
}

// history is a test's chart points and stats history CSV. Not safe for
// concurrent use (Extension.mu guards it).
type history struct {
	gen      int // changes when points are dropped
	maxNames int
	start    time.Time
	points   []point
	samples  []report.Sample // for the HTML report's charts
	names    []entryKey
	index    map[entryKey]int
	prev     map[entryKey]totals
	csv      bytes.Buffer
	csvFull  bool
	lastSec  int64
}

func newHistory(maxNames int) *history {
	h := &history{maxNames: maxNames, index: map[entryKey]int{}, prev: map[entryKey]totals{}}
	_ = report.WriteStatsHistoryHeader(&h.csv)
	return h
}

// add appends a point for s. final replaces a point of the same second.
func (h *history) add(s *locust.Snapshot, final bool) {
	if h.start.IsZero() {
		h.start = s.Time
	}
	smp := report.NewSample(s)
	p := point{
		T:     s.Time.UnixMilli(),
		Users: smp.UserCount,
		RPS:   smp.CurrentRPS,
		FPS:   smp.CurrentFailPerSec,
		P50:   ms(smp.P50),
		P95:   ms(smp.P95),
	}
	for _, es := range s.Entries {
		k := entryKey{es.Type, es.Name}
		if _, ok := h.index[k]; !ok && len(h.names) < h.maxNames {
			h.index[k] = len(h.names)
			h.names = append(h.names, k)
		}
	}
	p.Avg = make([]float64, len(h.names))
	for i := range p.Avg {
		p.Avg[i] = -1
	}
	for _, es := range s.Entries {
		k := entryKey{es.Type, es.Name}
		i, ok := h.index[k]
		if !ok {
			continue
		}
		prev := h.prev[k]
		if es.Requests < prev.n { // stats were reset
			prev = totals{}
		}
		if n := es.Requests - prev.n; n > 0 {
			p.Avg[i] = ms((es.TotalTime - prev.t) / time.Duration(n))
		}
		h.prev[k] = totals{es.Requests, es.TotalTime}
	}
	sec := s.Time.Unix()
	if final && len(h.points) > 0 && h.points[len(h.points)-1].T/1000 == sec {
		h.points[len(h.points)-1] = p
		h.samples[len(h.samples)-1] = smp
	} else {
		h.points = append(h.points, p)
		h.samples = append(h.samples, smp)
	}
	if len(h.points) > maxPoints {
		kept := h.points[:0]
		for i, q := range h.points {
			if i%2 == 0 || i == len(h.points)-1 {
				kept = append(kept, q)
			}
		}
		h.points = kept
		ks := h.samples[:0]
		for i, q := range h.samples {
			if i%2 == 0 || i == len(h.samples)-1 {
				ks = append(ks, q)
			}
		}
		h.samples = ks
		h.gen++
	}
	if sec != h.lastSec && !h.csvFull {
		h.lastSec = sec
		_ = report.WriteStatsHistoryRows(&h.csv, s, false)
		h.csvFull = h.csv.Len() > maxHistoryCSV
	}
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
