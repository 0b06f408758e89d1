// Command loadtest is the program the run package's tests build: a main
// of one line, run.Main, with user types that each show one behaviour.
package main

import (
	"context"
	"errors"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/run"
)

// Fast records a success every 10 ms.
var fast = &locust.UserType{
	Name: "Fast",
	Wait: locust.Constant(10 * time.Millisecond),
	Tasks: locust.NewTaskSet("fast").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/fast", time.Millisecond, 10)
		return nil
	}),
}

// Stubborn records one request, then sleeps a minute ignoring its context.
var stubborn = &locust.UserType{
	Name: "Stubborn",
	Tasks: locust.NewTaskSet("stubborn").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/before-sleep", time.Millisecond, 10)
		time.Sleep(time.Minute)
		return nil
	}, locust.TaskName("sleep-a-minute")),
}

// NoHost aborts the test as a client that found no host does.
var noHost = &locust.UserType{
	Name: "NoHost",
	Tasks: locust.NewTaskSet("nohost").Task(1, func(_ context.Context, u *locust.User) error {
		u.Runner().Abort(errors.New("no host: pass --host or set UserType.Host"))
		return nil
	}),
}

// Hit sends GET /go to the host every 50 ms (a cluster's Go workers run it
// beside Python workers' class of the same name).
var hit = &locust.UserType{
	Name: "Hit",
	Wait: locust.Constant(50 * time.Millisecond),
	Tasks: locust.NewTaskSet("hit").Task(1, func(ctx context.Context, u *locust.User) error {
		_, _ = client.HTTPFor(u).Get(ctx, "/go")
		return nil
	}),
}

func main() { run.Main(fast, stubborn, noHost, hit) }
