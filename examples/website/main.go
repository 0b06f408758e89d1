// Command website is the locustfile from "Load Testing with Locust"
// translated into Go line by line: a user logs in on start, then goes to
// the home page twice as often as to its profile, waiting 5 to 15 seconds
// between pages.
//
//	go run ./examples/website -u 100 -r 10 -t 1m --headless
//
// With no --host it starts the demo web application on 127.0.0.1 and load
// tests that. Every option works (run.Command: --csv, --html, --json,
// --threshold, locust.conf, ...; see --help).
package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
	"github.com/golocust/locust/run"
)

// The Python:
//
//	class WebsiteTasks(TaskSet):
//	    def on_start(self):
//	        self.client.post("/login", {"username": "kubilay", "password": "******"})
//	    @task(4)
//	    def home(self):
//	        self.client.get("/home")
//	    @task(2)
//	    def profile(self):
//	        self.client.get("/profile")
//
//	class WebsiteUser(HttpLocust):
//	    task_set = WebsiteTasks
//	    min_wait = 5000
//	    max_wait = 15000

var websiteTasks = locust.NewTaskSet("WebsiteTasks").
	OnStart(onStart).
	Task(4, home).
	Task(2, profile)

func onStart(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).PostForm(ctx, "/login", url.Values{
		"username": {"kubilay"},
		"password": {"******"},
	})
	return err
}

func home(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/home")
	return err
}

func profile(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/profile")
	return err
}

var websiteUser = &locust.UserType{
	Name:  "WebsiteUser",
	Tasks: websiteTasks,
	Wait:  locust.Between(5*time.Second, 15*time.Second),
}

// main is run.Main with one addition: with no --host, Prepare starts the
// demo web application on 127.0.0.1 and targets it.
func main() {
	cmd := run.Command(websiteUser)
	cmd.Name = "website"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			return types, nil // --host given: test it
		}
		srv, err := demo.Start(demo.Options{}) // ends with the process
		if err != nil {
			return nil, err
		}
		cfg.Host = srv.URL
		fmt.Printf("website: load testing %s, a demo server started by this program on 127.0.0.1\n", srv.URL)
		return types, nil
	}
	cmd.Main()
}
