package client_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

// droppingTarget is a raw HTTP/1.1 target on 127.0.0.1 that counts what it
// goes through. Each connection serves two requests with keep-alive; the
// third request on a connection is answered with "Connection: close",
// except on every third connection, which is closed right after reading it,
// without a response byte. A client then finds a reused connection closed
// before the response: the case where net/http and fasthttp retry.
type droppingTarget struct {
	url      string
	received atomic.Int64 // requests read in full
	closed   atomic.Int64 // connections closed without answering
}

func newDroppingTarget(t *testing.T) *droppingTarget {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &droppingTarget{url: "http://" + ln.Addr().String()}
	var (
		mu    sync.Mutex
		open  = map[net.Conn]bool{}
		conns sync.WaitGroup
		nconn int
	)
	keep := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	last := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	serve := func(c net.Conn, drop bool) {
		defer conns.Done()
		defer func() {
			mu.Lock()
			delete(open, c)
			mu.Unlock()
			c.Close()
		}()
		var buf []byte
		chunk := make([]byte, 4096)
		for n := 1; ; {
			i := bytes.Index(buf, []byte("\r\n\r\n"))
			if i < 0 {
				m, err := c.Read(chunk)
				if err != nil {
					return
				}
				buf = append(buf, chunk[:m]...)
				continue
			}
			buf = buf[i+4:] // a GET: no body
			d.received.Add(1)
			switch {
			case n < 3:
				if _, err := c.Write(keep); err != nil {
					return
				}
			case drop:
				d.closed.Add(1)
				return
			default:
				_, _ = c.Write(last)
				return
			}
			n++
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			nconn++
			open[c] = true
			drop := nconn%3 == 0
			mu.Unlock()
			conns.Add(1)
			go serve(c, drop)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	return d
}

// Every attempt a client makes is one request in the statistics: no retry
// hides a connection the target closed, on either client.
func TestEveryAttemptIsARequest(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		target := newDroppingTarget(t)
		ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := k.forU(u).Get(ctx, "/")
			return err
		})}
		r, err := locust.NewRunner(locust.Config{Host: target.url, Users: 2, Iterations: 40}, ut)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, r.Run(ctx))
		snap := r.Snapshot()
		require.Positive(t, target.closed.Load(), "the target closed connections")
		assert.Equal(t, target.received.Load(), snap.Total.Requests, "requests recorded == requests the target received")
		assert.Equal(t, target.closed.Load(), snap.Total.Failures, "failures == connections closed before the response")
		assert.Zero(t, snap.CutShort)
		assert.Empty(t, snap.Exceptions)
		require.Len(t, snap.Errors, 1, "one grouping text: %v", snap.Errors)
		assert.Equal(t, "connection closed before the response", snap.Errors[0].Error)
		assert.Equal(t, target.closed.Load(), snap.Errors[0].Occurrences)
	})
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
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &closeSignalConn{Conn: c, closed: make(chan struct{})}, nil
	}}
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
		case <-info.Conn.(*closeSignalConn).closed:
			closedIdle.Add(1)
		case <-time.After(5 * time.Second):
			t.Error("the transport did not see the idle connection closed")
		}
	}}
	const n = 6
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.NewHTTP(u, client.WithTransport(tr))
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
