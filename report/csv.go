package report

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golocust/locust"
)

// The headers Locust 2.x writes, byte for byte.
var (
	percentileHeaders = []string{"50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"}

	statsHeader = append([]string{
		"Type", "Name", "Request Count", "Failure Count", "Median Response Time",
		"Average Response Time", "Min Response Time", "Max Response Time",
		"Average Content Size", "Requests/s", "Failures/s",
	}, percentileHeaders...)

	historyHeader = append(append([]string{
		"Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s",
	}, percentileHeaders...),
		"Total Request Count", "Total Failure Count", "Total Median Response Time",
		"Total Average Response Time", "Total Min Response Time",
		"Total Max Response Time", "Total Average Content Size")

	failuresHeader   = []string{"Method", "Name", "Error", "Occurrences"}
	exceptionsHeader = []string{"Count", "Message", "Traceback", "Nodes"}
)

// newCSV returns a csv.Writer with Python's csv defaults (CRLF line ends).
func newCSV(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return cw
}

// WriteStatsCSV writes s as Locust's PREFIX_stats.csv: a header, one row per
// entry sorted by (name, method), then the "Aggregated" row with an empty
// Type. Response times are in milliseconds: the median and the percentiles
// as integers, the average, min and max as floats, formatted like Python's
// str(); Requests/s and Failures/s are whole-run rates
// (locust.EntryStats.TotalRPS). The percentiles of an entry without
// requests are "N/A". Line ends are CRLF, as Python's csv module writes them.
//
// It only reads s and is safe for concurrent use.
func WriteStatsCSV(w io.Writer, s *locust.Snapshot) error {
	cw := newCSV(w)
	if err := cw.Write(statsHeader); err != nil {
		return err
	}
	row := make([]string, 0, len(statsHeader))
	for _, e := range sortedEntries(s) {
		row = row[:0]
		row = append(row, e.Type, e.Name,
			strconv.FormatInt(e.Requests, 10), strconv.FormatInt(e.Failures, 10))
		row = appendSummary(row, e)
		row = append(row, pyFloat(e.TotalRPS(s.Total)), pyFloat(e.TotalFailPerSec(s.Total)))
		row = appendPercentiles(row, e, e.PercentileValues)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteStatsHistoryHeader writes the header line of Locust's
// PREFIX_stats_history.csv. Safe for concurrent use.
func WriteStatsHistoryHeader(w io.Writer) error {
	cw := newCSV(w)
	if err := cw.Write(historyHeader); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteStatsHistoryRows appends the rows of one point in time to a
// PREFIX_stats_history.csv: the Aggregated row only, or (fullHistory, as
// Locust's --csv-full-history) every entry sorted by (name, method) and then
// the Aggregated row. Timestamp is s.Time in whole epoch seconds, User Count
// is s.UserCount, Requests/s and Failures/s are the current (10 s window)
// rates with 6 decimals. The percentile columns are whole-run percentiles,
// except with fullHistory, where every row uses the current 10 s window
// (locust.EntryStats.CurrentPercentileValues; whole-run values are used for
// an entry that does not track them, see
// locust.StatsOptions.CurrentPercentiles). The Total columns are whole-run.
//
// It only reads s and is safe for concurrent use.
func WriteStatsHistoryRows(w io.Writer, s *locust.Snapshot, fullHistory bool) error {
	cw := newCSV(w)
	entries := []locust.EntryStats{s.Total}
	if fullHistory {
		entries = sortedEntries(s)
	}
	ts := strconv.FormatInt(s.Time.Unix(), 10)
	users := strconv.Itoa(s.UserCount)
	row := make([]string, 0, len(historyHeader))
	for _, e := range entries {
		row = row[:0]
		row = append(row, ts, users, e.Type, e.Name,
			strconv.FormatFloat(e.CurrentRPS, 'f', 6, 64),
			strconv.FormatFloat(e.CurrentFailPerSec, 'f', 6, 64))
		pcts := e.PercentileValues
		if fullHistory && e.CurrentPercentileValues != nil {
			pcts = e.CurrentPercentileValues
		}
		row = appendPercentiles(row, e, pcts)
		row = append(row, strconv.FormatInt(e.Requests, 10), strconv.FormatInt(e.Failures, 10))
		row = appendSummary(row, e)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteFailuresCSV writes s.Errors as Locust 2.12's PREFIX_failures.csv:
// Method,Name,Error,Occurrences, most frequent first. Safe for concurrent use.
func WriteFailuresCSV(w io.Writer, s *locust.Snapshot) error {
	cw := newCSV(w)
	if err := cw.Write(failuresHeader); err != nil {
		return err
	}
	for _, e := range s.Errors {
		if err := cw.Write([]string{e.Method, e.Name, e.Error, strconv.FormatInt(e.Occurrences, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteExceptionsCSV writes s.Exceptions as Locust's PREFIX_exceptions.csv:
// Count,Message,Traceback,Nodes, nodes joined by ", ". Line breaks inside a
// traceback are written as CRLF (encoding/csv with UseCRLF); CSV readers
// accept either. Safe for concurrent use.
func WriteExceptionsCSV(w io.Writer, s *locust.Snapshot) error {
	cw := newCSV(w)
	if err := cw.Write(exceptionsHeader); err != nil {
		return err
	}
	for _, e := range s.Exceptions {
		row := []string{strconv.FormatInt(e.Count, 10), e.Message, e.Traceback, strings.Join(e.Nodes, ", ")}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// sortedEntries returns the entries sorted by (name, method) followed by the
// aggregate. Snapshot.Entries is already in that order.
func sortedEntries(s *locust.Snapshot) []locust.EntryStats {
	out := make([]locust.EntryStats, 0, len(s.Entries)+1)
	out = append(out, s.Entries...)
	return append(out, s.Total)
}

// appendSummary appends median, average, min, max and average content size
// the way Locust prints them: integers 0 when there were no requests.
func appendSummary(row []string, e locust.EntryStats) []string {
	if e.Requests == 0 {
		return append(row, "0", "0", "0", "0", "0")
	}
	return append(row,
		msInt(e.Median()), msFloat(e.Avg()), msFloat(e.Min), msFloat(e.Max),
		pyFloat(e.AvgContentLength()))
}

func appendPercentiles(row []string, e locust.EntryStats, vals []time.Duration) []string {
	for i := range locust.Percentiles {
		switch {
		case e.Requests == 0:
			row = append(row, "N/A")
		case i < len(vals):
			row = append(row, msInt(vals[i]))
		default:
			row = append(row, "0")
		}
	}
	return row
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// msInt formats d as whole milliseconds, rounding half to even like Python.
func msInt(d time.Duration) string {
	return strconv.FormatInt(int64(math.RoundToEven(ms(d))), 10)
}

// msFloat formats d in milliseconds as Python's str(float) would.
func msFloat(d time.Duration) string { return pyFloat(ms(d)) }

// pyFloat formats f as Python's str(float): the shortest representation
// that reads back exactly, with ".0" for integral values and exponent form
// below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
