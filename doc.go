// Package locust runs load tests written the way Locust users write them:
// user behaviour in code, many simulated users, weighted tasks, waits
// between tasks, live statistics and Locust's command line, with Go's
// speed and exact (HDR histogram) percentiles.
//
// A UserType is the Go form of a Locust User class: a TaskSet of weighted
// tasks, an optional OnStart (a login) and OnStop, a WaitTime between tasks
// (Between, Constant, ConstantPacing, ConstantThroughput or a WaitFunc),
// and a Weight or FixedCount. A task is a TaskFunc: it gets a context that
// ends when the user stops, and the User, whose HTTP session comes from the
// client package:
//
//	var websiteUser = &locust.UserType{
//		Name:    "WebsiteUser",
//		OnStart: login,
//		Tasks:   locust.NewTaskSet("WebsiteTasks").Task(4, home).Task(2, profile),
//		Wait:    locust.Between(5*time.Second, 15*time.Second),
//	}
//
//	func home(ctx context.Context, u *locust.User) error {
//		_, err := client.HTTPFor(u).Get(ctx, "/home")
//		return err
//	}
//
// Run user types from a program's main with run.Main (package
// github.com/golocust/locust/run: the complete entry point, with every
// option of the library: Locust's -u, -r, -t, -H, --headless, ..., the
// reports --csv, --html, --json and the thresholds --threshold), or with
// Command, the same command line with the extensions a program chooses
// and its own flags (Command.Prepare changes user types from them), or
// from code with NewRunner, Runner.Run and Runner.Snapshot, for example
// inside go test. The command line reads ~/.locust.conf, ./locust.conf and
// --config FILE, then LOCUST_* variables, then its arguments, each
// overriding the ones before, as Locust does.
//
// A client of any protocol reports its calls with User.Measure,
// User.RecordSuccess and User.RecordFailure (or User.Record); statistics,
// reports and thresholds then work for it as for HTTP.
//
// Everything belongs to a Runner: two runners in one process share no
// users, events or statistics. Each type's documentation says whether it
// is safe for concurrent use.
package locust
