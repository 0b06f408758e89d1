// Command quickstart is a complete load test that needs no setup: with no
// --host it starts the demo web application on 127.0.0.1 (a free port) and
// load tests it; with --host (-H, LOCUST_HOST) it load tests that host and
// starts nothing.
//
//	go run ./examples/quickstart -u 50 -r 10 -t 20s --headless
//
// Every Locust option works (see --help). The demo's /error route fails on
// purpose, so a run exits with 1 (Locust's --exit-code-on-error) unless
// thresholds decide: with --threshold 'fail_ratio<0.1' it exits 0.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
	"github.com/golocust/locust/run"
)

// shopper logs in once, then browses: mostly items, sometimes the home and
// profile pages, now and then a slow page, rarely a broken one.
var shopper = &locust.UserType{
	Name:    "Shopper",
	Wait:    locust.Between(50*time.Millisecond, 250*time.Millisecond),
	OnStart: login,
	Tasks: locust.NewTaskSet("shop").
		Task(8, home).
		Task(4, profile).
		Task(12, item).
		Task(2, slow).
		Task(1, broken),
}

func login(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).PostForm(ctx, "/login", url.Values{
		"username": {fmt.Sprintf("user%d", u.ID())},
		"password": {"secret"},
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

// item asks for one of 1000 items, all counted as one row: /item/{id}.
func item(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, fmt.Sprintf("/item/%d", rand.IntN(1000)), client.Name("/item/{id}"))
	return err
}

func slow(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/slow")
	return err
}

// broken requests a page that always answers 500: a failed request.
func broken(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/error")
	return err
}

// main is run.Main (every option: --csv, --html, --json, --threshold, ...)
// with one addition: Prepare, which runs once the options are parsed,
// starts the demo target unless a host was given.
func main() {
	cmd := run.Command(shopper)
	cmd.Name = "quickstart"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			fmt.Printf("quickstart: load testing %s (no local demo server started)\n", cfg.Host)
			return types, nil
		}
		srv, err := demo.Start(demo.Options{}) // ends with the process
		if err != nil {
			return nil, err
		}
		cfg.Host = srv.URL
		fmt.Printf("quickstart: load testing %s, a demo server started by this program on 127.0.0.1 (use --host to target another)\n", srv.URL)
		return types, nil
	}
	cmd.Main()
}
