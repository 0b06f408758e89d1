package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

func TestMain(m *testing.M) {
	// fasthttp's idle-connection cleaner of a runner's shared client sleeps
	// until its idle timeout before it sees that the pool was closed.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"))
}

// session is what HTTP and Fast have in common: the tests below hold both
// to the same contract.
type session interface {
	client.Client
	Get(ctx context.Context, path string, opts ...client.RequestOption) (*client.Response, error)
	Head(ctx context.Context, path string, opts ...client.RequestOption) (*client.Response, error)
	Delete(ctx context.Context, path string, opts ...client.RequestOption) (*client.Response, error)
	Options(ctx context.Context, path string, opts ...client.RequestOption) (*client.Response, error)
	Post(ctx context.Context, path, contentType string, body []byte, opts ...client.RequestOption) (*client.Response, error)
	Put(ctx context.Context, path, contentType string, body []byte, opts ...client.RequestOption) (*client.Response, error)
	Patch(ctx context.Context, path, contentType string, body []byte, opts ...client.RequestOption) (*client.Response, error)
	PostForm(ctx context.Context, path string, form url.Values, opts ...client.RequestOption) (*client.Response, error)
	PostJSON(ctx context.Context, path string, v any, opts ...client.RequestOption) (*client.Response, error)
}

var (
	_ session = (*client.HTTP)(nil)
	_ session = (*client.Fast)(nil)
)

// kind is one of the shipped clients: its per-user default session and a
// constructor taking options.
type kind struct {
	name   string
	forU   func(u *locust.User) session
	newFor func(u *locust.User, opts ...client.HTTPOption) session
}

var kinds = []kind{
	{"HTTP",
		func(u *locust.User) session { return client.HTTPFor(u) },
		func(u *locust.User, opts ...client.HTTPOption) session { return client.NewHTTP(u, opts...) }},
	{"Fast",
		func(u *locust.User) session { return client.FastFor(u) },
		func(u *locust.User, opts ...client.HTTPOption) session { return client.NewFast(u, opts...) }},
}

// eachKind runs test once per shipped client.
func eachKind(t *testing.T, test func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

// runOnce runs task once on a runner whose host is host and returns the
// final snapshot.
func runOnce(t *testing.T, host string, task locust.TaskFunc) *locust.Snapshot {
	t.Helper()
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Host: host, Users: 1, Iterations: 1}, ut)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	return r.Snapshot()
}

func newTarget(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("username") == "" {
			http.Error(w, "no user", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: r.FormValue("username")})
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "login first", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("hello " + c.Value))
	})
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("item " + r.PathValue("id"))) })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestCookiesNamesAndFailures(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		srv := newTarget(t)
		snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			c := k.forU(u)
			require.Same(t, c, k.forU(u), "one session per user")
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
			// judge it yourself: a 404 as a success, a 200 with a wrong body as a failure
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
	})
}

func TestDeadTarget(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		snap := runOnce(t, "http://"+addr, func(ctx context.Context, u *locust.User) error {
			_, err := k.forU(u).Get(ctx, "/")
			return err
		})
		require.Len(t, snap.Errors, 1)
		assert.Equal(t, "connection refused ("+addr+")", snap.Errors[0].Error)
		assert.Empty(t, snap.Exceptions)
	})
}

// A missing host, or a host that is not a URL, is a mistake in the test:
// the first request aborts the test at once, with one line naming the
// problem, instead of running the whole run time with no request.
func TestBadHostAbortsTheTest(t *testing.T) {
	for _, c := range []struct{ host, want string }{
		{"", "no host: set --host/-H or UserType.Host"},
		{"localhost:8080", `host "localhost:8080" is not a URL: use http://localhost:8080`},
		{"ftp://127.0.0.1:21", `host "ftp://127.0.0.1:21" is not an http or https URL`},
	} {
		eachKind(t, func(t *testing.T, k kind) {
			ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
				_, err := k.forU(u).Get(ctx, "/")
				return err
			})}
			r, err := locust.NewRunner(locust.Config{Host: c.host, Users: 5, RunTime: time.Minute, StopTimeout: time.Minute}, ut)
			require.NoError(t, err)
			begin := time.Now()
			err = r.Run(context.Background())
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
			assert.Less(t, time.Since(begin), time.Second, "the test stops at once")
			snap := r.Snapshot()
			assert.Zero(t, snap.Total.Requests, "no request recorded")
			assert.Zero(t, snap.CutShort)
		})
	}
}

