package locust_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// lineServer is a line protocol server on 127.0.0.1: "ERR x" is answered
// "ERR x", "HANG" never, anything else "OK <line>". It counts the
// connections it accepted and those that the client closed.
type lineServer struct {
	ln             net.Listener
	wg             sync.WaitGroup
	mu             sync.Mutex
	conns          []net.Conn
	opened, closed atomic.Int64
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &lineServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.opened.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					line := sc.Text()
					switch {
					case line == "HANG":
						continue
					case strings.HasPrefix(line, "ERR "):
					default:
						line = "OK " + line
					}
					if _, err := c.Write([]byte(line + "\n")); err != nil {
						return
					}
				}
				s.closed.Add(1) // EOF: the client closed
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *lineServer) addr() string { return s.ln.Addr().String() }

// lineClient is a custom client written the short way: PerUser keeps one
// per user, Timed times and records each call.
type lineClient struct {
	u    *locust.User
	conn net.Conn
	rd   *bufio.Reader
}

func dialLine(ctx context.Context, u *locust.User) (*lineClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(u.Host(), "tcp://"))
	if err != nil {
		return nil, err
	}
	return &lineClient{u: u, conn: conn, rd: bufio.NewReader(conn)}, nil
}

func (c *lineClient) Send(ctx context.Context, name, line string) (string, error) {
	return locust.Timed(ctx, c.u, "line", name, func(ctx context.Context) (string, int64, error) {
		stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
		defer stop()
		if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
			return "", 0, err
		}
		reply, err := c.rd.ReadString('\n')
		if err != nil {
			return "", 0, err
		}
		reply = strings.TrimSuffix(reply, "\n")
		if msg, ok := strings.CutPrefix(reply, "ERR "); ok {
			return reply, int64(len(reply)), errors.New(msg)
		}
		return reply, int64(len(reply)), nil
	})
}

func (c *lineClient) Close() error { return c.conn.Close() }

func TestPerUserOpensOnStartAndClosesOnStop(t *testing.T) {
	srv := startLineServer(t)
	var mu sync.Mutex
	seen := map[*lineClient]int{} // client -> user id
	lines := &locust.PerUser[*lineClient]{Open: func(ctx context.Context, u *locust.User) (*lineClient, error) {
		c, err := dialLine(ctx, u)
		if err == nil {
			mu.Lock()
			seen[c] = u.ID()
			mu.Unlock()
		}
		return c, err
	}}
	typ := &locust.UserType{
		Name:    "Line",
		OnStart: lines.OnStart,
		OnStop:  lines.OnStop,
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			c := lines.Get(u)
			mu.Lock()
			owner := seen[c]
			mu.Unlock()
			if owner != u.ID() {
				return errors.New("a user got another user's client")
			}
			_, err := c.Send(ctx, "echo", "hello")
			return err
		}),
		Wait: locust.Constant(5 * time.Millisecond),
	}
	r := newRunner(t, locust.Config{Host: "tcp://" + srv.addr(), Users: 3, SpawnRate: 100, RunTime: 300 * time.Millisecond}, typ)
	run(t, r)

	s := r.Snapshot()
	assert.Empty(t, s.Exceptions)
	e, ok := s.Entry("line", "echo")
	require.True(t, ok)
	assert.Positive(t, e.Requests)
	assert.Zero(t, e.Failures)
	assert.Equal(t, int64(3), srv.opened.Load(), "one connection per user")
	assert.Len(t, seen, 3)
	assert.Eventually(t, func() bool { return srv.closed.Load() == 3 }, 5*time.Second, 5*time.Millisecond,
		"each user's client closed on its stop")
}

func TestPerUserGetWithoutClientIsAnException(t *testing.T) {
	lines := &locust.PerUser[*lineClient]{Open: dialLine}
	typ := &locust.UserType{
		Name: "NoStart", // OnStart forgotten
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := lines.Get(u).Send(ctx, "echo", "x")
			return err
		}),
	}
	r := newRunner(t, locust.Config{Host: "tcp://127.0.0.1:1", Users: 1, Iterations: 1}, typ)
	run(t, r)
	s := r.Snapshot()
	require.Len(t, s.Exceptions, 1)
	assert.Contains(t, s.Exceptions[0].Message, "has no *locust_test.lineClient client: set UserType.OnStart")
	assert.Zero(t, s.Total.Requests)
}

func TestPerUserCloseAndOpenErrors(t *testing.T) {
	tu := locust.NewTestUser(t.Context(), "")
	var closed []string
	p := &locust.PerUser[string]{
		Open:  func(ctx context.Context, u *locust.User) (string, error) { return "c1", nil },
		Close: func(c string) error { closed = append(closed, c); return errors.New("close failed") },
	}
	_, ok := p.Lookup(tu.User)
	assert.False(t, ok)
	require.NoError(t, p.OnStart(tu.Context(), tu.User))
	assert.Equal(t, "c1", p.Get(tu.User))
	assert.EqualError(t, p.OnStop(tu.Context(), tu.User), "close failed")
	assert.Equal(t, []string{"c1"}, closed)
	require.NoError(t, p.OnStop(tu.Context(), tu.User), "a second stop closes nothing")
	assert.Equal(t, []string{"c1"}, closed)
	assert.Panics(t, func() { p.Get(tu.User) })

	bad := &locust.PerUser[string]{Open: func(context.Context, *locust.User) (string, error) { return "", errors.New("no route") }}
	assert.EqualError(t, bad.OnStart(tu.Context(), tu.User), "no route")
	_, ok = bad.Lookup(tu.User)
	assert.False(t, ok)
	assert.Error(t, (&locust.PerUser[string]{}).OnStart(tu.Context(), tu.User), "no Open")
}

