package locust_test

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func TestRequestSuccessAndFailureHooks(t *testing.T) {
	step := atomic.Int64{}
	typ := &locust.UserType{Name: "Hooks", Tasks: locust.NewTaskSet("h").Task(1, func(ctx context.Context, u *locust.User) error {
		if step.Add(1)%4 == 0 {
			_, err := locust.Timed(ctx, u, "tcp", "bad", func(context.Context) (int, int64, error) { return 0, 0, errors.New("refused") })
			return err
		}
		_, err := locust.Timed(ctx, u, "tcp", "good", func(context.Context) (int, int64, error) { return 0, 7, nil })
		return err
	})}
	r := newRunner(t, locust.Config{Users: 2, Iterations: 40}, typ)
	var all, ok, failed atomic.Int64
	r.Events().Request.Add(func(locust.Request) { all.Add(1) })
	r.Events().RequestSuccess.Add(func(req locust.Request) {
		if req.Err == nil && req.Name == "good" && req.Length == 7 {
			ok.Add(1)
		}
	})
	r.Events().RequestFailure.Add(func(req locust.Request) {
		if req.Err != nil && req.Err.Error() == "refused" && req.Name == "bad" {
			failed.Add(1)
		}
	})
	run(t, r)
	assert.Equal(t, int64(40), all.Load())
	assert.Equal(t, int64(30), ok.Load())
	assert.Equal(t, int64(10), failed.Load())
	assert.Empty(t, r.Snapshot().Exceptions)
}

func TestRequestFailureListenerPanicIsAnException(t *testing.T) {
	tu := locust.NewTestUser(t.Context(), "")
	tu.Runner().Events().RequestFailure.Add(func(locust.Request) { panic("listener bug") })
	tu.RecordFailure("x", "y", 1, errors.New("e"))
	tu.RecordSuccess("x", "y", 1, 1) // not a failure: the listener is not called
	s := tu.Snapshot()
	require.Len(t, s.Exceptions, 1)
	assert.Contains(t, s.Exceptions[0].Message, "listener bug")
	assert.Equal(t, int64(1), s.Exceptions[0].Count)
	assert.Len(t, tu.Requests(), 2)
}

// TestUserCodeCannotFireRunnerEvents: every event of the bus can be
// listened to, none can be fired from outside the package.
func TestUserCodeCannotFireRunnerEvents(t *testing.T) {
	ev := reflect.TypeOf(locust.Events{})
	require.Positive(t, ev.NumField())
	for i := range ev.NumField() {
		f := ev.Field(i)
		if !f.IsExported() {
			continue
		}
		pt := reflect.PointerTo(f.Type)
		_, canAdd := pt.MethodByName("Add")
		assert.True(t, canAdd, "%s can be listened to", f.Name)
		for j := range pt.NumMethod() {
			m := pt.Method(j).Name
			assert.Contains(t, []string{"Add", "Len"}, m, "Events.%s has the method %s: user code could fire it", f.Name, m)
		}
	}
}
