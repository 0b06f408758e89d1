// Package run is the complete entry point of a golocust load test: the
// Locust-compatible command line of locust.Command with every standard
// extension already added, so that a program's main is one line:
//
//	func main() { run.Main(websiteUser) }
//
// It accepts every option of the library: Locust's core options (-u, -r,
// -t, -H, --headless, -i, -T, -E, -L, --logfile, ...), the reports
// (--csv, --csv-full-history, --html, --json, --json-file, --compare)
// and the thresholds (--threshold, --threshold-abort), from the command
// line, LOCUST_* variables and locust.conf files alike, and the web UI
// (--web-host, --web-port, --autostart, --autoquit, --web-auth) with
// Prometheus /metrics (--metrics-addr also headless), the load shapes and
// capacity search (--stages, --find-capacity), the open model
// (--arrival-rate, --max-users), and Locust's cluster roles (--worker
// --master-host H --master-port P: join a Python or Go Locust master;
// --master --expect-workers N: be one). Extensions that land later are added here too.
//
// The root package imports none of the extensions; programs that want to
// choose their own use locust.Command directly.
package run

import (
	locust "github.com/golocust/locust"
	"github.com/golocust/locust/cluster"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/shape"
	"github.com/golocust/locust/threshold"
	"github.com/golocust/locust/webui"
)

// Command returns a locust.Command for types with every standard
// extension: the thresholds (--threshold ...), the reports (--csv,
// --html, --json, --compare ...), the reports carrying the threshold
// results, the web UI with Prometheus /metrics (without --headless the
// UI opens on --web-host:--web-port and the test starts from its form), and
// the cluster worker (--worker).
// Change its fields (Name, Flags, Prepare, Setup) before Run or Main to add
// the program's own options. Each call returns a new Command;
// a Command is not safe for concurrent use.
func Command(types ...*locust.UserType) *locust.Command {
	th := threshold.NewExtension()
	return &locust.Command{
		Users:      types,
		Extensions: []locust.Extension{th, report.NewExtension(report.WithThresholds(th)), webui.NewExtension(), shape.NewExtension(th), cluster.NewExtension()},
	}
}

// Main runs the complete command line with types and the process's
// arguments, and exits the process with its exit code (see
// locust.ExitUsage for the list). It is the usual body of a load test's
// main.
func Main(types ...*locust.UserType) {
	Command(types...).Main()
}