// A session without a host can still send requests to full URLs.
func TestNoHostFullURLs(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		srv := newTarget(t)
		snap := runOnce(t, "", func(ctx context.Context, u *locust.User) error {
			_, err := k.forU(u).Get(ctx, srv.URL+"/item/1")
			return err
		})
		assert.EqualValues(t, 1, snap.Total.Requests)
		assert.Zero(t, snap.Total.Failures)
	})
}

func TestRequestsCarryHeadersBodyAndMethod(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
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
			c := k.newFor(u, client.WithHeader("X-Session", "s1"))
			resp, err := c.Post(ctx, "/p?x=1", "text/plain", []byte("hello"), client.Header("X-Req", "r1"))
			require.NoError(t, err)
			assert.Equal(t, "42", resp.Header.Get("X-Answer"))
			assert.Equal(t, seen{"POST", "/p", "x=1", "text/plain", "hello", "r1", "s1"}, <-got)
			_, err = c.PostJSON(ctx, "/j", map[string]int{"a": 1})
			require.NoError(t, err)
			assert.Equal(t, seen{"POST", "/j", "", "application/json", `{"a":1}`, "", "s1"}, <-got)
			// a Content-Type header option wins over the argument
			_, err = c.Put(ctx, "/put", "text/plain", []byte("x"), client.Header("Content-Type", "text/csv"))
			require.NoError(t, err)
			assert.Equal(t, seen{"PUT", "/put", "", "text/csv", "x", "", "s1"}, <-got)
			_, err = c.Patch(ctx, "/patch", "application/json", []byte("{}"))
			require.NoError(t, err)
			assert.Equal(t, seen{"PATCH", "/patch", "", "application/json", "{}", "", "s1"}, <-got)
			_, err = c.Do(ctx, &client.Request{Method: "PUT", Path: srv.URL + "/full", Body: []byte("b")})
			require.NoError(t, err)
			s := <-got
			s.ctype = "" // fasthttp sends application/octet-stream when none is given
			assert.Equal(t, seen{"PUT", "/full", "", "", "b", "", "s1"}, s)
			_, err = c.Delete(ctx, "/d")
			require.NoError(t, err)
			assert.Equal(t, "DELETE", (<-got).method)
			_, err = c.Options(ctx, "/o")
			require.NoError(t, err)
			assert.Equal(t, "OPTIONS", (<-got).method)
			resp, err = c.Head(ctx, "/h")
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.Empty(t, resp.Body)
			assert.Equal(t, "HEAD", (<-got).method)
			return nil
		})
	})
}

func TestFollowsRedirectsUnlessTold(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "v"})
			http.Redirect(w, r, "/next", http.StatusSeeOther)
		})
		mux.HandleFunc("GET /next", func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("s")
			if err != nil {
				http.Error(w, "no cookie", http.StatusUnauthorized)
				return
			}
			w.Write([]byte("next " + c.Value))
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			resp, err := k.forU(u).PostForm(ctx, "/form", url.Values{"a": {"b"}})
			require.NoError(t, err)
			assert.Equal(t, "next v", resp.Text())
			resp, err = k.newFor(u, client.WithoutRedirects()).PostForm(ctx, "/form", nil, client.Name("nofollow"))
			require.NoError(t, err)
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			return nil
		})
		e, ok := snap.Entry("POST", "/form")
		require.True(t, ok)
		assert.EqualValues(t, 1, e.Requests, "a followed redirect is one request")
		assert.EqualValues(t, 0, e.Failures)
	})
}

func TestCookiesCanBeTurnedOff(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		srv := newTarget(t)
		runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			c := k.newFor(u, client.WithoutCookies())
			_, err := c.PostForm(ctx, "/login", url.Values{"username": {"x"}})
			require.NoError(t, err)
			resp, err := c.Get(ctx, "/home")
			require.Error(t, err)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			return nil
		})
	})
}

