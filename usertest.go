package locust

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// TestUser is a User for unit tests of a client, with no test running: a
// client records into it exactly as into a running user, and the test
// reads back what was recorded (Requests) and the statistics (Snapshot).
//
//	tu := locust.NewTestUser(t.Context(), "tcp://"+srv.Addr())
//	c, err := NewClient(tu.Context(), tu.User)
//	require.NoError(t, err)
//	reply, err := c.Send(tu.Context(), "PING", "PING")
//	require.NoError(t, err)
//	require.Len(t, tu.Requests(), 1)
//
// Stop stops the user as the end of a test does, to test a client's stop
// rule. The embedded *User is used by one goroutine at a time, as in a
// test; Requests, Snapshot, CutShort and Stop are safe for concurrent use.
type TestUser struct {
	*User
	r      *Runner
	mu     sync.Mutex
	reqs   []Request
	remove func()
}

// NewTestUser returns a user of host (Config.Host) whose context derives
// from ctx (use t.Context()). It starts no goroutine.
func NewTestUser(ctx context.Context, host string) *TestUser {
	typ := &UserType{Name: "TestUser", Tasks: NewTaskSet("test").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{Host: host, Logger: slog.New(slog.DiscardHandler)}, typ)
	if err != nil {
		panic("locust: NewTestUser: " + err.Error()) // typ is valid
	}
	uctx, cancel := context.WithCancelCause(ctx)
	u := &User{
		ctx:     uctx,
		id:      1,
		runner:  r,
		plan:    r.plans[typ],
		wake:    make(chan struct{}, 1),
		heapIdx: -1,
		cancel:  cancel,
	}
	tu := &TestUser{User: u, r: r}
	tu.remove = r.events.Request.Add(func(req Request) {
		tu.mu.Lock()
		tu.reqs = append(tu.reqs, req)
		tu.mu.Unlock()
	})
	return tu
}

// Context is the user's context: hand it to the client's calls as a task
// would. It ends (with the cause ErrUserStopped) on Stop, or when the ctx
// given to NewTestUser ends.
func (tu *TestUser) Context() context.Context { return tu.ctx }

// Stop stops the user at once, as the end of a test without a stop
// timeout does: its context is cancelled with the cause ErrUserStopped.
func (tu *TestUser) Stop() { tu.requestStop() }

// Requests returns the requests recorded so far, in order (requests cut
// short by the stop are not among them; see CutShort).
func (tu *TestUser) Requests() []Request {
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return slices.Clone(tu.reqs)
}

// CutShort is the number of requests cut short by the stop
// (User.RecordCutShort).
func (tu *TestUser) CutShort() int64 { return tu.Snapshot().CutShort }

// Snapshot returns the statistics of what the user recorded.
func (tu *TestUser) Snapshot() *Snapshot { return tu.r.Snapshot() }

// Runner is the runner the user records into; it is never run. Add event
// listeners to it (Events) to test them with the client.
func (tu *TestUser) Runner() *Runner { return tu.r }
