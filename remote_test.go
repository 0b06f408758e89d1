package locust_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// fakeRemote records what it is asked and reports users as told.
type fakeRemote struct {
	mu    sync.Mutex
	calls [][2]float64 // (n, rate) of each SetUsers
	users atomic.Int64
	err   error
}

func (f *fakeRemote) SetUsers(n int, rate float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, [2]float64{float64(n), rate})
	return nil
}

func (f *fakeRemote) Users() int { return int(f.users.Load()) }

func (f *fakeRemote) Workers() []locust.WorkerStatus {
	return []locust.WorkerStatus{{ID: "w1", State: "running", Users: f.Users(), CPU: 12.5}}
}

func (f *fakeRemote) got() [][2]float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]float64(nil), f.calls...)
}

var _ locust.Remote = (*fakeRemote)(nil)

// With a Remote the runner runs no user of its own: its target goes to the
// Remote, SetUsers reaches it, and the user count, the snapshot's and the
// workers are the Remote's.
func TestRunnerWithRemote(t *testing.T) {
	var ran atomic.Int64
	typ := &locust.UserType{Name: "A", Tasks: locust.NewTaskSet("A").Task(1, func(_ context.Context, u *locust.User) error {
		ran.Add(1)
		u.RecordSuccess("GET", "/", time.Microsecond, 0)
		return nil
	})}
	r := newRunner(t, locust.Config{Users: 5, SpawnRate: 2}, typ)
	assert.Nil(t, r.Workers(), "no remote: no workers")
	rem := &fakeRemote{}
	require.NoError(t, r.SetRemote(rem))
	assert.Same(t, rem, r.Remote())
	assert.Equal(t, [][2]float64{{5, 2}}, rem.got(), "the target so far goes to the remote")

	wait := start(t, r)
	require.Eventually(t, func() bool { return r.State() == locust.StateRunning }, 5*time.Second, time.Millisecond)
	rem.users.Store(7)
	require.NoError(t, r.SetUsers(9, 3))
	assert.Equal(t, [][2]float64{{5, 2}, {9, 3}}, rem.got())
	assert.Equal(t, 7, r.UserCount())
	assert.Equal(t, 7, r.Snapshot().UserCount)
	assert.Equal(t, []locust.WorkerStatus{{ID: "w1", State: "running", Users: 7, CPU: 12.5}}, r.Workers())
	require.Error(t, r.SetUsers(-1, 0), "bad values are refused before the remote")
	assert.Len(t, rem.got(), 2)
	rem.err = errors.New("no worker")
	assert.EqualError(t, r.SetUsers(3, 1), "no worker")
	time.Sleep(50 * time.Millisecond)
	r.Stop()
	require.NoError(t, wait())
	assert.Zero(t, ran.Load(), "no local user ran")
	assert.Zero(t, r.Snapshot().Total.Requests)

	// nil: its own users again
	r2 := newRunner(t, locust.Config{Users: 2}, typ)
	require.NoError(t, r2.SetRemote(rem2()))
	require.NoError(t, r2.SetRemote(nil))
	require.NoError(t, r2.SetUsers(1, 0))
	wait = start(t, r2)
	require.Eventually(t, func() bool { return r2.UserCount() == 1 && ran.Load() > 0 }, 5*time.Second, time.Millisecond)
	r2.Stop()
	require.NoError(t, wait())
}

func rem2() *fakeRemote { return &fakeRemote{} }