func TestWithHostAndWithTimeout(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		srv := newTarget(t)
		snap := runOnce(t, "http://127.0.0.1:1", func(ctx context.Context, u *locust.User) error {
			c := k.newFor(u, client.WithHost(srv.URL), client.WithTimeout(50*time.Millisecond))
			_, err := c.Get(ctx, "/item/1")
			require.NoError(t, err, "WithHost replaces the user's host")
			_, err = c.Get(ctx, "/slow")
			return err
		})
		require.Len(t, snap.Errors, 1)
		assert.Equal(t, "timeout after 50ms", snap.Errors[0].Error, "WithTimeout is the session's default")
	})
}

// A user stopped while its request waits on a slow target returns at once
// and the request is not recorded.
func TestStopCutsRequestShortAndDoesNotRecordIt(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
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
			_, err := k.forU(u).Get(ctx, "/")
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
	})
}

// Requests cut short by the user's stop are in no entry but counted, so
// that successes, failures and cut-short requests add up to what the
// target received.
func TestStopCountsCutShortRequests(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
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
			_, err := k.forU(u).Get(ctx, "/")
			return err
		})}
		r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 3}, ut)
		require.NoError(t, err)
		go func() {
			for started.Load() < 3 {
				time.Sleep(5 * time.Millisecond)
			}
			r.Stop()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, r.Run(ctx))
		snap := r.Snapshot()
		assert.EqualValues(t, 0, snap.Total.Requests)
		assert.EqualValues(t, 3, snap.CutShort, "the three requests in flight at the stop")
		assert.EqualValues(t, started.Load(), snap.Total.Requests+snap.CutShort)
	})
}

// A task's own timeout that expires while the user is stopping gracefully
// is a failure of the request, not a request cut short by the stop.
func TestTaskTimeoutDuringGracefulStopIsAFailure(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
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
			// the stop begins as soon as the request arrives; the task's
			// own deadline passes 300 ms later, within the stop timeout
			tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := k.forU(u).Get(tctx, "/")
			return err
		})}
		r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 1, StopTimeout: 10 * time.Second}, ut)
		require.NoError(t, err)
		go func() {
			for started.Load() < 1 {
				time.Sleep(5 * time.Millisecond)
			}
			r.Stop()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, r.Run(ctx))
		snap := r.Snapshot()
		assert.EqualValues(t, 1, snap.Total.Requests)
		assert.EqualValues(t, 1, snap.Total.Failures)
		assert.EqualValues(t, 0, snap.CutShort)
		require.Len(t, snap.Errors, 1)
		assert.Equal(t, "the task's context ended: context deadline exceeded", snap.Errors[0].Error)
	})
}

// The request timeout bounds each request of a session on its own, from
// the first byte sent to the last byte of the body: requests after a
// success or a timeout get the full timeout again, and a body that stalls
// after the headers times out too.
func TestTimeoutEachRequest(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(60 * time.Millisecond) // most of the timeout, on every request
			w.Write([]byte("ok"))
		})
		mux.HandleFunc("GET /hang", hang)
		mux.HandleFunc("GET /stall", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			c := k.newFor(u, client.WithTimeout(150*time.Millisecond))
			for _, path := range []string{"/ok", "/ok", "/hang", "/ok", "/stall", "/ok", "/ok"} {
				_, _ = c.Get(ctx, path)
			}
			return nil
		})
		e, ok := snap.Entry("GET", "/ok")
		require.True(t, ok)
		assert.EqualValues(t, 5, e.Requests)
		assert.EqualValues(t, 0, e.Failures, "each request has its own timeout")
		for _, path := range []string{"/hang", "/stall"} {
			e, ok := snap.Entry("GET", path)
			require.True(t, ok)
			assert.EqualValues(t, 1, e.Failures, path)
		}
		require.Len(t, snap.Errors, 2)
		for _, e := range snap.Errors {
			assert.Equal(t, "timeout after 150ms", e.Error, e.Name)
		}
	})
}

