package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

// loggingTarget logs every request it gets (method, URL, Cookie and
// X-Trace headers, body) and answers: /login sets a=1, /redir sets b=2 and
// redirects to /echo (302), /r307 redirects to /echo keeping the method and
// body, /r301 redirects to /echo?from=301, /chain/N redirects to
// /chain/N-1 down to 0, /loop redirects to itself.
func loggingTarget(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var log []string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		log = append(log, fmt.Sprintf("%s %s cookie=%q trace=%q body=%q", r.Method, r.URL.RequestURI(),
			r.Header["Cookie"], r.Header["X-Trace"], body))
		mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/login":
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		case p == "/redir":
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			http.Redirect(w, r, "/echo", http.StatusFound)
		case p == "/r307":
			http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
		case p == "/r301":
			http.Redirect(w, r, "/echo?from=301", http.StatusMovedPermanently)
		case p == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case strings.HasPrefix(p, "/chain/") && p != "/chain/0":
			var n int
			fmt.Sscanf(p, "/chain/%d", &n)
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
		}
		w.Write([]byte("at " + r.URL.RequestURI()))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), log...)
	}
}

// step is one request of the scenario below.
type step struct {
	method, path, body string
	trace              bool   // with the header X-Trace: 1
	cookie             string // a Cookie header of the request's own
}

var directScenario = []step{
	{"GET", "/redir", "", false, "mine=0"}, // a redirect before the jar has a cookie
	{"POST", "/login", "user=x", false, ""},
	{"GET", "/echo", "", true, ""},
	{"GET", "/redir", "", true, ""}, // a cookie and a redirect in one response
	{"GET", "/echo", "", false, ""},
	{"GET", "/redir", "", false, "mine=1"}, // the request's own cookie beside the jar's
	{"POST", "/r307", "xyz", true, ""},     // the body goes again
	{"GET", "/r301", "", false, ""},
	{"GET", "/chain/3", "", false, "mine=2"},
	{"GET", "/loop", "", false, ""}, // stopped after 10 redirects
	{"HEAD", "/redir", "", false, ""},
}

// A session sends its requests on the shared transport itself, with the
// jar's cookies, keeps the cookies of the response, and leaves a redirect
// to http.Client: what the target sees, request by request, is what it
// sees from a plain http.Client with a cookie jar, and the session's
// answers and errors are the Client's.
func TestSessionSendsAsHTTPClientDoes(t *testing.T) {
	srv, sessionLog := loggingTarget(t)
	var sessionOut []string
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		s := client.HTTPFor(u)
		for _, st := range directScenario {
			var opts []client.RequestOption
			if st.trace {
				opts = append(opts, client.Header("X-Trace", "1"))
			}
			if st.cookie != "" {
				opts = append(opts, client.Header("Cookie", st.cookie))
			}
			var body []byte
			if st.body != "" {
				body = []byte(st.body)
			}
			resp, err := s.Do(ctx, &client.Request{Method: st.method, Path: st.path, Body: body, Header: headerOf(opts)})
			sessionOut = append(sessionOut, outcome(resp, err))
		}
		return nil
	})

	plainSrv, plainLog := loggingTarget(t)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Jar: jar}
	var plainOut []string
	for _, st := range directScenario {
		var body io.Reader
		if st.body != "" {
			body = strings.NewReader(st.body)
		}
		req, err := http.NewRequest(st.method, plainSrv.URL+st.path, body)
		require.NoError(t, err)
		if st.trace {
			req.Header.Set("X-Trace", "1")
		}
		if st.cookie != "" {
			req.Header.Set("Cookie", st.cookie)
		}
		resp, err := hc.Do(req)
		var out *client.Response
		if resp != nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = &client.Response{StatusCode: resp.StatusCode, Body: data}
		}
		// the session's error names the session's target
		plainOut = append(plainOut, strings.ReplaceAll(outcome(out, err), plainSrv.URL, srv.URL))
	}

	assert.Equal(t, plainLog(), sessionLog(), "what the target got")
	assert.Equal(t, plainOut, sessionOut, "what the request returned")
	// every request is one entry row: a followed redirect is one request
	assert.EqualValues(t, len(directScenario), snap.Total.Requests)
	e, ok := snap.Entry("GET", "/loop")
	require.True(t, ok)
	assert.EqualValues(t, 1, e.Failures, "stopped after 10 redirects")
}

