package webui_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/webui"
)

// fastUser records a success on "/ok", a failure on "/bad" every tenth
// time, and an error from user code every fiftieth.
func fastUser() *locust.UserType {
	var mu sync.Mutex
	n := 0
	return &locust.UserType{
		Name: "Fast",
		Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("fast").Task(1, func(_ context.Context, u *locust.User) error {
			mu.Lock()
			n++
			i := n
			mu.Unlock()
			switch {
			case i%50 == 0:
				return errors.New("user code broke")
			case i%10 == 0:
				u.RecordFailure("GET", "/bad", 2*time.Millisecond, errors.New("500 Internal Server Error"))
			default:
				u.RecordSuccess("GET", "/ok", time.Millisecond, 10)
			}
			return nil
		}),
	}
}

// uiRun is a Command with the web UI running in the background.
type uiRun struct {
	ext    *webui.Extension
	url    string
	code   chan int
	cancel context.CancelFunc
	out    *strings.Builder
	mu     *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startUI runs a Command with the web UI on a free port and waits until it
// listens (or the command ended: then url is "").
func startUI(t *testing.T, types []*locust.UserType, args ...string) *uiRun {
	t.Helper()
	return startUIEvery(t, 200*time.Millisecond, types, args...)
}

// startUIEvery is startUI with a chart point every interval.
func startUIEvery(t *testing.T, interval time.Duration, types []*locust.UserType, args ...string) *uiRun {
	t.Helper()
	ext := webui.NewExtension(webui.WithSampleInterval(interval))
	u := &uiRun{ext: ext, code: make(chan int, 1), out: &strings.Builder{}, mu: &sync.Mutex{}}
	w := lockedWriter{u.mu, u.out}
	c := &locust.Command{Name: "loadtest", Users: types, Extensions: []locust.Extension{ext},
		Stdout: w, Stderr: w, Getenv: func(string) string { return "" }, Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	u.cancel = cancel
	go func() { u.code <- c.Run(ctx, append([]string{"-P", "0"}, args...)) }()
	t.Cleanup(func() { u.quit(t) })
	if slices.Contains(args, "--headless") {
		return u // no UI to wait for
	}
	select {
	case <-ext.Ready():
		u.url = ext.URL()
	case code := <-u.code:
		u.code <- code
	case <-time.After(10 * time.Second):
		t.Fatal("the web UI did not start")
	}
	return u
}

// quit cancels the command and returns its exit code.
func (u *uiRun) quit(t *testing.T) int {
	t.Helper()
	u.cancel()
	select {
	case code := <-u.code:
		u.code <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not return")
		return -1
	}
}

// wait waits for the command to end by itself and returns its exit code.
func (u *uiRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-u.code:
		u.code <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not end")
		return -1
	}
}

func (u *uiRun) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

var httpc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 15 * time.Second}

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := httpc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func post(t *testing.T, u string, form url.Values, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
