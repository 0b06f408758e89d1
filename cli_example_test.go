package locust_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/golocust/locust"
)

// A program's own flag changes a user type through Prepare, the supported
// way: it runs once the options are parsed and returns the user types to
// run, here copies with short waits when --fast is given.
func ExampleCommand_prepare() {
	shopper := &locust.UserType{
		Name: "Shopper",
		Wait: locust.Between(time.Second, 3*time.Second),
		Tasks: locust.NewTaskSet("shop").Task(1, func(_ context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/item", time.Millisecond, 0)
			return nil
		}),
	}
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fast := fs.Bool("fast", false, "wait 1 ms between tasks instead of 1 to 3 s")
	cmd := &locust.Command{
		Name:  "shop",
		Users: []*locust.UserType{shopper},
		Flags: fs,
		Prepare: func(_ context.Context, _ *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
			if !*fast {
				return types, nil
			}
			for i, t := range types {
				quick := *t // a copy: the program's definition stays as written
				quick.Wait = locust.Constant(time.Millisecond)
				types[i] = &quick
			}
			return types, nil
		},
		Stdout: io.Discard, Stderr: io.Discard,
	}
	var requests int64
	cmd.Setup = func(_ context.Context, r *locust.Runner) error {
		r.Events().TestStop.Add(func(r *locust.Runner) { requests = r.Snapshot().Total.Requests })
		return nil
	}
	code := cmd.Run(context.Background(), []string{"--fast", "--headless", "-i", "20"})
	fmt.Println("exit code:", code)
	fmt.Println("requests:", requests)
	// Output:
	// exit code: 0
	// requests: 20
}
