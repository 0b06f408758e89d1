package client_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

// hang answers only when the client gives up (or after 5 s).
func hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
	}
}

// hangingTarget answers /ok at once, /hang only when the client gives up,
// and redirects /redirect to /hang.
func hangingTarget(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /hang", hang)
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hang", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// errorsByName returns the error text of each failure row of snap, by the
// request's name.
func errorsByName(snap *locust.Snapshot) map[string]string {
	msgs := map[string]string{}
	for _, e := range snap.Errors {
		msgs[e.Name] = e.Error
	}
	return msgs
}

// sessions are the net/http sessions whose requests are cancelled in each
// of the two ways: on the runner's shared transport (CancelRequest) and on
// a transport of the test's own (a cancellable context).
var sessions = []struct {
	name string
	new  func(u *locust.User, opts ...client.HTTPOption) *client.HTTP
}{
	{"shared transport", client.NewHTTP},
	{"own transport", func(u *locust.User, opts ...client.HTTPOption) *client.HTTP {
		tr := &http.Transport{}
		u.Runner().Events().TestStop.Add(func(*locust.Runner) { tr.CloseIdleConnections() })
		return client.NewHTTP(u, append(opts, client.WithTransport(tr))...)
	}},
}

// A request made with a context that already ended (not by the stop) is a
// failure at once, on a target that would never answer it.
func TestRequestWithAnEndedContextFailsAtOnce(t *testing.T) {
	for _, sc := range sessions {
		t.Run(sc.name, func(t *testing.T) {
			srv := hangingTarget(t)
			var took time.Duration
			snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
				c := sc.new(u, client.WithTimeout(3*time.Second))
				_, _ = c.Get(ctx, "/ok") // a first request: the session's request context is made
				tctx, cancel := context.WithCancel(ctx)
				cancel()
				start := time.Now()
				_, _ = c.Get(tctx, "/hang")
				took = time.Since(start)
				return nil
			})
			assert.Less(t, took, time.Second, "the ended context did not stop the request")
			e, ok := snap.Entry("GET", "/hang")
			require.True(t, ok)
			assert.EqualValues(t, 1, e.Failures)
			var msgs []string
			for _, e := range snap.Errors {
				msgs = append(msgs, e.Name+": "+e.Error)
			}
			assert.Contains(t, msgs, "/hang: the task's context ended: context canceled")
		})
	}
}

// The timeout holds for every hop of a redirect: a redirect to a target
// that hangs times out, and so does a task context that ends during it.
func TestTimeoutAndCancelReachARedirectHop(t *testing.T) {
	for _, sc := range sessions {
		t.Run(sc.name, func(t *testing.T) {
			srv := hangingTarget(t)
			var timedOut, cancelled time.Duration
			snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
				c := sc.new(u, client.WithTimeout(200*time.Millisecond))
				start := time.Now()
				_, _ = c.Get(ctx, "/redirect")
				timedOut = time.Since(start)

				tctx, cancel := context.WithCancel(ctx)
				defer cancel()
				time.AfterFunc(100*time.Millisecond, cancel)
				start = time.Now()
				_, _ = c.Get(tctx, "/redirect", client.Timeout(3*time.Second), client.Name("/redirect cancelled"))
				cancelled = time.Since(start)
				return nil
			})
			assert.GreaterOrEqual(t, timedOut, 200*time.Millisecond)
			assert.Less(t, timedOut, 2*time.Second, "the timeout did not reach the redirect's hop")
			assert.GreaterOrEqual(t, cancelled, 100*time.Millisecond)
			assert.Less(t, cancelled, 2*time.Second, "the task's context did not reach the redirect's hop")
			assert.Equal(t, map[string]string{
				"/redirect":           "timeout after 200ms",
				"/redirect cancelled": "the task's context ended: context canceled",
			}, errorsByName(snap))
		})
	}
}

// A session on the shared transport set to attempt HTTP/2 cancels its
// requests with a cancellable context: CancelRequest cannot reach an
// HTTP/2 request.
func TestSharedTransportSetForHTTP2StillTimesOut(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(hang))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	var answered bool
	var took time.Duration
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		tr := client.SharedTransport(u.Runner())
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tr.ForceAttemptHTTP2 = true
		c := client.NewHTTP(u, client.WithTimeout(200*time.Millisecond))
		start := time.Now()
		resp, _ := c.Get(ctx, "/")
		took = time.Since(start)
		answered = resp != nil && resp.StatusCode != 0
		return nil
	})
	assert.False(t, answered, "the request was answered")
	assert.Less(t, took, 2*time.Second, "the timeout did not cancel the HTTP/2 request")
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "timeout after 200ms", snap.Errors[0].Error)
}

