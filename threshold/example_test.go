package threshold_test

import (
	"context"
	"fmt"
	"os"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

func ExampleParse() {
	t, err := threshold.Parse("GET /home: P99.9<1500")
	if err != nil {
		panic(err)
	}
	fmt.Println(t)
	fmt.Printf("type %q, name %q, metric %s, %s %g ms\n", t.Type, t.Name, t.MetricName(), t.Op, t.Value)
	fmt.Println(t.Percentiles())

	_, err = threshold.Parse("p95 < abc")
	fmt.Println(err)
	// Output:
	// GET /home: p99.9 < 1.5s
	// type "GET", name "/home", metric p99.9, < 1500 ms
	// [99.9]
	// threshold "p95 < abc": invalid value "abc" (want a duration such as 300ms or 1.5s, or a number of milliseconds)
}

func ExampleEvaluate() {
	ts, err := threshold.ParseAll([]string{"p95 < 300ms", "fail_ratio < 1%", "/login: max < 1s"})
	if err != nil {
		panic(err)
	}
	// A snapshot as Runner.Snapshot returns it, built by hand here.
	home := locust.EntryStats{
		Type: "GET", Name: "/home", Requests: 1000, Failures: 20,
		Max:            400 * time.Millisecond,
		PercentileList: []float64{50, 95},
		PercentileValues: []time.Duration{
			80 * time.Millisecond, 250 * time.Millisecond,
		},
	}
	s := &locust.Snapshot{Entries: []locust.EntryStats{home}, Total: home}
	rs := threshold.Evaluate(ts, s)
	for _, r := range rs {
		fmt.Printf("%-18s %-22s pass=%t missing=%t\n", r.Threshold, r.ActualText, r.Pass, r.Missing)
	}
	fmt.Println("all pass:", threshold.AllPass(rs))
	// Output:
	// p95 < 300ms        250ms                  pass=true missing=false
	// fail_ratio < 1%    2%                     pass=false missing=false
	// /login: max < 1s   no requests to /login  pass=false missing=true
	// all pass: false
}

func ExamplePrintResults() {
	ts, _ := threshold.ParseAll([]string{"avg < 200ms", "requests >= 100"})
	s := &locust.Snapshot{Total: locust.EntryStats{Name: "Aggregated", Requests: 50, TotalTime: 50 * 120 * time.Millisecond}}
	threshold.PrintResults(os.Stdout, threshold.Evaluate(ts, s))
	// Output:
	// Threshold        Actual  Result
	// ---------------  ------  ------
	// avg < 200ms      120ms   PASS
	// requests >= 100  50      FAIL
	// Thresholds: 1 of 2 passed
}

// A load test program whose command line takes --threshold flags; a
// failed threshold makes it exit with threshold.ExitCode:
//
//	./loadtest --headless -u 50 -t 5m --threshold "p95 < 300ms" --threshold "fail_ratio < 1%" --threshold-abort
func ExampleNewExtension() {
	user := &locust.UserType{
		Name: "Website",
		Tasks: locust.NewTaskSet("browse").Task(1, func(ctx context.Context, u *locust.User) error {
			return u.Measure(ctx, "GET", "/home", func(ctx context.Context) (int64, error) {
				return 0, nil // call the system under test here
			})
		}),
	}
	ext := threshold.NewExtension()
	// thresholds may also be set in code, in addition to the flags
	if err := ext.Add("GET /home: p99 < 1s"); err != nil {
		panic(err)
	}
	cmd := &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{ext}}
	_ = cmd // os.Exit(cmd.Run(context.Background(), os.Args[1:]))
}
