package client_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
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

// attemptsAgainstDroppingTarget runs 2 users of task for 40 iterations
// against a target that closes every third connection right after reading
// the request, checks that the requests recorded are what the target
// received and the failures the connections it closed, and returns the
// statistics.
func attemptsAgainstDroppingTarget(t *testing.T, task locust.TaskFunc) *locust.Snapshot {
	t.Helper()
	target := newDroppingTarget(t)
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Host: target.url, Users: 2, Iterations: 40}, ut)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	snap := r.Snapshot()
	require.Positive(t, target.closed.Load(), "the target closed connections")
	assert.Equal(t, target.received.Load(), snap.Total.Requests, "requests recorded == requests the target received")
	assert.Equal(t, target.closed.Load(), snap.Total.Failures, "failures == connections closed before the response")
	return snap
}

// Every attempt a client makes is one request in the statistics: no retry
// hides a connection the target closed, on either client.
func TestEveryAttemptIsARequest(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		snap := attemptsAgainstDroppingTarget(t, func(ctx context.Context, u *locust.User) error {
			_, err := k.forU(u).Get(ctx, "/")
			return err
		})
		assert.Zero(t, snap.CutShort)
		assert.Empty(t, snap.Exceptions)
		require.Len(t, snap.Errors, 1, "one grouping text: %v", snap.Errors)
		assert.Equal(t, "connection closed before the response", snap.Errors[0].Error)
		assert.Equal(t, snap.Total.Failures, snap.Errors[0].Occurrences)
	})
}

// On a transport of the user's own (WithTransport), whose connections do
// not count their bytes, the session tells a written attempt by net/http's
// WroteRequest hook: the same contract holds for a target that closes a
// connection right after reading the request.
func TestEveryAttemptIsARequestOnOwnTransport(t *testing.T) {
	tr := &http.Transport{MaxIdleConnsPerHost: 10}
	defer tr.CloseIdleConnections()
	attemptsAgainstDroppingTarget(t, func(ctx context.Context, u *locust.User) error {
		s, ok := u.Value(ownTransportKey{}).(*client.HTTP)
		if !ok {
			s = client.NewHTTP(u, client.WithTransport(tr))
			u.SetValue(ownTransportKey{}, s)
		}
		_, err := s.Get(ctx, "/")
		return err
	})
}

type ownTransportKey struct{}
