package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// runOnce runs task once on a runner whose host is host and returns the
// final snapshot.
func runOnce(t *testing.T, host string, task locust.TaskFunc) *locust.Snapshot {
	t.Helper()
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Host: host, Iterations: 1}, ut)
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

func TestHTTPCookiesNamesAndFailures(t *testing.T) {
	srv := newTarget(t)
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		require.Same(t, c, client.HTTPFor(u), "one session per user")
		_, err := c.PostForm(ctx, "/login", url.Values{"username": {"kubilay"}})
		require.NoError(t, err)
		resp, err := c.Get(ctx, "/home")
		require.NoError(t, err)
		assert.Equal(t, "hello kubilay", resp.Text())
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
}

func TestHTTPDeadTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	snap := runOnce(t, "http://"+addr, func(ctx context.Context, u *locust.User) error {
		_, err := client.HTTPFor(u).Get(ctx, "/")
		return err
	})
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "connection refused ("+addr+")", snap.Errors[0].Error)
	assert.Empty(t, snap.Exceptions)
}

func TestHTTPNoHostIsAnException(t *testing.T) {
	snap := runOnce(t, "", func(ctx context.Context, u *locust.User) error {
		_, err := client.HTTPFor(u).Get(ctx, "/")
		return err
	})
	require.Len(t, snap.Exceptions, 1)
	assert.Contains(t, snap.Exceptions[0].Message, "no host")
	assert.EqualValues(t, 0, snap.Total.Requests)
}

func TestHTTPBodiesAndHead(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/sized", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.Write([]byte("hello"))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			w.Write([]byte(strings.Repeat("x", 1000)))
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		r, err := c.Get(ctx, "/sized")
		require.NoError(t, err)
		assert.Equal(t, "hello", r.Text())
		r, err = c.Get(ctx, "/chunked")
		require.NoError(t, err)
		assert.Len(t, r.Body, 3000)
		r, err = c.Head(ctx, "/sized")
		require.NoError(t, err)
		assert.Empty(t, r.Body)
		return nil
	})
	e, ok := snap.Entry("GET", "/chunked")
	require.True(t, ok)
	assert.EqualValues(t, 3000, e.ContentLength)
	assert.EqualValues(t, 0, snap.Total.Failures)
}
