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
// locust.Driver): it listens on --master-bind-host:--master-bind-port,
// waits for --expect-workers workers (headless; a test started from the
// web UI starts on the workers there are), hands them the -u users of the
// user types (their names, weights and fixed counts) with -H, tags and the
// stop timeout, and merges their reports into the command's runner, which
// runs no user itself but controls the master (locust.Remote): the
// console, CSV, JSON, HTML reports and thresholds show the workers'
// requests, its user count is the workers', and a load shape (--stages,
// shape.Extension's SetShape) changes the users the master hands out.
// Headless, -t ends the test (the workers get quit), as does a stop
// signal. Without --headless, the web UI starts each test on the
// connected workers, its stop sends them stop, and its page lists them
// (Runner.Workers). The open model and the capacity search are not
// distributed yet: with --master they are refused.
type Extension struct {
	worker     bool
	masterHost string
	masterPort int

	master        bool
	expectWorkers int
	bindHost      string
	bindPort      int

	m *Master // after Connect
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
	return e.check()
}

// check reports bad master options.
func (e *Extension) check() error {
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

// Connect checks the master's options and makes the master listen on
// --master-bind-host:--master-bind-port for the whole program (Master);
// workers may join from then on. It returns the master as the Remote of
// each test's Runner.
func (e *Extension) Connect(ctx context.Context, cfg locust.Config, types []*locust.UserType) (locust.Remote, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
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
		Tags: cfg.Tags, ExcludeTags: cfg.ExcludeTags, Logger: log,
	})
	if err == nil {
		// the master lives until Close (the command calls it), also when
		// ctx ends first: its workers still get their stop or quit
		err = m.Listen(context.WithoutCancel(ctx))
	}
	if err != nil {
		return nil, err
	}
	log.Info("master listening", "address", net.JoinHostPort(host, strconv.Itoa(m.Port())), "expect_workers", e.expectWorkers)
	e.m = m
	return m.Remote(), nil
}

// Drive runs one test on the workers (Master.RunTest; with last, a
// headless run, the master sends quit rather than stop at its end) with
// cfg's host and run time, and merges the workers' reports into r's
// statistics. A headless test waits for --expect-workers workers, a test
// started from the web UI for one (as in Locust: workers that join later
// get their share); its run time starts when they get their users. It
// ends r ("run time") when the run time is over, aborts r when the master
// fails, and stops the workers when r stops (a stop signal, the web UI's
// stop, a load shape's end).
func (e *Extension) Drive(ctx context.Context, r *locust.Runner, cfg locust.Config, last bool) {
	m := e.m
	m.SetStats(r.Stats())
	m.SetHost(cfg.Host)
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.Stopping(): // the workers get stop (or quit)
			cancel()
		case <-mctx.Done():
		}
	}()
	var err error
	if last {
		err = m.runTest(mctx, cfg.RunTime, e.expectWorkers, true)
	} else {
		// as Locust's UI: start on the workers there are (one at least);
		// those that join later get their share
		err = m.runTest(mctx, cfg.RunTime, 1, false)
	}
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

// Close sends quit to the workers still connected and closes the master.
func (e *Extension) Close() error {
	if e.m == nil {
		return nil
	}
	err := e.m.Close()
	e.m = nil
	return err
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
