package report_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"regexp"
	"testing"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/report"
)

// hostileSnapshot records requests, a failure and an exception whose
// method, name, error and message are the fuzzed texts.
func hostileSnapshot(method, name, errText, msg string) *locust.Snapshot {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	st := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return now }})
	st.Record(locust.Request{Type: method, Name: name, Start: t0, Duration: 3 * time.Millisecond, Length: 10})
	st.Record(locust.Request{Type: method, Name: name, Start: t0.Add(time.Second), Duration: 9 * time.Millisecond,
		Err: errors.New(errText)})
	st.Record(locust.Request{Type: "GET", Name: "/plain", Start: t0, Duration: time.Millisecond})
	st.RecordException(msg, "goroutine 1:\n"+msg+"\n", name)
	now = t0.Add(2 * time.Second)
	return st.Snapshot()
}

// readCSV parses a written CSV back and checks its shape: rows records,
// each with as many fields as the header.
func readCSV(t *testing.T, what string, b []byte, rows int) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 0 // as many as the header
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s does not parse back: %v\n%q", what, err, b)
	}
	if len(recs) != rows {
		t.Fatalf("%s: %d records, want %d\n%q", what, len(recs), rows, b)
	}
}

var scriptTag = regexp.MustCompile(`(?i)<\s*/?\s*script`)

// FuzzWritersHostileText feeds the CSV and HTML writers request names,
// methods, error texts and exception messages with commas, quotes, line
// breaks, <script> and bytes that are not UTF-8: they never panic, every
// CSV parses back with encoding/csv to the rows written, and the HTML has
// no script tag that the input brought.
func FuzzWritersHostileText(f *testing.F) {
	f.Add("GET", "/a,b", `HTTP 500 "oops", again`, "panic: x")
	f.Add("POST", "/x?q=<script>alert(1)</script>", "</script><script>alert(2)</script>", "<SCRIPT src=//x>")
	f.Add("G\"ET", "line\nbreak\r\nand\rcr", "err\nwith\nlines", "msg\r\n")
	f.Add("\xff\xfe", "/\xc3\x28bad-utf8", "\x00nul", "\xed\xa0\x80")
	f.Add("", "", "", "")
	f.Add("GET", "\"", "\"\"", ",")
	f.Add("GET", "</ScRiPt >", "<!--<script>", "]]><script>")
	base := report.WriteHTML
	var baseline int
	{
		var b bytes.Buffer
		if err := base(&b, report.ReportInput{Snapshot: hostileSnapshot("GET", "/a", "e", "m")}); err != nil {
			f.Fatal(err)
		}
		baseline = len(scriptTag.FindAllIndex(b.Bytes(), -1))
	}
	f.Fuzz(func(t *testing.T, method, name, errText, msg string) {
		s := hostileSnapshot(method, name, errText, msg)

		var b bytes.Buffer
		if err := report.WriteStatsCSV(&b, s); err != nil {
			t.Fatal(err)
		}
		readCSV(t, "stats CSV", b.Bytes(), 1+len(s.Entries)+1)
		b.Reset()
		if err := report.WriteFailuresCSV(&b, s); err != nil {
			t.Fatal(err)
		}
		readCSV(t, "failures CSV", b.Bytes(), 1+len(s.Errors))
		b.Reset()
		if err := report.WriteExceptionsCSV(&b, s); err != nil {
			t.Fatal(err)
		}
		readCSV(t, "exceptions CSV", b.Bytes(), 1+len(s.Exceptions))
		b.Reset()
		if err := report.WriteStatsHistoryHeader(&b); err != nil {
			t.Fatal(err)
		}
		if err := report.WriteStatsHistoryRows(&b, s, true); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(bytes.NewReader(b.Bytes()))
		if _, err := r.ReadAll(); err != nil {
			t.Fatalf("history CSV does not parse back: %v\n%q", err, b.Bytes())
		}

		b.Reset()
		if err := report.WriteHTML(&b, report.ReportInput{Title: name, Host: errText, Snapshot: s}); err != nil {
			t.Fatal(err)
		}
		if n := len(scriptTag.FindAllIndex(b.Bytes(), -1)); n != baseline {
			t.Fatalf("the HTML has %d script tags, %d without the input's text (method %q, name %q, error %q, msg %q)",
				n, baseline, method, name, errText, msg)
		}
	})
}
