package shape_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/shape"
	"github.com/golocust/locust/threshold"
)

// The --stages syntax, and what the shape asks of the runner as the test
// goes on: ramp to 10 users over 30 s, to 100 over 2 min, back to 0 over
// 30 s, then stop.
func ExampleParseStages() {
	st, err := shape.ParseStages("30s:10,2m:100,30s:0")
	if err != nil {
		log.Fatal(err)
	}
	for _, at := range []time.Duration{0, 45 * time.Second, 160 * time.Second, 3 * time.Minute} {
		users, rate, ok := st.Tick(at)
		fmt.Printf("at %s: %d users at %.2f/s, running %v\n", at, users, rate, ok)
	}
	// Output:
	// at 0s: 10 users at 0.33/s, running true
	// at 45s: 100 users at 0.75/s, running true
	// at 2m40s: 0 users at 3.33/s, running true
	// at 3m0s: 0 users at 0.00/s, running false
}

// A shape written as a function: 5 users, 50 for a minute after the first
// one, then stop.
func ExampleFunc() {
	burst := shape.Func(func(elapsed time.Duration) (int, float64, bool) {
		switch {
		case elapsed < time.Minute:
			return 5, 0, true
		case elapsed < 2*time.Minute:
			return 50, 10, true
		}
		return 0, 0, false
	})
	fmt.Println(burst.Tick(90 * time.Second))
	// Output: 50 10 true
}

// The capacity search from code: step the users up by 10 until the p95
// goes over 300 ms or requests fail.
func ExampleSearch_Run() {
	user := &locust.UserType{Name: "User", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", "/", func(ctx context.Context) (int64, error) { return 0, nil })
	})}
	r, err := locust.NewRunner(locust.Config{}, user)
	if err != nil {
		log.Fatal(err)
	}
	ts, err := threshold.ParseAll([]string{"p95 < 300ms", "fail_ratio < 1%"})
	if err != nil {
		log.Fatal(err)
	}
	search := shape.Search{Thresholds: ts, StepUsers: 10, MaxUsers: 200, Hold: 10 * time.Second}
	r.Events().TestStart.Add(func(r *locust.Runner) {
		go func() {
			res, err := search.Run(context.Background(), r)
			if err != nil {
				log.Fatal(err)
			}
			res.Print(os.Stdout)
			r.Stop()
		}()
	})
	_ = r.Run(context.Background())
}
