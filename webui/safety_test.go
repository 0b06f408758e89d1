package webui_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/webui"
)

func TestCrossOriginRequestsRefused(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()})
	other := httptest.NewServer(http.NotFoundHandler()) // a second origin
	defer other.Close()
	form := url.Values{"user_count": {"1"}, "spawn_rate": {"1"}}
	for _, h := range []map[string]string{
		{"Origin": other.URL},
		{"Origin": "null"},
		{"Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": other.URL},
		{"Sec-Fetch-Site": "cross-site", "Origin": u.url}, // the browser's word wins
	} {
		code, body := post(t, u.url+"/swarm", form, h)
		assert.Equal(t, http.StatusForbidden, code, "%v", h)
		assert.Contains(t, body, "cross-origin request refused")
		for _, p := range []string{"/stop", "/stats/reset"} {
			code, _ = post(t, u.url+p, nil, h)
			assert.Equal(t, http.StatusForbidden, code, "%s %v", p, h)
		}
	}
	assert.Equal(t, "ready", statsRequests(t, u.url)["state"], "no test started")

	// the page's own POST (same origin) and scripts (no Origin) are accepted
	code, body := post(t, u.url+"/swarm", form, map[string]string{"Origin": u.url, "Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, u.url, "running", func(m map[string]any) bool { return m["state"] == "running" })
	code, _ = post(t, u.url+"/stop", nil, nil)
	assert.Equal(t, http.StatusOK, code)
}

func TestHostHeaderMustBeLoopback(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()})
	req, err := http.NewRequest(http.MethodGet, u.url+"/stats/requests", nil)
	require.NoError(t, err)
	req.Host = "evil.example:8089" // DNS rebinding: a name that resolves to 127.0.0.1
	resp, err := httpc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	req.Host = "localhost:8089"
	resp, err = httpc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestWebAuth(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()}, "--web-auth", "alice:s3cret")
	code, _, hdr := get(t, u.url+"/")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, hdr.Get("WWW-Authenticate"), "Basic")
	for _, p := range []string{"/stats/requests", "/metrics", "/stop"} {
		code, _, _ = get(t, u.url+p)
		assert.Equal(t, http.StatusUnauthorized, code, p)
	}
	withAuth := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodGet, u.url+"/stats/requests", nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, pass)
		resp, err := httpc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, withAuth("alice", "wrong"))
	assert.Equal(t, http.StatusUnauthorized, withAuth("bob", "s3cret"))
	assert.Equal(t, http.StatusOK, withAuth("alice", "s3cret"))
	assert.NotContains(t, u.output(), "s3cret", "the password is never logged")
}

func TestAutostartAndAutoquit(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()}, "--autostart", "-u", "3", "-r", "100", "-t", "1s", "--autoquit", "0")
	require.NotEmpty(t, u.url, "the UI opens with --autostart")
	select {
	case code := <-u.code:
		u.code <- code
		assert.Equal(t, 1, code, "the test had failures")
	case <-time.After(20 * time.Second):
		t.Fatal("--autoquit 0 did not quit after the run time")
	}
	out := u.output()
	assert.Contains(t, out, "users=3")
	assert.Contains(t, out, "Aggregated")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--web-auth", "nocolon"}, {"--metrics-max-names", "0"}, {"--web-port", "70000"}} {
		u := startUI(t, []*locust.UserType{fastUser()}, args...)
		assert.Equal(t, locust.ExitUsage, u.quit(t), "%v", args)
		assert.Empty(t, u.url)
	}
	// the port is taken: a clear error
	u := startUI(t, []*locust.UserType{fastUser()})
	port := u.url[strings.LastIndex(u.url, ":")+1:]
	v := startUI(t, []*locust.UserType{fastUser()}, "--web-port", port)
	assert.Equal(t, locust.ExitUsage, v.quit(t))
	assert.Contains(t, v.output(), "web UI:")
}

func TestHeadlessOpensNoUI(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()}, "--headless", "-u", "2", "-t", "300ms", "--only-summary")
	assert.Empty(t, u.url)
	assert.Equal(t, 1, u.wait(t))
	assert.NotContains(t, u.output(), "no web UI")
	assert.NotContains(t, u.output(), "web UI: open")
}

func TestEnvironmentVariables(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	env := map[string]string{
		"LOCUST_WEB_HOST": "127.0.0.1", "LOCUST_WEB_PORT": strconv.Itoa(port), "LOCUST_P": "1",
		"LOCUST_AUTOSTART": "true", "LOCUST_AUTOQUIT": "0", "LOCUST_RUN_TIME": "1s", "LOCUST_USERS": "2",
	}
	ext := webui.NewExtension()
	var out strings.Builder
	w := lockedWriter{&sync.Mutex{}, &out}
	c := &locust.Command{Name: "loadtest", Users: []*locust.UserType{fastUser()}, Extensions: []locust.Extension{ext},
		Stdout: w, Stderr: w, Getenv: func(k string) string { return env[k] }, Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := c.Run(ctx, []string{"--only-summary"})
	require.NoError(t, ctx.Err(), "LOCUST_AUTOQUIT=0 quits after the run time")
	assert.Equal(t, 1, code)
	assert.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", port), ext.URL(), "LOCUST_WEB_PORT, not LOCUST_P")
	assert.Contains(t, out.String(), "users=2")
}

// Two start forms sent at once start one test: the second changes it.
func TestConcurrentSwarmsStartOneTest(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()}, "--only-summary")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() {
			codes[i], _ = post(t, u.url+"/swarm", url.Values{"user_count": {strconv.Itoa(i + 1)}, "spawn_rate": {"100"}, "run_time": {"1s"}}, nil)
		})
	}
	wg.Wait()
	assert.Equal(t, []int{http.StatusOK, http.StatusOK}, codes)
	waitFor(t, u.url, "the end of the 1 s test", func(m map[string]any) bool { return m["state"] == "stopped" })
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, "stopped", statsRequests(t, u.url)["state"], "no second test started from the second form")
	assert.Equal(t, 1, strings.Count(u.output(), "starting test"), u.output())
}