// countingRT counts the requests a RoundTripper sends.
type countingRT struct {
	rt http.RoundTripper
	n  atomic.Int32
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// A program that changes the session's Client (its Transport, its
// redirect rule) changes the session's own requests, and their timeout
// still holds on the new transport.
func TestClientChangesReachTheSession(t *testing.T) {
	srv := hangingTarget(t)
	var redirect int
	var took time.Duration
	rt := &countingRT{rt: &http.Transport{}}
	t.Cleanup(rt.rt.(*http.Transport).CloseIdleConnections)
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.NewHTTP(u, client.WithTimeout(200*time.Millisecond))
		c.Client().Transport = rt
		c.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if resp, err := c.Get(ctx, "/redirect"); err == nil {
			redirect = resp.StatusCode
		}
		c.Client().CheckRedirect = nil
		start := time.Now()
		_, _ = c.Get(ctx, "/redirect", client.Name("/redirect followed"))
		took = time.Since(start)
		return nil
	})
	assert.Equal(t, http.StatusFound, redirect, "the Client's redirect rule held")
	assert.EqualValues(t, 3, rt.n.Load(), "the Client's transport sent every hop")
	assert.Less(t, took, 2*time.Second, "the timeout did not reach the request on the Client's transport")
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "/redirect followed", snap.Errors[0].Name)
	assert.Equal(t, "timeout after 200ms", snap.Errors[0].Error)
}

// A Client().Timeout a program sets holds for the session's requests, and
// so does the session's own timeout beside it, whichever is shorter; the
// failure names the one that fired. A Client().Jar it sets is the one the
// session's requests carry cookies from.
func TestClientTimeoutAndJarReachTheSession(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hang", hang)
	var cookie atomic.Value
	mux.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("token"); err == nil {
			cookie.Store(c.Value)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, sc := range sessions {
		t.Run(sc.name, func(t *testing.T) {
			took := map[string]time.Duration{}
			snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
				jar, err := cookiejar.New(nil)
				require.NoError(t, err)
				su, err := url.Parse(srv.URL)
				require.NoError(t, err)
				jar.SetCookies(su, []*http.Cookie{{Name: "token", Value: "from the program's jar"}})
				for _, tc := range []struct {
					name             string
					session, clientT time.Duration
				}{
					{"client timeout shorter", 3 * time.Second, 200 * time.Millisecond},
					{"session timeout shorter", 200 * time.Millisecond, 3 * time.Second},
				} {
					c := sc.new(u, client.WithTimeout(tc.session))
					c.Client().Timeout = tc.clientT
					c.Client().Jar = jar
					_, err := c.Get(ctx, "/cookie")
					require.NoError(t, err)
					start := time.Now()
					_, _ = c.Get(ctx, "/hang", client.Name(tc.name))
					took[tc.name] = time.Since(start)
				}
				return nil
			})
			assert.Equal(t, "from the program's jar", cookie.Load())
			for name, d := range took {
				assert.Less(t, d, 2*time.Second, "%s: the shorter timeout did not hold", name)
			}
			assert.Equal(t, map[string]string{
				"client timeout shorter":  "timeout after 200ms",
				"session timeout shorter": "timeout after 200ms",
			}, errorsByName(snap))
		})
	}
}

// A host with credentials makes http.Client hand the transport a copy of
// each request (with the Authorization header): the timeout reaches that
// copy.
func TestTimeoutReachesARequestWithCredentials(t *testing.T) {
	for _, sc := range sessions {
		t.Run(sc.name, func(t *testing.T) {
			srv := hangingTarget(t)
			var took time.Duration
			host := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)
			snap := runOnce(t, host, func(ctx context.Context, u *locust.User) error {
				c := sc.new(u, client.WithTimeout(200*time.Millisecond))
				start := time.Now()
				_, _ = c.Get(ctx, "/hang")
				took = time.Since(start)
				return nil
			})
			assert.Less(t, took, 2*time.Second, "the timeout did not reach the request")
			require.Len(t, snap.Errors, 1)
			assert.Equal(t, "timeout after 200ms", snap.Errors[0].Error)
		})
	}
}
