package locust_test

import (
	"context"
	"fmt"
	"time"

	"github.com/golocust/locust"
)

// An open-model test: 50 iterations a second for 10 s, each a task pick of
// a free user among at most 20; the latencies are timed from each
// iteration's intended start, the service times are kept apart.
func ExampleConfig_arrivalRate() {
	typ := &locust.UserType{Name: "Buyer", Tasks: locust.NewTaskSet("buy").Task(1, func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", "/item", func(ctx context.Context) (int64, error) {
			time.Sleep(5 * time.Millisecond) // the request
			return 0, nil
		})
	})}
	r, err := locust.NewRunner(locust.Config{ArrivalRate: 50, MaxUsers: 20, RunTime: 10 * time.Second}, typ)
	if err != nil {
		panic(err)
	}
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	s := r.Snapshot()
	svc := r.ServiceStats().Snapshot()
	fmt.Println("started", r.Iterations(), "dropped", s.Dropped)
	fmt.Println("max latency", s.Total.Max, "max service time", svc.Total.Max)
}