// A request's timeout holds whatever came before it: a short per-request
// timeout after requests with a long one, a request after the session sat
// idle for longer than its timeout, and a long timeout after a short one.
func TestTimeoutAfterIdleAndMixedTimeouts(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
		mux.HandleFunc("GET /wait/{ms}", func(w http.ResponseWriter, r *http.Request) {
			ms, _ := strconv.Atoi(r.PathValue("ms"))
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
				w.Write([]byte("ok"))
			case <-r.Context().Done():
			}
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		var took []time.Duration
		snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			c := k.newFor(u, client.WithTimeout(200*time.Millisecond))
			get := func(path string, opts ...client.RequestOption) {
				start := time.Now()
				_, _ = c.Get(ctx, path, opts...)
				took = append(took, time.Since(start))
			}
			get("/ok", client.Timeout(10*time.Second))
			get("/ok", client.Timeout(10*time.Second))
			get("/wait/3000", client.Name("short after long"), client.Timeout(50*time.Millisecond))
			get("/ok")
			time.Sleep(500 * time.Millisecond) // idle for more than the timeout
			get("/wait/3000", client.Name("after idle"))
			get("/wait/300", client.Name("long after short"), client.Timeout(2*time.Second))
			return nil
		})
		assert.Less(t, took[2], 2*time.Second, "the short timeout did not wait for the long one")
		assert.Less(t, took[4], 2*time.Second, "the timeout after idle")
		for _, name := range []string{"short after long", "after idle"} {
			e, ok := snap.Entry("GET", name)
			require.True(t, ok, name)
			assert.EqualValues(t, 1, e.Failures, name)
		}
		e, ok := snap.Entry("GET", "long after short")
		require.True(t, ok)
		assert.Zero(t, e.Failures, "a 2 s timeout lets a 300 ms request finish")
		e, ok = snap.Entry("GET", "/ok")
		require.True(t, ok)
		assert.EqualValues(t, 3, e.Requests)
		assert.Zero(t, e.Failures)
		var texts []string
		for _, e := range snap.Errors {
			texts = append(texts, e.Error)
		}
		assert.ElementsMatch(t, []string{"timeout after 50ms", "timeout after 200ms"}, texts)
	})
}

// Repeated requests to the same URL carry the headers and cookies of the
// moment, never those of an earlier request (the net/http session reuses
// its last request).
func TestRepeatedRequestsCarryCurrentHeaders(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /set/{v}", func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "s", Value: r.PathValue("v"), Path: "/"})
		})
		mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Join(r.Header.Values("Cookie"), "|") + " " +
				strings.Join(r.Header.Values("X-S"), ",") + " " + strings.Join(r.Header.Values("X-R"), ",")))
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
			c := k.newFor(u, client.WithHeader("X-S", "s"))
			echo := func(opts ...client.RequestOption) string {
				r, err := c.Get(ctx, "/echo", opts...)
				require.NoError(t, err)
				return r.Text()
			}
			_, err := c.Get(ctx, "/set/1")
			require.NoError(t, err)
			assert.Equal(t, "s=1 s ", echo())
			assert.Equal(t, "s=1 s r", echo(client.Header("X-R", "r")))
			_, err = c.Get(ctx, "/set/2")
			require.NoError(t, err)
			assert.Equal(t, "s=2 s ", echo())
			assert.Equal(t, "s=2 s ", echo())
			return nil
		})
	})
}

// A request made on a context the stop already ended (an OnStop logout
// with no stop timeout) sends nothing: it is neither in the statistics nor
// cut short, so the counts still equal what the target received.
func TestRequestAfterTheStopIsNotCounted(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		var received atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			received.Add(1)
		}))
		t.Cleanup(srv.Close)
		var logoutErr atomic.Value
		var homes atomic.Int32 // /home requests that returned: then each user sleeps an hour
		ut := &locust.UserType{Name: "U",
			Wait: locust.Constant(time.Hour),
			Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
				_, err := k.forU(u).Get(ctx, "/home")
				homes.Add(1)
				return err
			}),
			OnStop: func(ctx context.Context, u *locust.User) error {
				_, err := k.forU(u).Get(ctx, "/logout") // ctx already ended
				logoutErr.Store(err)
				return err
			},
		}
		r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 2}, ut)
		require.NoError(t, err)
		go func() {
			// stop once both users have their answer (a stop while a
			// response is on its way rightly cuts that request short)
			for homes.Load() < 2 {
				time.Sleep(5 * time.Millisecond)
			}
			r.Stop()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, r.Run(ctx))
		snap := r.Snapshot()
		assert.ErrorIs(t, logoutErr.Load().(error), locust.ErrUserStopped)
		assert.Zero(t, snap.CutShort, "nothing was in flight at the stop")
		assert.EqualValues(t, received.Load(), snap.Total.Requests+snap.CutShort)
		assert.Empty(t, snap.Exceptions)
	})
}
