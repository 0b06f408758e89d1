package locust

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// signals returns the stop signals: Command.Signals, or SIGINT and SIGTERM.
func (s *session) signals() []os.Signal {
	if s.cmd.Signals != nil {
		return s.cmd.Signals
	}
	return []os.Signal{os.Interrupt, syscall.SIGTERM}
}

// run runs the test with the signal handling of the command line: the
// first stop signal stops the test gracefully, the second returns at once
// with what there is.
func (s *session) run(ctx context.Context, r *Runner) int {
	sigs := s.signals()
	ctx, cancel := context.WithCancel(ctx) // done when Run returns
	defer cancel()
	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, sigs...)
	defer signal.Stop(sigCh)
	forced := make(chan os.Signal, 1)
	watchDone := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.watchSignals(r, sigCh, forced, stopWatch)
	}()
	defer func() { close(stopWatch); <-watchDone }()

	if s.cmd.Setup != nil {
		if err := s.cmd.Setup(ctx, r); err != nil {
			return s.failf("setup: %v", err)
		}
	}
	for _, e := range s.cmd.Extensions {
		if err := e.Start(ctx, r, s.text); err != nil {
			return s.fail(err)
		}
	}
	if !s.o.headless && !s.o.autostart && !s.launched {
		s.logger.Info("no web UI in this program: running headless (pass --headless to silence this note)")
	}
	cfg := r.Config()
	if s.remote != nil {
		cfg = s.driveCfg // the remote side runs the users and the clock
	}
	if cfg.ArrivalRate > 0 {
		s.logger.Info("starting test", "arrival_rate", cfg.ArrivalRate, "max_users", cfg.MaxUsers, "run_time", cfg.RunTime.String(), "host", cfg.Host)
	} else {
		s.logger.Info("starting test", "users", cfg.Users, "spawn_rate", cfg.SpawnRate, "run_time", cfg.RunTime.String(), "host", cfg.Host)
	}

	stopTable := s.periodicTable(r)
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()
	driveDone := make(chan struct{})
	if s.drive != nil {
		go func() { defer close(driveDone); s.drive(ctx) }()
	} else {
		close(driveDone)
	}
	select {
	case err := <-runDone:
		<-driveDone // its last reports go into the summary
		stopTable()
		if err != nil {
			return s.fail(err) // Abort: one line, exit code 2
		}
		s.logger.Info("test stopped", "reason", r.StopReason())
		return s.finish(ctx, r, r.Snapshot())
	case sig := <-forced:
		stopTable()
		s.logger.Warn("second signal: exiting without waiting for the users",
			"signal", sig.String(), "users_still_running", r.UserCount())
		r.Kill() // Run stops its users' contexts and returns at once
		select {
		case <-runDone:
		case <-time.After(time.Second): // never expected; do not wait for it
		}
		s.finish(ctx, r, r.Snapshot())
		return exitCodeForSignal(sig)
	}
}

// watchSignals stops the test at the first signal and reports the second
// on forced, until stop is closed.
func (s *session) watchSignals(r *Runner, sigCh <-chan os.Signal, forced chan<- os.Signal, stop <-chan struct{}) {
	select {
	case sig := <-sigCh:
		s.signalled.Store(true)
		s.logger.Info("stopping on signal (send it again to exit at once)", "signal", sig.String(), "stop_timeout", s.o.stopTimeout.String())
		r.Stop()
	case <-stop:
		return
	}
	select {
	case sig := <-sigCh:
		forced <- sig
	case <-stop:
	}
}

// periodicTable prints the stats table every 2 seconds (unless
// --only-summary) until the returned func is called.
func (s *session) periodicTable(r *Runner) (stop func()) {
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		if s.o.onlySummary || (s.launched && !s.o.printStats) {
			return
		}
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				PrintStats(s.text, r.Snapshot(), true)
			}
		}
	}()
	return func() { close(quit); <-done }
}
