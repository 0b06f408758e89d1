package locust_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/golocust/locust"
)

// The website user of Locust's documentation: it logs in when it starts,
// then views the index twice as often as its profile.
func ExampleTaskSet() {
	// a target for the example; a real test points -H at the system under test
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer site.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	// get requests a path of the user's host and reports it as a request
	get := func(ctx context.Context, u *locust.User, method, path string) error {
		return u.Measure(ctx, method, path, func(ctx context.Context) (int64, error) {
			req, err := http.NewRequestWithContext(ctx, method, u.Host()+path, nil)
			if err != nil {
				return 0, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			return io.Copy(io.Discard, resp.Body)
		})
	}

	tasks := locust.NewTaskSet("website").
		Task(4, func(ctx context.Context, u *locust.User) error { return get(ctx, u, "GET", "/") }, locust.TaskName("index")).
		Task(2, func(ctx context.Context, u *locust.User) error { return get(ctx, u, "GET", "/profile") }, locust.TaskName("profile"))
	website := &locust.UserType{
		Name:    "WebsiteUser",
		Wait:    locust.Between(time.Millisecond, 2*time.Millisecond),
		OnStart: func(ctx context.Context, u *locust.User) error { return get(ctx, u, "POST", "/login") },
		Tasks:   tasks,
	}

	r, err := locust.NewRunner(locust.Config{Host: site.URL, Users: 1, Iterations: 30}, website)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	snap := r.Snapshot()
	login, _ := snap.Entry("POST", "/login")
	fmt.Println("logins:", login.Requests)
	fmt.Println("requests:", snap.Total.Requests, "failures:", snap.Total.Failures)
	ratios := r.TaskRatios()["WebsiteUser"]
	fmt.Printf("index %.1f%%, profile %.1f%%\n", 100*ratios["index"], 100*ratios["profile"])
	// Output:
	// logins: 1
	// requests: 31 failures: 0
	// index 66.7%, profile 33.3%
}

// A client for any protocol: time the call with Measure and it is reported
// like an HTTP request, a success or a failure grouped by its error.
func ExampleUser_Measure() {
	store := map[string]string{"user:1": "alice", "user:2": "bob"}
	errNotFound := errors.New("key not found")
	type counter struct{}

	get := func(ctx context.Context, u *locust.User) error {
		n, _ := u.Value(counter{}).(int)
		u.SetValue(counter{}, n+1)
		key := fmt.Sprintf("user:%d", n%3+1) // user:3 is missing
		return u.Measure(ctx, "KV", "get", func(ctx context.Context) (int64, error) {
			v, ok := store[key]
			if !ok {
				return 0, errNotFound
			}
			return int64(len(v)), nil
		})
	}
	r, err := locust.NewRunner(locust.Config{Users: 1, Iterations: 9},
		&locust.UserType{Name: "KVUser", Tasks: locust.NewTaskSet("kv").Task(1, get)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = r.Run(context.Background())

	snap := r.Snapshot()
	e, _ := snap.Entry("KV", "get")
	fmt.Printf("%s %s: %d requests, %d failures, %d bytes\n", e.Type, e.Name, e.Requests, e.Failures, e.ContentLength)
	for _, f := range snap.Errors {
		fmt.Printf("%s %s: %s ×%d\n", f.Method, f.Name, f.Error, f.Occurrences)
	}
	fmt.Println("exceptions:", len(snap.Exceptions))
	// Output:
	// KV get: 9 requests, 3 failures, 24 bytes
	// KV get: key not found ×3
	// exceptions: 0
}

// Run a short test from code and read its statistics.
func ExampleRunner() {
	user := &locust.UserType{
		Name: "Worker",
		Tasks: locust.NewTaskSet("work").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("JOB", "process", 2*time.Millisecond, 100)
			return nil
		}),
	}
	r, err := locust.NewRunner(locust.Config{Users: 5, SpawnRate: 0, Iterations: 100}, user)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	snap := r.Snapshot()
	e, _ := snap.Entry("JOB", "process")
	fmt.Println("stopped by:", r.StopReason())
	fmt.Println("task runs:", r.Iterations())
	fmt.Println("requests:", e.Requests, "median:", e.Median(), "bytes:", e.ContentLength)
	// Output:
	// stopped by: iterations
	// task runs: 100
	// requests: 100 median: 2ms bytes: 10000
}

func ExampleParseTimespan() {
	for _, s := range []string{"30s", "5m", "1h30m", "90", "1.5s", "soon"} {
		d, err := locust.ParseTimespan(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s = %v\n", s, d)
	}
	// Output:
	// 30s = 30s
	// 5m = 5m0s
	// 1h30m = 1h30m0s
	// 90 = 1m30s
	// 1.5s = 1.5s
	// invalid time span "soon" (use e.g. 30s, 5m, 1h30m)
}

// Listen to every request, for example to count slow ones or to send them
// to your own monitoring.
func ExampleHook() {
	user := &locust.UserType{
		Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/slow", 800*time.Millisecond, 0)
			u.RecordSuccess("GET", "/fast", 20*time.Millisecond, 0)
			return nil
		}),
	}
	r, err := locust.NewRunner(locust.Config{Users: 1, Iterations: 10}, user)
	if err != nil {
		fmt.Println(err)
		return
	}
	var slow atomic.Int64
	remove := r.Events().Request.Add(func(req locust.Request) {
		if req.Duration > 500*time.Millisecond {
			slow.Add(1)
		}
	})
	defer remove()
	_ = r.Run(context.Background())
	fmt.Println("listeners:", r.Events().Request.Len())
	fmt.Println("slow requests:", slow.Load())
	// Output:
	// listeners: 1
	// slow requests: 10
}
