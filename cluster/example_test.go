package cluster_test

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/cluster"
)

// A Go worker for a Locust master started with a locustfile that declares
// a class WebsiteUser (its Python body never runs on the master):
//
//	locust -f locustfile.py --master --expect-workers 2 -H http://target
func ExampleRunWorker() {
	user := &locust.UserType{
		Name: "WebsiteUser", // the master's class name
		Wait: locust.Between(time.Second, 3*time.Second),
		Tasks: locust.NewTaskSet("site").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := client.HTTPFor(u).Get(ctx, "/")
			return err
		}),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := cluster.RunWorker(ctx, cluster.WorkerConfig{MasterHost: "127.0.0.1", MasterPort: 5557}, user); err != nil {
		os.Exit(1)
	}
}
