package cluster

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/shape"
)

// The command line's --master with --stages and two Go workers: the shape
// drives the master as it drives a local runner, the master hands out each
// new count among the workers (2 + 2, then 1 + 1), the runner's user count
// is the workers' sum, and the test ends when the shape does, with the
// workers' requests in the summary.
func TestMasterFollowsStages(t *testing.T) {
	port := freePort(t)
	var n atomic.Int64
	rec := func() *locust.UserType {
		return &locust.UserType{Name: "Rec", Wait: locust.Constant(10 * time.Millisecond),
			Tasks: locust.NewTaskSet("Rec").Task(1, func(_ context.Context, u *locust.User) error {
				u.RecordSuccess("GET", "/r", time.Millisecond, 10)
				n.Add(1)
				return nil
			})}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, wait := runGoWorkers(t, ctx, 2, fastConfig(t, port), []*locust.UserType{rec()})

	var runner atomic.Pointer[locust.Runner]
	var out, errb testutil.Buffer
	cmd := &locust.Command{
		Users: []*locust.UserType{rec()}, Extensions: []locust.Extension{NewExtension(), shape.NewExtension(nil)},
		Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Dir: t.TempDir(), Name: "master",
		Setup: func(_ context.Context, r *locust.Runner) error { runner.Store(r); return nil },
	}
	code := make(chan int, 1)
	go func() {
		code <- cmd.Run(ctx, []string{"--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
			"--expect-workers", "2", "--headless", "--only-summary", "--stages", "1s:4,3s:4,1s:2,3s:2"})
	}()
	type view struct{ a, b, sum int }
	var seen []view
	a, b := ws[0].NodeID(), ws[1].NodeID()
	for done := false; !done; {
		select {
		case c := <-code:
			require.Equal(t, 0, c, "stderr:\n%s", errb.String())
			done = true
		case <-time.After(20 * time.Millisecond):
		}
		r := runner.Load()
		if r == nil || done {
			continue
		}
		v := view{sum: r.UserCount()}
		for _, w := range r.Workers() {
			switch w.ID {
			case a:
				v.a = w.Users
			case b:
				v.b = w.Users
			}
		}
		if len(seen) == 0 || seen[len(seen)-1] != v {
			seen = append(seen, v)
		}
	}
	t.Logf("users seen (worker a, worker b, runner): %v", seen)
	assert.Contains(t, seen, view{2, 2, 4}, "the first stage's 4 users, 2 on each worker")
	assert.Contains(t, seen, view{1, 1, 2}, "the next stage's 2 users, 1 on each")
	i4, i2 := -1, -1
	for i, v := range seen {
		if v == (view{2, 2, 4}) && i4 < 0 {
			i4 = i
		}
		if v == (view{1, 1, 2}) {
			i2 = i
		}
	}
	assert.Less(t, i4, i2, "4 users, then 2")
	r := runner.Load()
	require.NotNil(t, r)
	assert.Equal(t, "load shape ended", r.StopReason())
	for _, err := range wait() {
		require.NoError(t, err, "the workers end on the master's quit")
	}
	assert.Equal(t, n.Load(), r.Snapshot().Total.Requests+ws[0].CutShort()+ws[1].CutShort(), "every request in the summary or cut short")
	assert.Contains(t, out.String(), "/r")
}
