package locust_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// A spawn rate far above what the machine can start completes: when the
// next user is due before the control loop has computed when, it is
// started at once (a negative wait once left the spawn stalled forever).
func TestSpawnAtAVeryHighRateCompletes(t *testing.T) {
	defer goleak.VerifyNone(t)
	ut := &locust.UserType{Name: "Idle", Wait: locust.Constant(time.Hour), Tasks: locust.NewTaskSet("t").Task(1, noop)}
	for i := range 30 {
		r := newRunner(t, locust.Config{Users: 300, SpawnRate: 1e6}, ut)
		spawned := make(chan int, 1)
		r.Events().SpawningComplete.Add(func(n int) { spawned <- n })
		wait := start(t, r)
		select {
		case n := <-spawned:
			assert.Equal(t, 300, n)
		case <-time.After(5 * time.Second):
			t.Errorf("run %d: spawning stalled at %d users", i, r.UserCount())
		}
		r.Stop()
		require.NoError(t, wait())
	}
}
