package demo_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRoutes(t *testing.T) {
	s, err := demo.Start(demo.Options{SlowDelay: 30 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	require.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"))
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Jar: jar, Transport: tr}
	get := func(path string) (int, string) {
		resp, err := c.Get(s.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "ok", body)
	code, _ = get("/home")
	assert.Equal(t, 401, code, "home needs a login")
	resp, err := c.PostForm(s.URL+"/login", url.Values{"username": {"kubilay"}, "password": {"x"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	code, body = get("/home")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "kubilay")
	code, _ = get("/profile")
	assert.Equal(t, 200, code)
	code, body = get("/item/42")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"id":42`)
	code, _ = get("/item/x")
	assert.Equal(t, 400, code)
	code, _ = get("/error")
	assert.Equal(t, 500, code)
	start := time.Now()
	code, _ = get("/slow")
	assert.Equal(t, 200, code)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	assert.EqualValues(t, 9, s.Requests())
}

func TestLoopbackOnly(t *testing.T) {
	_, err := demo.Start(demo.Options{Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "not a loopback address")
	_, err = demo.Start(demo.Options{Addr: "nonsense"})
	require.Error(t, err)
}
