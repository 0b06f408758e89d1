// Command clusterprog is the program the cluster package's command-line
// tests build: a main of one line, run.Main, run as master and as workers.
package main

import (
	"context"
	"os"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/run"
)

// hit sends GET /go<tag> to the host every 20 ms, where the tag is
// $CLUSTERPROG_TAG (so that a test tells its workers' requests apart).
func hit(tag string) *locust.UserType {
	return &locust.UserType{
		Name: "Hit",
		Wait: locust.Constant(20 * time.Millisecond),
		Tasks: locust.NewTaskSet("hit").Task(1, func(ctx context.Context, u *locust.User) error {
			_, _ = client.HTTPFor(u).Get(ctx, "/go"+tag)
			return nil
		}),
	}
}

// Hold sends ten GET /quick, then a GET /hold that the target answers
// only when the test ends: at the stop every user is in a request.
var hold = &locust.UserType{
	Name: "Hold",
	Tasks: locust.NewTaskSet("hold").Task(1, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		for range 10 {
			_, _ = c.Get(ctx, "/quick")
		}
		_, _ = c.Get(ctx, "/hold")
		return nil
	}),
}

func main() { run.Main(hit(os.Getenv("CLUSTERPROG_TAG")), hold) }
