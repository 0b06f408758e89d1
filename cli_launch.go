package locust

import (
	"context"
	"os/signal"
)

// Launcher is implemented by an extension that decides when tests start,
// such as the web UI: its start form starts the first test, its "new test"
// button the next ones. Without --headless, Command.Run hands the loop of
// tests to the first Launcher among its extensions: it calls Launch, makes
// a new Runner from the Config that Launch filled in, runs the test (with
// every extension's Start and Stop, as a headless run does), and calls
// Launch again, until Launch returns false or a stop signal arrives. The
// exit code is the last test's (0 when none ran). With --headless no
// Launcher is used. Like Extension, a Launcher is used by one Command run at
// a time and need not be safe for concurrent use.
type Launcher interface {
	// Launch waits until the next test is to start and sets its users,
	// spawn rate, host and run time in cfg (which holds the options for
	// the first test, the previous test's values after). autostart is true
	// for the first test when --autostart was given: Launch then returns at
	// once. It returns false when no further test is to run (for example
	// --autoquit after the last test, or ctx done: the stop signal while
	// waiting cancels ctx). An error ends the program with ExitUsage.
	Launch(ctx context.Context, cfg *Config, autostart bool) (bool, error)
	// Close ends what Launch started (a web server). Run calls it once,
	// before it returns, when it called Launch.
	Close() error
}

// launcher returns the extension that starts the tests, or nil when the
// run is headless or no extension is a Launcher.
func (s *session) launcher() Launcher {
	if s.o.headless {
		return nil
	}
	for _, e := range s.cmd.Extensions {
		if l, ok := e.(Launcher); ok {
			return l
		}
	}
	return nil
}

// runTests runs r, or, with a Launcher, the tests the Launcher starts
// (each with a new Runner made from cfg and types).
func (s *session) runTests(ctx context.Context, cfg Config, types []*UserType, r *Runner) int {
	l := s.launcher()
	if l == nil {
		if r == nil {
			var err error
			if r, err = s.newRunner(cfg, types); err != nil {
				return s.fail(oneLine(err))
			}
		}
		return s.run(ctx, r)
	}
	s.launched = true
	r = nil // the options' runner checked the types; each test gets its own
	defer func() {
		if err := l.Close(); err != nil {
			s.logger.Warn("closing the launcher", "error", err)
		}
	}()
	sigs := s.signals()
	code := 0
	for first := true; ; first = false {
		lctx, stop := signal.NotifyContext(ctx, sigs...)
		ok, err := l.Launch(lctx, &cfg, first && s.o.autostart)
		signalled := lctx.Err() != nil && ctx.Err() == nil
		stop()
		if err != nil {
			return s.fail(err)
		}
		if !ok || signalled || ctx.Err() != nil {
			if signalled {
				s.logger.Info("quitting on signal")
			}
			return code
		}
		if r == nil {
			if r, err = s.newRunner(cfg, types); err != nil {
				return s.fail(oneLine(err))
			}
		}
		code = s.run(ctx, r)
		if r.State() == StateReady { // Setup or an extension's Start failed: no test can run
			return code
		}
		r = nil
		if s.signalled.Load() || ctx.Err() != nil {
			return code
		}
	}
}
