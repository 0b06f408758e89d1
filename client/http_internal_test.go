package client

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
)

// readBody reads a body of known length in one allocation, and still
// reads all of a body longer than announced or reports one cut short.
func TestReadBody(t *testing.T) {
	var br bytes.Reader
	resp := &http.Response{Body: io.NopCloser(&br), Request: &http.Request{Method: http.MethodGet}}
	read := func(body string, length int64) ([]byte, error) {
		br.Reset([]byte(body))
		resp.ContentLength = length
		return readBody(resp)
	}
	b, err := read("hello", 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	b, err = read("hello, world", 5)
	require.NoError(t, err)
	assert.Equal(t, "hello, world", string(b), "a body longer than announced is read in full")
	b, err = read("hel", 5)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, "hel", string(b), "the bytes that came")
	b, err = read("chunked", -1)
	require.NoError(t, err)
	assert.Equal(t, "chunked", string(b))

	if testing.Short() || raceEnabled {
		return
	}
	data := []byte("hello")
	resp.ContentLength = 5
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(data)
		if _, err := readBody(resp); err != nil {
			t.Fatal(err)
		}
	})
	assert.EqualValues(t, 1, allocs, "one allocation: the body")
}

// closeSignalConn is a client connection that says when it is closed.
type closeSignalConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignalConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// An attempt that net/http never wrote is not a request: when the target
// closes an idle kept-alive connection and the transport finds it closed
// before writing the next request on it, net/http sends that request again
// on a new connection. The target received it once, so it is one request,
// and no failure.
func TestUnwrittenAttemptIsNotARequest(t *testing.T) {
	var received atomic.Int64
	var serverConns sync.Map // client address -> server side net.Conn
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			serverConns.Store(c.RemoteAddr().String(), c)
		}
	}
	srv.Start()
	defer srv.Close()
	dialer := &net.Dialer{}
	// the shared transport's counting connections, over connections that
	// say when they are closed
	tr := &http.Transport{DialContext: countingDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &closeSignalConn{Conn: c, closed: make(chan struct{})}, nil
	})}
	defer tr.CloseIdleConnections()
	// each time the session reuses an idle connection, the target closes
	// it first, and the transport sees it closed before writing on it
	var closedIdle atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			return
		}
		sc, ok := serverConns.Load(info.Conn.LocalAddr().String())
		if !assert.True(t, ok, "the target's side of the connection") {
			return
		}
		sc.(net.Conn).Close()
		select {
		case <-info.Conn.(*countingConn).Conn.(*closeSignalConn).closed:
			closedIdle.Add(1)
		case <-time.After(5 * time.Second):
			t.Error("the transport did not see the idle connection closed")
		}
	}}
	const n = 6
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := NewHTTP(u, WithTransport(tr))
		ctx = httptrace.WithClientTrace(ctx, trace)
		for range n {
			_, err := c.Get(ctx, "/")
			require.NoError(t, err)
		}
		return nil
	})
	require.EqualValues(t, n-1, closedIdle.Load(), "every request after the first found its connection closed")
	assert.EqualValues(t, n, received.Load())
	assert.Equal(t, received.Load(), snap.Total.Requests, "requests recorded == requests the target received")
	assert.Zero(t, snap.Total.Failures, "an attempt never written is no failure: %v", snap.Errors)
}

// failSecondWrite is a connection whose second write fails with nothing
// written, as a write to a connection the peer has reset does.
type failSecondWrite struct {
	net.Conn
	writes int
}

func (c *failSecondWrite) Write(b []byte) (int, error) {
	c.writes++
	if c.writes == 2 {
		return 0, syscall.EPIPE
	}
	return c.Conn.Write(b)
}

// net/http calls WroteRequest once the request is in its write buffer,
// before the write to the connection: when that write fails with nothing
// written, net/http retries the request on a new connection, and the
// target never saw the failed attempt. The shared transport's connections
// count their bytes, so the session does not count that attempt.
func TestWriteThatFailsWithNothingWrittenIsNotARequest(t *testing.T) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: countingDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &failSecondWrite{Conn: c}, nil
	})}
	defer tr.CloseIdleConnections()
	const n = 5
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := NewHTTP(u, WithTransport(tr))
		for range n {
			_, err := c.Get(ctx, "/")
			require.NoError(t, err)
		}
		return nil
	})
	assert.EqualValues(t, n, received.Load())
	assert.Equal(t, received.Load(), snap.Total.Requests, "requests recorded == requests the target received")
	assert.Zero(t, snap.Total.Failures, "a write that failed with nothing written is no failure: %v", snap.Errors)
}

// On https the shared transport's connections count their bytes under TLS:
// the session finds the counting connection beneath the *tls.Conn.
func TestCountingConnUnderTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	var counted int64
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		tr := SharedTransport(u.Runner())
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig // trust the test's certificate
		s := NewHTTP(u)
		for range 3 {
			r, err := s.Get(ctx, "/")
			require.NoError(t, err)
			assert.Equal(t, "ok", r.Text())
		}
		if assert.NotNil(t, s.conn, "the attempt's counting connection") {
			counted = s.conn.written.Load()
		}
		return nil
	})
	assert.Positive(t, counted, "bytes written through TLS were counted")
	assert.EqualValues(t, 3, snap.Total.Requests)
}

// runOnce runs task once, as the only task of one user against host, and
// returns the run's statistics.
func runOnce(t *testing.T, host string, task locust.TaskFunc) *locust.Snapshot {
	t.Helper()
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Host: host, Users: 1, Iterations: 1}, ut)
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background()))
	return r.Snapshot()
}
