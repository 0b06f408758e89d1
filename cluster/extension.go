package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	locust "github.com/golocust/locust"
)

// Extension adds Locust's worker and master options to a locust.Command: --worker,
// --master-host and --master-port (LOCUST_WORKER, LOCUST_MASTER_HOST,
// LOCUST_MASTER_PORT, or the same keys in locust.conf). With --worker the
// program joins the master instead of running a local test (it is a
// locust.Delegate): the master decides the users, host, tags and stop
// timeout, and when the test ends. The run package adds it to its Command.
//
// Like every extension it is used by one Command run at a time and is not
// safe for concurrent use. Make it with NewExtension.
//
// With --master (LOCUST_MASTER) it runs the test as a master instead (a
// locust.Driver): it waits for --expect-workers workers on
// --master-bind-host:--master-bind-port, hands them the -u users of the
// user types (their names, weights and fixed counts) with -H, tags and the
// stop timeout, and merges their reports into the command's runner, which
// runs no user itself: the console, CSV, JSON, HTML reports and thresholds
// show the workers' requests. -t ends the test (the workers get quit), as
// does a stop signal. Load shapes, the open model and the capacity search
// are not distributed yet: with --master they are refused.
type Extension struct {
	worker     bool
	masterHost string
	masterPort int

	master        bool
	expectWorkers int
	bindHost      string
	bindPort      int
}

var (
	_ locust.Extension = (*Extension)(nil)
	_ locust.Delegate  = (*Extension)(nil)
	_ locust.Driver    = (*Extension)(nil)
)

// NewExtension returns the cluster extension (worker and master).
func NewExtension() *Extension { return &Extension{} }

// Flags registers --worker, --master-host and --master-port, and --master,
// --expect-workers, --master-bind-host and --master-bind-port.
func (e *Extension) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&e.worker, "worker", false, "run as a worker of a Locust master (Python or Go) instead of a local test")
	fs.StringVar(&e.masterHost, "master-host", "127.0.0.1", "`HOST` of the master to join with --worker")
	fs.IntVar(&e.masterPort, "master-port", 5557, "`PORT` of the master to join with --worker")
	fs.BoolVar(&e.master, "master", false, "run as a master that Locust workers (Python or Go) join; the reports show their requests")
	fs.IntVar(&e.expectWorkers, "expect-workers", 1, "with --master: `N` workers to wait for before the test starts")
	fs.StringVar(&e.bindHost, "master-bind-host", "*", "with --master: `HOST` to listen on (* is every interface)")
	fs.IntVar(&e.bindPort, "master-bind-port", 5557, "with --master: `PORT` to listen on")
}

// Start checks the master's options (exit code 2 when they are bad).
func (e *Extension) Start(context.Context, *locust.Runner, io.Writer) error {
	if !e.master {
		return nil
	}
	switch {
	case e.worker:
		return errors.New("--master and --worker cannot be used together")
	case e.expectWorkers < 1:
		return fmt.Errorf("invalid value %d for --expect-workers: must be at least 1", e.expectWorkers)
	case e.bindPort <= 0 || e.bindPort > 65535:
		return fmt.Errorf("invalid value %d for --master-bind-port: must be 1 to 65535", e.bindPort)
	}
	return nil
}

// Drives reports whether --master was given.
func (e *Extension) Drives() bool { return e.master }

// Drive runs the master (Master) for the test cfg describes and merges the
// workers' reports into r's statistics. It ends the test when the master's
// run ends (-t: "run time"), aborts it when the master cannot listen, and
// sends quit to the workers when r stops (a stop signal).
func (e *Extension) Drive(ctx context.Context, r *locust.Runner, cfg locust.Config, types []*locust.UserType) {
	classes := make([]Class, 0, len(types))
	for _, t := range types {
		classes = append(classes, Class{Name: t.Name, Weight: t.Weight, FixedCount: t.FixedCount})
	}
	host := e.bindHost
	if host == "*" {
		host = "0.0.0.0"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m, err := NewMaster(MasterConfig{
		BindHost: host, BindPort: e.bindPort, ExpectWorkers: e.expectWorkers,
		Classes: classes, Users: cfg.Users, SpawnRate: cfg.SpawnRate, Host: cfg.Host, StopTimeout: cfg.StopTimeout,
		Tags: cfg.Tags, ExcludeTags: cfg.ExcludeTags, RunTime: cfg.RunTime,
		Logger: log, Stats: r.Stats(),
	})
	if err == nil {
		err = m.Listen(ctx)
	}
	if err != nil {
		r.Abort(err)
		return
	}
	log.Info("master listening", "address", net.JoinHostPort(host, strconv.Itoa(m.Port())), "expect_workers", e.expectWorkers)
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.Stopping(): // a stop signal: the master sends quit
			cancel()
		case <-mctx.Done():
		}
	}()
	err = m.Run(mctx)
	select {
	case <-r.Stopping():
		return
	default:
	}
	if err != nil && ctx.Err() == nil {
		r.Abort(fmt.Errorf("master: %w", err))
		return
	}
	r.StopWith("run time")
}

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
