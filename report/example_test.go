package report_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/threshold"
)

// WriteStatsCSV writes Locust's PREFIX_stats.csv from any snapshot; here
// one made on a fixed clock so that the output is stable.
func ExampleWriteStatsCSV() {
	start := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := start
	stats := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return clock }})
	stats.Record(locust.Request{Type: "GET", Name: "/", Start: start, Duration: 40 * time.Millisecond, Length: 512})
	stats.Record(locust.Request{Type: "GET", Name: "/", Start: start.Add(time.Second), Duration: 60 * time.Millisecond, Length: 512})
	stats.Record(locust.Request{Type: "POST", Name: "/login", Start: start.Add(1500 * time.Millisecond),
		Duration: 500 * time.Millisecond, Err: errors.New("HTTP 401")})
	clock = start.Add(2 * time.Second)

	var b strings.Builder
	if err := report.WriteStatsCSV(&b, stats.Snapshot()); err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(b.String(), "\r\n", "\n")) // the file has CRLF line ends
	// Output:
	// Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
	// GET,/,2,0,40,50.0,40.0,60.0,512.0,1.0,0.0,40,40,60,60,60,60,60,60,60,60,60
	// POST,/login,1,1,500,500.0,500.0,500.0,0.0,0.5,0.5,500,500,500,500,500,500,500,500,500,500,500
	// ,Aggregated,3,1,60,200.0,40.0,500.0,341.3333333333333,1.5,0.5,60,60,60,60,500,500,500,500,500,500,500
}

// The extension gives a load test program Locust's --csv, --json,
// --json-file and --html, and --compare with an earlier run. List the
// threshold extension first so that its results are in the reports.
func ExampleNewExtension() {
	th := threshold.NewExtension()
	cmd := &locust.Command{
		Users: []*locust.UserType{{
			Name: "demo",
			Wait: locust.Constant(100 * time.Millisecond),
			Tasks: locust.NewTaskSet("demo").Task(1, func(ctx context.Context, u *locust.User) error {
				u.RecordSuccess("GET", "/", 5*time.Millisecond, 100)
				return nil
			}),
		}},
		Extensions: []locust.Extension{th, report.NewExtension(report.WithThresholds(th))},
	}
	// e.g. demo --headless -u 10 -t 1m --csv out/run --html out/run.html \
	//      --json-file out/run.json --compare out/last.json --threshold "p95 < 300ms"
	_ = func() { os.Exit(cmd.Run(context.Background(), os.Args[1:])) }
}
