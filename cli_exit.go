package locust

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// Exit codes of Command.Run:
//
//	0    the test ran and nothing failed (or the extensions' verdicts say so)
//	1    a request failed or user code raised an error (--exit-code-on-error)
//	2    ExitUsage: a bad option, value, config file or user type; or the test
//	     was aborted (Runner.Abort: a client found no host)
//	3    a threshold failed (the threshold extension's verdict)
//	130  a second SIGINT: the summary and reports of what there was, at once
//	143  a second SIGTERM: the same
const (
	// ExitUsage is returned for bad flags, bad values or bad definitions,
	// and when the test was aborted (Runner.Abort).
	ExitUsage = 2
	// ExitInterrupted is returned after a second SIGINT (128 + 2).
	ExitInterrupted = 130
	// ExitTerminated is returned after a second SIGTERM (128 + 15).
	ExitTerminated = 143
)

// exitCodeForSignal is the shell's code for a process ended by sig.
func exitCodeForSignal(sig os.Signal) int {
	if n, ok := sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return ExitInterrupted
}

// fail prints one error line (several errors joined on it) and returns
// ExitUsage.
func (s *session) fail(err error) int {
	fmt.Fprintf(s.stderr, "%s: error: %v\n", s.name, oneLine(err))
	return ExitUsage
}

func (s *session) failf(format string, a ...any) int {
	return s.fail(fmt.Errorf(format, a...))
}

// finish prints the final summary, lets the extensions write their
// reports and decide, and returns the exit code.
func (s *session) finish(ctx context.Context, r *Runner, final *Snapshot) int {
	printSummary(s.text, final)
	r.events.Report.fire(&ReportData{Snapshot: final})
	code := 0
	if final.Total.Failures > 0 || len(final.Exceptions) > 0 {
		code = s.o.exitOnError
	}
	decided, best := false, 0
	for _, e := range s.cmd.Extensions {
		out := s.text
		if e == s.reserver {
			out = s.stdout
		}
		v, err := e.Stop(context.WithoutCancel(ctx), r, final, out)
		if err != nil {
			fmt.Fprintf(s.stderr, "%s: error: %v\n", s.name, err)
			if !decided && code == 0 {
				code = 1
			}
		}
		if v.Decided {
			if !decided || v.ExitCode > best {
				best = v.ExitCode
			}
			decided = true
		}
	}
	if decided {
		code = best
	}
	r.events.Quitting.fire(r)
	return code
}
