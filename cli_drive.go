package locust

import (
	"context"
	"fmt"
	"strings"
)

// Driver is implemented by an extension that runs the test somewhere else
// but reports it here, such as a cluster master (--master): the command
// line makes a Runner with no local user and no run time or limit, runs it
// through the usual path (Setup, every extension's Start and Stop, the
// periodic table, the summary and the exit code), and calls Drive while it
// runs. Drive feeds the Runner's Stats (Stats.Merge) and ends the test
// with Runner.StopWith or Runner.Abort. Like Extension, a Driver is used
// by one Command run at a time and need not be safe for concurrent use.
type Driver interface {
	// Drives reports whether the parsed options ask the extension to
	// drive the test (for example --master was given).
	Drives() bool
	// Drive runs the test described by cfg (its users, spawn rate, run
	// time, host and tags) and types, reporting into r. It is called after
	// every extension's Start, once r runs. It must return soon after r
	// stops (Runner.Stopping: a stop signal, or its own StopWith/Abort);
	// the summary and reports are made after it returns.
	Drive(ctx context.Context, r *Runner, cfg Config, types []*UserType)
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

// runDriven runs a local Runner of no user, driven by d.
func (s *session) runDriven(ctx context.Context, d Driver, cfg Config, types []*UserType) int {
	local := cfg
	local.Users, local.RunTime, local.Iterations, local.MaxRequests = 0, 0, 0, 0
	local.ArrivalRate, local.MaxUsers = 0, 0 // the workers run the users
	r, err := NewRunner(local, types...)
	if err != nil {
		return s.fail(fmt.Errorf("%s", strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	_ = r.SetUsers(0, cfg.SpawnRate)
	s.drive = func(ctx context.Context) { d.Drive(ctx, r, cfg, types) }
	return s.run(ctx, r)
}