// headerOf returns the header that opts set on a request.
func headerOf(opts []client.RequestOption) http.Header {
	var r client.Request
	for _, o := range opts {
		o(&r)
	}
	return r.Header
}

// outcome sums up what a request returned: its status and body, and the
// text of the net/http error under the session's own, if any.
func outcome(resp *client.Response, err error) string {
	s := "no response"
	if resp != nil && resp.StatusCode != 0 {
		s = fmt.Sprintf("%d %q", resp.StatusCode, resp.Body)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		s += " " + ue.Error()
	}
	return s
}

// A program's own redirect rule (Client().CheckRedirect) sees each hop and
// the requests before it, the first of them the session's own request.
func TestProgramsRedirectRuleSeesTheSessionsRequest(t *testing.T) {
	srv, _ := loggingTarget(t)
	var seen []string
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		s := client.HTTPFor(u)
		s.Client().CheckRedirect = func(req *http.Request, via []*http.Request) error {
			seen = append(seen, fmt.Sprintf("%s after %d from %s", req.URL.Path, len(via), via[0].URL.Path))
			if len(via) == 2 {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp, err := s.Get(ctx, "/chain/5", client.ExpectStatus(302))
		require.NoError(t, err)
		assert.Contains(t, resp.Text(), "at /chain/4")
		return nil
	})
	assert.Equal(t, []string{"/chain/4 after 1 from /chain/5", "/chain/3 after 2 from /chain/5"}, seen)
}

// A request that gets no response fails with the error http.Client gives:
// a *url.Error naming the method and URL, and http.ErrSchemeMismatch for
// an https URL whose server speaks plain HTTP.
func TestSessionErrorsAreHTTPClients(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String()
	l.Close()
	srv, _ := loggingTarget(t)
	tlsURL := strings.Replace(srv.URL, "http://", "https://", 1)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var want []string
	for _, u := range []string{dead + "/x", tlsURL + "/y"} {
		req, err := http.NewRequest("DELETE", u, nil)
		require.NoError(t, err)
		_, err = hc.Do(req)
		require.Error(t, err)
		want = append(want, err.Error())
	}

	var got []string
	var mismatch bool
	snap := runOnce(t, dead, func(ctx context.Context, u *locust.User) error {
		s := client.HTTPFor(u)
		for _, p := range []string{"/x", tlsURL + "/y"} {
			_, err := s.Delete(ctx, p)
			var ue *url.Error
			require.ErrorAs(t, err, &ue)
			got = append(got, ue.Error())
			mismatch = mismatch || errors.Is(err, http.ErrSchemeMismatch)
		}
		return nil
	})
	assert.Equal(t, want, got)
	assert.True(t, mismatch, "errors.Is(err, http.ErrSchemeMismatch)")
	require.Len(t, snap.Errors, 2)
	msgs := []string{snap.Errors[0].Error, snap.Errors[1].Error}
	assert.Contains(t, msgs, "connection refused ("+strings.TrimPrefix(dead, "http://")+")")
	assert.Contains(t, strings.Join(msgs, "\n"), "server gave HTTP response to HTTPS client")
}

// A jar a program sets (Client().Jar) is the one a session's requests take
// their cookies from and keep the response's in, with no Client().Timeout
// set (the session sends on the transport itself) as with one.
func TestProgramsJarOnTheDirectPath(t *testing.T) {
	srv, log := loggingTarget(t)
	su, err := url.Parse(srv.URL)
	require.NoError(t, err)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	jar.SetCookies(su, []*http.Cookie{{Name: "token", Value: "t"}})
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		s := client.HTTPFor(u)
		s.Client().Jar = jar
		_, err := s.Get(ctx, "/echo")
		require.NoError(t, err)
		_, err = s.Post(ctx, "/login", "text/plain", nil)
		require.NoError(t, err)
		return nil
	})
	assert.Equal(t, []string{
		`GET /echo cookie=["token=t"] trace=[] body=""`,
		`POST /login cookie=["token=t"] trace=[] body=""`,
	}, log())
	var names []string
	for _, c := range jar.Cookies(su) {
		names = append(names, c.Name+"="+c.Value)
	}
	assert.ElementsMatch(t, []string{"token=t", "a=1"}, names, "the response's cookie is in the program's jar")
}
