package locust

import (
	"context"
	"fmt"
	"strings"
)

// Driver is implemented by an extension that runs the tests somewhere else
// but reports them here, such as a cluster master (--master): the command
// line calls Connect once, then runs each test as usual (headless, one
// test; with a Launcher such as the web UI, the tests it starts) with a
// Runner that controls the Driver's Remote (Runner.SetRemote) and runs no
// user itself: every extension's Start and Stop, the periodic table, the
// summary and the exit code work unchanged, and a load shape's SetUsers
// reaches the Remote. Drive runs beside each test's Runner. Like
// Extension, a Driver is used by one Command run at a time and need not be
// safe for concurrent use (the Remote must be).
type Driver interface {
	// Drives reports whether the parsed options ask the extension to
	// drive the tests (for example --master was given).
	Drives() bool
	// Connect readies the remote side once for the whole program (a
	// master binds its port) for the test cfg describes and the user
	// types, and returns the Remote that each test's Runner controls. An
	// error ends the program with ExitUsage before any test.
	Connect(ctx context.Context, cfg Config, types []*UserType) (Remote, error)
	// Drive runs one test on the Remote, beside r: it is called after
	// every extension's Start, once r runs; cfg holds the test's users,
	// spawn rate, run time, host and tags (r runs with no run time of its
	// own: the remote side starts the clock when its users start). r's
	// SetUsers already gave the Remote its user count. Drive feeds r's
	// Stats (Stats.Merge), ends the test with r.StopWith or r.Abort when
	// the remote test ends, and must return soon after r stops
	// (Runner.Stopping), once the remote side has stopped and its last
	// reports are in r's Stats: the summary and reports are made after it
	// returns. last is true when no test follows (a headless run): the
	// remote side may then be let go (a master sends quit instead of stop).
	Drive(ctx context.Context, r *Runner, cfg Config, last bool)
	// Close ends what Connect started. Run calls it once, before it
	// returns, when Connect succeeded.
	Close() error
}

// RemoteViewer is implemented by an extension that shows a Driver's
// Remote also between tests, such as the web UI (its workers table): the
// command line hands it the Remote once the Driver connected, before any
// test. Like Extension, it need not be safe for concurrent use.
type RemoteViewer interface {
	ViewRemote(Remote)
}

// Stopping returns a channel that is closed when the test is asked to stop
// (Stop, StopWith, Abort, Kill, a run time or limit). Safe for concurrent
// use.
func (r *Runner) Stopping() <-chan struct{} { return r.haltCh }

// driver returns the first extension that drives the test, or nil.
func (s *session) driver() Driver {
	for _, e := range s.cmd.Extensions {
		if d, ok := e.(Driver); ok && d.Drives() {
			return d
		}
	}
	return nil
}

// runDriven connects d and runs the tests (one headless, or those the
// Launcher starts) on its Remote.
func (s *session) runDriven(ctx context.Context, d Driver, cfg Config, types []*UserType) int {
	rem, err := d.Connect(ctx, cfg, types)
	if err != nil {
		return s.fail(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			s.logger.Warn("closing the remote side", "error", err)
		}
	}()
	s.driving, s.remote = d, rem
	for _, e := range s.cmd.Extensions {
		if v, ok := e.(RemoteViewer); ok {
			v.ViewRemote(rem)
		}
	}
	return s.runTests(ctx, cfg, types, nil)
}

// newRunner makes the Runner of one test from cfg. With a Driver it runs
// no user and no clock of its own: it controls the Driver's Remote, and
// the Driver's Drive runs beside it.
func (s *session) newRunner(cfg Config, types []*UserType) (*Runner, error) {
	if s.remote == nil {
		return NewRunner(cfg, types...)
	}
	local := cfg
	local.RunTime, local.Iterations, local.MaxRequests = 0, 0, 0
	local.ArrivalRate, local.MaxUsers = 0, 0 // the workers run the users
	r, err := NewRunner(local, types...)
	if err != nil {
		return nil, err
	}
	if err := r.SetRemote(s.remote); err != nil {
		return nil, err
	}
	d, last := s.driving, s.launcher() == nil
	s.driveCfg = cfg
	s.drive = func(ctx context.Context) { d.Drive(ctx, r, cfg, last) }
	return r, nil
}

// oneLine is err with its lines joined, for the one-line error output.
func oneLine(err error) error {
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
}