// closeOnly has a Close with no result.
type closeOnly struct{ closed *bool }

func (c closeOnly) Close() { *c.closed = true }

func TestPerUserClosesWithTheClientsOwnClose(t *testing.T) {
	tu := locust.NewTestUser(t.Context(), "")
	var closed bool
	p := &locust.PerUser[closeOnly]{Open: func(context.Context, *locust.User) (closeOnly, error) { return closeOnly{&closed}, nil }}
	require.NoError(t, p.OnStart(tu.Context(), tu.User))
	require.NoError(t, p.OnStop(tu.Context(), tu.User))
	assert.True(t, closed)
}

func TestTimedRecordsSuccessesAndFailures(t *testing.T) {
	srv := startLineServer(t)
	tu := locust.NewTestUser(t.Context(), "tcp://"+srv.addr())
	c, err := dialLine(tu.Context(), tu.User)
	require.NoError(t, err)
	defer c.Close()

	reply, err := c.Send(tu.Context(), "echo", "hi")
	require.NoError(t, err)
	assert.Equal(t, "OK hi", reply)
	_, err = c.Send(tu.Context(), "bad", "ERR no such key")
	require.EqualError(t, err, "no such key")
	assert.True(t, locust.IsRecorded(err), "a task may return it without a second count")

	reqs := tu.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "line", reqs[0].Type)
	assert.Equal(t, "echo", reqs[0].Name)
	assert.Equal(t, int64(len("OK hi")), reqs[0].Length)
	assert.NoError(t, reqs[0].Err)
	assert.Positive(t, reqs[0].Duration)
	assert.False(t, reqs[0].Start.IsZero())
	assert.Equal(t, "bad", reqs[1].Name)
	assert.EqualError(t, reqs[1].Err, "no such key")

	s := tu.Snapshot()
	assert.Equal(t, int64(2), s.Total.Requests)
	assert.Equal(t, int64(1), s.Total.Failures)
	assert.Zero(t, tu.CutShort())
}

func TestTimedCutShortByTheStop(t *testing.T) {
	srv := startLineServer(t)
	tu := locust.NewTestUser(t.Context(), "tcp://"+srv.addr())
	c, err := dialLine(tu.Context(), tu.User)
	require.NoError(t, err)
	defer c.Close()

	time.AfterFunc(50*time.Millisecond, tu.Stop)
	_, err = c.Send(tu.Context(), "hang", "HANG") // ends when the user stops
	require.Error(t, err)
	assert.True(t, locust.IsRecorded(err))
	assert.Empty(t, tu.Requests(), "in no entry")
	assert.Equal(t, int64(1), tu.CutShort(), "but counted")
}

func TestTimedTasksOwnTimeoutIsAFailure(t *testing.T) {
	srv := startLineServer(t)
	tu := locust.NewTestUser(t.Context(), "tcp://"+srv.addr())
	c, err := dialLine(tu.Context(), tu.User)
	require.NoError(t, err)
	defer c.Close()

	ctx, cancel := context.WithTimeout(tu.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Send(ctx, "hang", "HANG")
	require.Error(t, err)
	reqs := tu.Requests()
	require.Len(t, reqs, 1, "not a stop: recorded as a failure")
	assert.Error(t, reqs[0].Err)
	assert.Zero(t, tu.CutShort())
}

func TestTimedDoesNotAllocate(t *testing.T) {
	allocs := -1.0
	r := newRunner(t, locust.Config{Users: 1, Iterations: 1}, &locust.UserType{
		Name: "A",
		Tasks: locust.NewTaskSet("a").Task(1, func(ctx context.Context, u *locust.User) error {
			op := func(context.Context) (int, int64, error) { return 1, 10, nil }
			locust.Timed(ctx, u, "x", "y", op) // the entry is made once
			allocs = testing.AllocsPerRun(200, func() { locust.Timed(ctx, u, "x", "y", op) })
			return nil
		}),
	})
	run(t, r)
	assert.Zero(t, allocs)
}

func BenchmarkTimed(b *testing.B) {
	r, err := locust.NewRunner(quiet(locust.Config{Users: 1, Iterations: 1}), &locust.UserType{
		Name: "B",
		Tasks: locust.NewTaskSet("b").Task(1, func(ctx context.Context, u *locust.User) error {
			op := func(context.Context) (int, int64, error) { return 1, 10, nil }
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := locust.Timed(ctx, u, "x", "y", op); err != nil {
					return err
				}
			}
			return nil
		}),
	})
	require.NoError(b, err)
	require.NoError(b, r.Run(context.Background()))
}
