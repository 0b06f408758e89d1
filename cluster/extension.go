package cluster

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	locust "github.com/golocust/locust"
)

// Extension adds Locust's worker options to a locust.Command: --worker,
// --master-host and --master-port (LOCUST_WORKER, LOCUST_MASTER_HOST,
// LOCUST_MASTER_PORT, or the same keys in locust.conf). With --worker the
// program joins the master instead of running a local test (it is a
// locust.Delegate): the master decides the users, host, tags and stop
// timeout, and when the test ends. The run package adds it to its Command.
//
// Like every extension it is used by one Command run at a time and is not
// safe for concurrent use. Make it with NewExtension.
type Extension struct {
	worker     bool
	masterHost string
	masterPort int
}

var (
	_ locust.Extension = (*Extension)(nil)
	_ locust.Delegate  = (*Extension)(nil)
)

// NewExtension returns the worker extension.
func NewExtension() *Extension { return &Extension{} }

// Flags registers --worker, --master-host and --master-port.
func (e *Extension) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&e.worker, "worker", false, "run as a worker of a Locust master (Python or Go) instead of a local test")
	fs.StringVar(&e.masterHost, "master-host", "127.0.0.1", "`HOST` of the master to join with --worker")
	fs.IntVar(&e.masterPort, "master-port", 5557, "`PORT` of the master to join with --worker")
}

// Start does nothing: with --worker the extension runs the program instead.
func (e *Extension) Start(context.Context, *locust.Runner, io.Writer) error { return nil }

// Stop does nothing and leaves the exit code to the others.
func (e *Extension) Stop(context.Context, *locust.Runner, *locust.Snapshot, io.Writer) (locust.Verdict, error) {
	return locust.Verdict{}, nil
}

// TakesOver reports whether --worker was given.
func (e *Extension) TakesOver() bool { return e.worker }

// RunInstead runs a worker (RunWorker) with cfg as its base configuration
// until the master sends quit or ctx ends (the first Ctrl-C). It returns 0
// then, 2 for bad options, and 1 when the master could not be joined.
func (e *Extension) RunInstead(ctx context.Context, cfg locust.Config, types []*locust.UserType, log *slog.Logger, out io.Writer) int {
	if e.masterPort <= 0 || e.masterPort > 65535 {
		fmt.Fprintf(out, "error: invalid value %d for --master-port: must be 1 to 65535\n", e.masterPort)
		return locust.ExitUsage
	}
	log.Info("joining the master as a worker", "master", fmt.Sprintf("%s:%d", e.masterHost, e.masterPort))
	// the master decides how many users run and when the test ends
	cfg.Users, cfg.SpawnRate, cfg.RunTime, cfg.Iterations, cfg.MaxRequests = 0, 0, 0, 0, 0
	err := RunWorker(ctx, WorkerConfig{
		MasterHost: e.masterHost,
		MasterPort: e.masterPort,
		Base:       cfg,
		Logger:     log,
	}, types...)
	if err != nil {
		log.Error("worker stopped", "error", err)
		return 1
	}
	return 0
}
