package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

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

// The session's *http.Client closes its transport's idle connections, as
// a plain client does, although its Transport is the session's wrapper.
func TestHTTPClientClosesIdleConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	closed := make(chan struct{}, 1)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	tr := &http.Transport{}
	runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.NewHTTP(u, client.WithTransport(tr))
		_, err := c.Get(ctx, "/")
		require.NoError(t, err)
		c.Client().CloseIdleConnections()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("the idle connection was not closed")
		}
		return nil
	})
}

// BenchmarkHTTPGetWithHeader is BenchmarkHTTPGet on a session with two
// WithHeader headers, sent with every request.
func BenchmarkHTTPGetWithHeader(b *testing.B) {
	host := cannedServer(b)
	runOnceTB(b, host, func(ctx context.Context, u *locust.User) error {
		c := client.NewHTTP(u, client.WithHeader("Accept", "text/plain"), client.WithHeader("X-Test", "1"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "/"); err != nil {
				b.Fatal(err)
			}
		}
		return nil
	})
}

// Headers set with WithHeader cost the session no allocation per request:
// a request with two of them allocates only what net/http itself adds
// (http.Client copies a request's headers for redirects: a map and one
// slice of values).
func TestWithHeaderCostsNoAllocationPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	host := cannedServer(t)
	runOnce(t, host, func(ctx context.Context, u *locust.User) error {
		perGet := func(c *client.HTTP) float64 {
			for range 10 {
				_, err := c.Get(ctx, "/")
				require.NoError(t, err)
			}
			return testing.AllocsPerRun(500, func() { _, _ = c.Get(ctx, "/") })
		}
		plain := perGet(client.NewHTTP(u))
		headers := perGet(client.NewHTTP(u, client.WithHeader("Accept", "text/plain"), client.WithHeader("X-Test", "1")))
		t.Logf("allocations per GET: %.1f, with two WithHeader headers %.1f", plain, headers)
		assert.LessOrEqual(t, headers, plain+2)
		return nil
	})
}

// The *http.Client of a session is safe for concurrent use, also while the
// session sends its own requests: goroutines setting cookies through it at
// once all reach the session's jar (run with -race).
func TestHTTPClientIsSafeForConcurrentUse(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /set/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: r.PathValue("name"), Value: "1", Path: "/"})
	})
	mux.HandleFunc("GET /cookies", func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(r.Cookies()))
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		w.Write([]byte(strings.Join(names, ",")))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const goroutines, each = 8, 20
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		s := client.HTTPFor(u)
		hc := s.Client()
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/set/c%d", srv.URL, g*each+i), nil)
					if !assert.NoError(t, err) {
						return
					}
					resp, err := hc.Do(req)
					if !assert.NoError(t, err) {
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		for range each {
			_, err := s.Get(ctx, "/set/own")
			assert.NoError(t, err)
		}
		wg.Wait()
		r, err := s.Get(ctx, "/cookies")
		require.NoError(t, err)
		assert.Len(t, strings.Split(r.Text(), ","), goroutines*each+1, "every cookie reached the session's jar")
		return nil
	})
	assert.EqualValues(t, each+1, snap.Total.Requests, "the session's own requests only")
	assert.Zero(t, snap.Total.Failures)
}

// BenchmarkHTTPGetPaired times the net/http session against the plain
// net/http loop of BenchmarkHTTPGetPlain in the same loop: each iteration
// sends one GET each way, in alternating order, so that both see the same
// machine. It reports each side's time per request and their ratio
// (plain/session: 1 means the session, statistics included, costs what
// the plain loop costs). On a shared machine this ratio is steadier than
// comparing two benchmarks run one after the other.
func BenchmarkHTTPGetPaired(b *testing.B) {
	host := cannedServer(b)
	tr := &http.Transport{MaxIdleConns: 10, MaxIdleConnsPerHost: 10, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	pc := &http.Client{Transport: tr}
	plain := func() {
		resp, err := pc.Get(host + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	runOnceTB(b, host, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		session := func() {
			if _, err := c.Get(ctx, "/"); err != nil {
				b.Fatal(err)
			}
		}
		var ts, tp time.Duration
		n := 0
		for b.Loop() {
			first, second, dFirst, dSecond := session, plain, &ts, &tp
			if n%2 == 1 {
				first, second, dFirst, dSecond = plain, session, &tp, &ts
			}
			t0 := time.Now()
			first()
			t1 := time.Now()
			second()
			*dSecond += time.Since(t1)
			*dFirst += t1.Sub(t0)
			n++
		}
		b.ReportMetric(float64(ts.Nanoseconds())/float64(n), "session-ns/req")
		b.ReportMetric(float64(tp.Nanoseconds())/float64(n), "plain-ns/req")
		b.ReportMetric(float64(tp)/float64(ts), "plain/session")
		return nil
	})
}

// The session's requests leave their Host empty (the URL's host is sent
// all the same, without a copy of the URL per request): the target sees
// the host of each URL, on a reused request, a full URL and a redirect.
func TestTargetSeesTheHostOfTheURL(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	record := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.URL.Path+" "+r.Host)
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		w.Write([]byte("other"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
			return
		}
		w.Write([]byte("home"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	otherHost := strings.TrimPrefix(other.URL, "http://")
	snap := runOnce(t, srv.URL, func(ctx context.Context, u *locust.User) error {
		c := client.HTTPFor(u)
		for _, path := range []string{"/a", "/a", other.URL + "/b", "/away"} {
			_, err := c.Get(ctx, path)
			require.NoError(t, err)
		}
		return nil
	})
	assert.Equal(t, []string{"/a " + host, "/a " + host, "/b " + otherHost, "/away " + host, "/landed " + otherHost}, hosts)
	assert.Zero(t, snap.Total.Failures)
}
