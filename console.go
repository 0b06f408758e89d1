package locust

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ms formats a duration in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func nameWidth(s *Snapshot) int {
	w := 40
	for _, e := range s.Entries {
		w = max(w, len(e.Name)+1)
	}
	return min(w, 80)
}

func clip(s string, w int) string {
	if len(s) <= w {
		return s
	}
	return s[:w-3] + "..."
}

// PrintStats writes Locust's stats table for s to w: one row per entry and
// the aggregate. current selects the current (10 s window) rates, as in the
// periodic table; otherwise the whole-run rates of the final table.
// Safe for concurrent use (it only reads s).
func PrintStats(w io.Writer, s *Snapshot, current bool) {
	nw := nameWidth(s)
	head := fmt.Sprintf("%-8s %-*s %7s %14s | %7s %7s %7s %7s | %8s %11s", "Type", nw, "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
	sep := strings.Repeat("-", 8) + "|" + strings.Repeat("-", nw+1) + "|" + strings.Repeat("-", 8) + "|" + strings.Repeat("-", 15) + "|" +
		strings.Repeat("-", 8) + "|" + strings.Repeat("-", 8) + "|" + strings.Repeat("-", 8) + "|" + strings.Repeat("-", 8) + "|" + strings.Repeat("-", 9) + "|" + strings.Repeat("-", 12)
	var b strings.Builder
	b.WriteString(head + "\n" + sep + "\n")
	row := func(e EntryStats) {
		rps, fps := e.CurrentRPS, e.CurrentFailPerSec
		if !current {
			rps, fps = e.TotalRPS(s.Total), e.TotalFailPerSec(s.Total)
		}
		fails := fmt.Sprintf("%d(%.2f%%)", e.Failures, 100*e.FailRatio())
		fmt.Fprintf(&b, "%-8s %-*s %7d %14s | %7s %7s %7s %7s | %8.2f %11.2f\n",
			clip(e.Type, 8), nw, clip(e.Name, nw), e.Requests, fails,
			ms(e.Avg()), ms(e.Min), ms(e.Max), ms(e.Median()), rps, fps)
	}
	for _, e := range s.Entries {
		row(e)
	}
	b.WriteString(sep + "\n")
	row(s.Total)
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// PrintPercentiles writes the response-time percentiles table (ms).
// Safe for concurrent use.
func PrintPercentiles(w io.Writer, s *Snapshot) {
	nw := nameWidth(s)
	var b strings.Builder
	if s.RoundedRequests > 0 {
		fmt.Fprintf(&b, "Response time percentiles (ms; HDR histogram, 3 significant digits, but %d requests came from Locust's rounded buckets)\n", s.RoundedRequests)
	} else {
		b.WriteString("Response time percentiles (ms; HDR histogram, 3 significant digits)\n")
	}
	fmt.Fprintf(&b, "%-8s %-*s", "Type", nw, "Name")
	for _, p := range Percentiles {
		fmt.Fprintf(&b, " %7s", formatPercent(p))
	}
	fmt.Fprintf(&b, " %7s\n", "# reqs")
	sep := strings.Repeat("-", 8) + "|" + strings.Repeat("-", nw+1) + "|" + strings.Repeat("-", 8*len(Percentiles)) + "|" + strings.Repeat("-", 8)
	b.WriteString(sep + "\n")
	row := func(e EntryStats) {
		fmt.Fprintf(&b, "%-8s %-*s", clip(e.Type, 8), nw, clip(e.Name, nw))
		for _, p := range Percentiles {
			d, _ := e.Percentile(p)
			fmt.Fprintf(&b, " %7s", ms(d))
		}
		fmt.Fprintf(&b, " %7d\n", e.Requests)
	}
	for _, e := range s.Entries {
		row(e)
	}
	b.WriteString(sep + "\n")
	row(s.Total)
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

func formatPercent(p float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%g", p), ".0") + "%"
}

// PrintErrors writes the error report (failures) and the exceptions, if
// any. Safe for concurrent use.
func PrintErrors(w io.Writer, s *Snapshot) {
	var b strings.Builder
	if len(s.Errors) > 0 {
		b.WriteString("Error report\n")
		fmt.Fprintf(&b, "%-18s %s\n", "# occurrences", "Error")
		b.WriteString(strings.Repeat("-", 100) + "\n")
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "%-18d %s %s: %s\n", e.Occurrences, e.Method, e.Name, e.Error)
		}
		b.WriteString(strings.Repeat("-", 100) + "\n\n")
	}
	if len(s.Exceptions) > 0 {
		b.WriteString("Exceptions in user code\n")
		fmt.Fprintf(&b, "%-18s %s\n", "# occurrences", "Message")
		b.WriteString(strings.Repeat("-", 100) + "\n")
		for _, e := range s.Exceptions {
			fmt.Fprintf(&b, "%-18d %s\n", e.Count, e.Message)
		}
		b.WriteString(strings.Repeat("-", 100) + "\n\n")
	}
	io.WriteString(w, b.String())
}

// printSummary writes the final summary: the stats table with whole-run
// rates, the percentiles, the errors, and how many requests the stop cut
// short when there were any.
func printSummary(w io.Writer, s *Snapshot) {
	PrintStats(w, s, false)
	PrintPercentiles(w, s)
	PrintErrors(w, s)
	PrintCutShort(w, s)
	PrintDropped(w, s)
}

// PrintCutShort writes one line saying how many requests were cut short by
// the stop of the test (Snapshot.CutShort), or nothing when none were.
// Safe for concurrent use.
func PrintCutShort(w io.Writer, s *Snapshot) {
	if s.CutShort == 0 {
		return
	}
	noun := "requests were"
	if s.CutShort == 1 {
		noun = "request was"
	}
	fmt.Fprintf(w, "%d %s cut short by the stop (in flight when the test stopped: in no entry above, as in Locust)\n\n", s.CutShort, noun)
}

// PrintDropped writes one line saying how many open-model iterations were
// dropped for want of a free user (Snapshot.Dropped), or nothing when none
// were. Safe for concurrent use.
func PrintDropped(w io.Writer, s *Snapshot) {
	if s.Late > 0 {
		fmt.Fprintf(w, "%d iterations waited for a free user (--arrival-wait) and started late: their requests' times include the wait\n\n", s.Late)
	}
	if s.Dropped == 0 {
		return
	}
	noun := "iterations were"
	if s.Dropped == 1 {
		noun = "iteration was"
	}
	fmt.Fprintf(w, "%d %s dropped: due when no user was free (raise --max-users, or the target is too slow)\n\n", s.Dropped, noun)
}
