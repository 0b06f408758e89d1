package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

func TestFastCookiesNamesAndFailures(t *testing.T) {
	srv := newTarget(t)
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.FastFor(u)
		require.Same(t, c, client.FastFor(u), "one session per user")
		_, err := c.PostForm(ctx, "/login", url.Values{"username": {"kubilay"}})
		require.NoError(t, err)
		resp, err := c.Get(ctx, "/home")
		require.NoError(t, err)
		assert.Equal(t, "hello kubilay", resp.Text())
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, srv.URL+"/home", resp.URL)
		assert.NotEmpty(t, resp.Header.Get("Content-Type"))
		for i := range 3 {
			_, err := c.Get(ctx, "/item/"+string(rune('1'+i)), client.Name("/item/{id}"))
			require.NoError(t, err)
		}
		_, err = c.Get(ctx, "/error")
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 500, ce.StatusCode)
		assert.True(t, locust.IsRecorded(err))
		_, err = c.Get(ctx, "/nothing", client.ExpectStatus(404))
		require.NoError(t, err)
		_, err = c.Get(ctx, "/item/9", client.Check(func(r *client.Response) error {
			if !strings.Contains(r.Text(), "widget") {
				return errors.New("no widget in body")
			}
			return nil
		}))
		require.Error(t, err)
		_, err = c.Get(ctx, "/slow", client.Timeout(50*time.Millisecond))
		require.Error(t, err)
		return err // already recorded: must not count as an exception
	})
	get := func(typ, name string) locust.EntryStats {
		e, ok := snap.Entry(typ, name)
		require.True(t, ok, "%s %s", typ, name)
		return e
	}
	assert.EqualValues(t, 1, get("POST", "/login").Requests)
	assert.EqualValues(t, 0, get("GET", "/home").Failures)
	assert.EqualValues(t, 3, get("GET", "/item/{id}").Requests)
	assert.EqualValues(t, 1, get("GET", "/error").Failures)
	assert.EqualValues(t, 0, get("GET", "/nothing").Failures)
	assert.EqualValues(t, 1, get("GET", "/item/9").Failures)
	assert.EqualValues(t, 1, get("GET", "/slow").Failures)
	assert.Empty(t, snap.Exceptions)
	msgs := map[string]bool{}
	for _, e := range snap.Errors {
		msgs[e.Method+" "+e.Name+": "+e.Error] = true
	}
	assert.True(t, msgs["GET /error: HTTP 500 Internal Server Error"], msgs)
	assert.True(t, msgs["GET /item/9: no widget in body"], msgs)
	assert.True(t, msgs["GET /slow: timeout after 50ms"], msgs)
}

func TestFastDeadTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	snap := runOnce(t, "http://"+addr, func(ctx context.Context, u *locust.User) error {
		_, err := client.FastFor(u).Get(ctx, "/")
		return err
	})
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "connection refused ("+addr+")", snap.Errors[0].Error)
	assert.Empty(t, snap.Exceptions)
}

func TestFastNoHostIsAnException(t *testing.T) {
	snap := runOnce(t, "", func(ctx context.Context, u *locust.User) error {
		_, err := client.FastFor(u).Get(ctx, "/")
		return err
	})
	require.Len(t, snap.Exceptions, 1)
	assert.Contains(t, snap.Exceptions[0].Message, "no host")
	assert.EqualValues(t, 0, snap.Total.Requests)
}

func TestFastRequestsCarryHeadersBodyAndMethod(t *testing.T) {
	type seen struct{ method, path, query, ctype, body, hdr, sess string }
	got := make(chan seen, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), string(b), r.Header.Get("X-Req"), r.Header.Get("X-Session")}
		w.Header().Set("X-Answer", "42")
		w.Write([]byte("done"))
	}))
	t.Cleanup(srv.Close)
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.NewFast(u, client.WithHeader("X-Session", "s1"))
		resp, err := c.Post(ctx, "/p?x=1", "text/plain", []byte("hello"), client.Header("X-Req", "r1"))
		require.NoError(t, err)
		assert.Equal(t, "42", resp.Header.Get("X-Answer"))
		assert.Equal(t, seen{"POST", "/p", "x=1", "text/plain", "hello", "r1", "s1"}, <-got)
		_, err = c.PostJSON(ctx, "/j", map[string]int{"a": 1})
		require.NoError(t, err)
		assert.Equal(t, seen{"POST", "/j", "", "application/json", `{"a":1}`, "", "s1"}, <-got)
		_, err = c.Do(ctx, &client.Request{Method: "PUT", Path: srv.URL + "/full", Body: []byte("b")})
		require.NoError(t, err)
		s := <-got
		s.ctype = "" // fasthttp sends application/octet-stream when none is given
		assert.Equal(t, seen{"PUT", "/full", "", "", "b", "", "s1"}, s)
		_, err = c.Delete(ctx, "/d")
		require.NoError(t, err)
		assert.Equal(t, "DELETE", (<-got).method)
		resp, err = c.Head(ctx, "/h")
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Empty(t, resp.Body)
		assert.Equal(t, "HEAD", (<-got).method)
		return nil
	})
}

func TestFastFollowsRedirectsUnlessTold(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "v"})
		http.Redirect(w, r, "/next", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /next", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("s")
		if err != nil {
			http.Error(w, "no cookie", 401)
			return
		}
		w.Write([]byte("next " + c.Value))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		resp, err := client.FastFor(u).PostForm(ctx, "/form", url.Values{"a": {"b"}})
		require.NoError(t, err)
		assert.Equal(t, "next v", resp.Text())
		resp, err = client.NewFast(u, client.WithoutRedirects()).PostForm(ctx, "/form", nil, client.Name("nofollow"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		return nil
	})
	e, ok := snap.Entry("POST", "/form")
	require.True(t, ok)
	assert.EqualValues(t, 1, e.Requests, "a followed redirect is one request")
	assert.EqualValues(t, 0, e.Failures)
}

func TestFastCookiesCanBeTurnedOff(t *testing.T) {
	srv := newTarget(t)
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.NewFast(u, client.WithoutCookies())
		_, err := c.PostForm(ctx, "/login", url.Values{"username": {"x"}})
		require.NoError(t, err)
		resp, err := c.Get(ctx, "/home")
		require.Error(t, err)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		return nil
	})
}

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

// A user stopped while its request waits on a slow target returns at once
// and the request is not recorded.
func TestFastStopCutsRequestShortAndDoesNotRecordIt(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		_, err := client.FastFor(u).Get(ctx, "/")
		return err
	})}
	r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 2}, ut)
	require.NoError(t, err)
	go func() {
		for started.Load() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		r.Stop()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	require.NoError(t, ctx.Err(), "Run returned because the requests were cut, not because of the guard")
	snap := r.Snapshot()
	assert.EqualValues(t, 0, snap.Total.Requests)
	assert.Empty(t, snap.Errors)
	assert.Empty(t, snap.Exceptions)
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
	r, err := locust.NewRunner(locust.Config{Host: host, Iterations: 1}, ut)
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
