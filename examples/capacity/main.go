// Command capacity is a stress test that answers "What is your capacity?":
// it steps the users up until a threshold breaks and reports the highest
// load that held. With no --host it starts the demo target on 127.0.0.1
// with a known capacity: it serves at most 8 requests at once, each taking
// 20 ms, so its throughput tops out at 8 / 20 ms = 400 requests/s (8
// users asking back to back); a ninth user only makes requests queue.
//
//	go run ./examples/capacity
//
// The defaults below are ordinary options, so any of them can be changed
// on the command line (later options win):
//
//	go run ./examples/capacity --capacity-step 4 --threshold "p99 < 50ms" --json-file capacity.json
//
// With --arrival-rate the search steps the arrival rate instead of the
// users (the open model: --capacity-start, --capacity-step and
// --capacity-max count iterations per second, and a step that drops an
// iteration does not hold):
//
//	go run ./examples/capacity --arrival-rate 200 --max-users 100 --capacity-start 200 --capacity-step 40 --capacity-max 600
//
// The search prints a line "Capacity: N users, R req/s ..." and a table of
// throughput and latency per step; --json-file and --html carry the same
// table under "capacity". A search that stops because this machine ran
// short of CPU says so: that is the generator's limit, not the target's.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
	"github.com/golocust/locust/run"
)

// The demo target's known capacity: MaxInFlight / Delay.
const (
	maxInFlight = 8
	serviceTime = 20 * time.Millisecond
)

// defaults come before the user's own options, which win.
var defaults = []string{
	"--headless", "--only-summary",
	"--find-capacity",
	"--capacity-start", "2", "--capacity-step", "2", "--capacity-max", "40",
	"--capacity-settle", "1s", "--capacity-hold", "2s",
	"--spawn-rate", "100",
	"--threshold", "p95 < 30ms", "--threshold", "fail_ratio < 1%",
	"--run-time", "2m",
}

// visitor asks for the home page back to back: the closed model at its
// hardest, so that the users needed to fill the target are known.
var visitor = &locust.UserType{
	Name: "Visitor",
	Tasks: locust.NewTaskSet("visit").Task(1, func(ctx context.Context, u *locust.User) error {
		_, err := client.HTTPFor(u).Get(ctx, "/")
		return err
	}),
}

func main() {
	cmd := run.Command(visitor)
	cmd.Name = "capacity"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			fmt.Fprintf(os.Stderr, "capacity: searching the capacity of %s (no local demo server started)\n", cfg.Host)
			return types, nil
		}
		srv, err := demo.Start(demo.Options{Delay: serviceTime, MaxInFlight: maxInFlight}) // ends with the process
		if err != nil {
			return nil, err
		}
		cfg.Host = srv.URL
		fmt.Fprintf(os.Stderr, "capacity: searching the capacity of %s, a demo server started on 127.0.0.1 that serves %d requests at once in %s each (%.0f requests/s at most)\n",
			srv.URL, maxInFlight, serviceTime, float64(maxInFlight)/serviceTime.Seconds())
		return types, nil
	}
	os.Exit(cmd.Run(context.Background(), append(defaults, os.Args[1:]...)))
}
