package client_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

func TestFastResponseIsReusedUntilCloned(t *testing.T) {
	srv := newTarget(t)
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.FastFor(u)
		r1, err := c.Get(ctx, "/item/1")
		require.NoError(t, err)
		kept := r1.Clone()
		r2, err := c.Get(ctx, "/item/2")
		require.NoError(t, err)
		assert.Same(t, r1, r2, "the session reuses its Response")
		assert.Equal(t, "item 1", kept.Text())
		assert.Equal(t, "item 2", r2.Text())
		return nil
	})
}

func TestFastSharesOneClientPerRunnerAndHost(t *testing.T) {
	srv := newTarget(t)
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		_, err := client.FastFor(u).Get(ctx, "/item/1")
		return err
	})}
	r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 4, Iterations: 40}, ut)
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background()))
	addr := strings.TrimPrefix(srv.URL, "http://")
	hc := client.SharedFastClient(r, addr, false)
	assert.Same(t, hc, client.SharedFastClient(r, addr, false))
	assert.LessOrEqual(t, hc.ConnsCount(), 0, "connections closed when the test stopped")
	assert.EqualValues(t, 40, r.Snapshot().Total.Requests)
}

// runOnceTB is runOnce for benchmarks too.
func runOnceTB(tb testing.TB, host string, task locust.TaskFunc) {
	tb.Helper()
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	// no log: a benchmark's output is read by benchstat
	r, err := locust.NewRunner(locust.Config{Host: host, Users: 1, Iterations: 1, Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(tb, err)
	require.NoError(tb, r.Run(context.Background()))
}

// cannedServer answers every request on 127.0.0.1 with a fixed 2-byte
// response, without allocating per request, so that allocation counts
// measure the client alone.
func cannedServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
	done := make(chan struct{})
	var conns sync.WaitGroup
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				tail := 0 // bytes of a possible "\r\n\r\n" split across reads
				for {
					n, err := c.Read(buf[tail:])
					if err != nil {
						return
					}
					data := buf[:tail+n]
					for {
						i := bytes.Index(data, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						data = data[i+4:]
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
					tail = copy(buf, data[max(0, len(data)-3):])
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done; conns.Wait() })
	return "http://" + ln.Addr().String()
}

// After warm-up a request allocates nothing (AllocsPerRun counts, it does
// not time; the target is canned so that only the client is counted).
func TestFastSteadyStateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	host := cannedServer(t)
	runOnce(t, host, func(ctx context.Context, u *locust.User) error {
		c := client.FastFor(u)
		for range 10 {
			_, err := c.Get(ctx, "/")
			require.NoError(t, err)
		}
		allocs := testing.AllocsPerRun(200, func() { _, _ = c.Get(ctx, "/") })
		assert.Zero(t, allocs)
		return nil
	})
}

// BenchmarkFastGet is one GET on a Fast session against a canned target,
// recorded in the full statistics engine.
func BenchmarkFastGet(b *testing.B) {
	host := cannedServer(b)
	runOnceTB(b, host, func(ctx context.Context, u *locust.User) error {
		c := client.FastFor(u)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "/"); err != nil {
				b.Fatal(err)
			}
		}
		return nil
	})
}

// BenchmarkHTTPGet is the same on the net/http session.
func BenchmarkHTTPGet(b *testing.B) {
	host := cannedServer(b)
	runOnceTB(b, host, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "/"); err != nil {
				b.Fatal(err)
			}
		}
		return nil
	})
}

// BenchmarkHTTPGetPlain is the reference for BenchmarkHTTPGet: the plain
// net/http loop a Go programmer would write (a tuned Transport, no
// per-request timeout, the body copied to io.Discard), no statistics.
func BenchmarkHTTPGetPlain(b *testing.B) {
	host := cannedServer(b)
	tr := &http.Transport{MaxIdleConns: 10, MaxIdleConnsPerHost: 10, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(host + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
