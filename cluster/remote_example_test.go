package cluster_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster"
	"github.com/golocust/locust/shape"
)

// A Runner driving a Go master's workers from code, as the command line's
// --master does: the Runner runs no user itself, a load shape sets its
// user count and the master hands the users out among the workers, and
// the Runner's statistics hold the workers' requests.
func ExampleMaster_Remote() {
	user := &locust.UserType{Name: "WebsiteUser", Tasks: locust.NewTaskSet("site").Task(1, func(context.Context, *locust.User) error { return nil })}
	m, err := cluster.NewMaster(cluster.MasterConfig{
		BindHost: "0.0.0.0", BindPort: 5557, ExpectWorkers: 2,
		Classes: []cluster.Class{{Name: "WebsiteUser"}}, Host: "http://target:8080",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Listen(ctx); err != nil {
		log.Fatal(err)
	}
	defer m.Close() // the workers get quit

	r, err := locust.NewRunner(locust.Config{}, user)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.SetRemote(m.Remote()); err != nil {
		log.Fatal(err)
	}
	m.SetStats(r.Stats())
	stages := shape.Stages{{Duration: time.Minute, Target: 100}, {Duration: 5 * time.Minute, Target: 100}, {Duration: time.Minute, Target: 0}}
	r.Events().TestStart.Add(func(*locust.Runner) { go func() { _ = shape.Drive(ctx, r, stages) }() })
	tested := make(chan error, 1)
	go func() {
		// waits for the 2 workers, then follows the shape until r stops
		tctx, cancel := context.WithCancel(ctx)
		go func() { <-r.Stopping(); cancel() }()
		tested <- m.RunTest(tctx, 0)
	}()
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-tested; err != nil { // the workers stopped and sent their last reports
		log.Fatal(err)
	}
	fmt.Println(r.Snapshot().Total.Requests, "requests on", len(m.Workers()), "workers")
}
