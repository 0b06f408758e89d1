package locust

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test of the package (internal or external) leaves
// a goroutine behind: every runner must stop all of its users.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// signal.Notify (Command.Run) starts the runtime's signal loop once
		// per process; it is not ours to stop.
		goleak.IgnoreTopFunction("os/signal.signal_recv"),
	)
}
