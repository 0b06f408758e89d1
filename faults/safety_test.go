package faults_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/run"
	"github.com/golocust/locust/webui"
)

// uiRun is a command line running with its web UI.
type uiRun struct {
	ext  *webui.Extension
	out  *testutil.Buffer
	dir  string
	code chan int
}

// startWithUI runs the complete command line with the web UI (not
// headless), env as its LOCUST_* variables and conf as its locust.conf.
func startWithUI(t *testing.T, args []string, env map[string]string, conf string) *uiRun {
	t.Helper()
	tg := okTarget(t)
	user := &locust.UserType{Name: "Web", Wait: locust.Constant(20 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := client.FastFor(u).Get(ctx, "/w")
			return err
		})}
	dir := t.TempDir()
	if conf != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "locust.conf"), []byte(conf), 0o600))
	}
	cmd := run.Command(user)
	u := &uiRun{out: &testutil.Buffer{}, dir: dir, code: make(chan int, 1)}
	for _, e := range cmd.Extensions {
		if w, ok := e.(*webui.Extension); ok {
			u.ext = w
		}
	}
	require.NotNil(t, u.ext, "run.Command has the web UI")
	cmd.Stdout, cmd.Stderr = u.out, u.out
	cmd.Getenv = func(k string) string { return env[k] }
	cmd.Home, cmd.Dir = dir, dir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	go func() { u.code <- cmd.Run(ctx, append([]string{"-H", tg.URL()}, args...)) }()
	select {
	case <-u.ext.Ready():
	case code := <-u.code:
		t.Fatalf("the command line ended (%d) before the UI opened:\n%s", code, u.out.String())
	case <-time.After(20 * time.Second):
		t.Fatal("the web UI did not open")
	}
	return u
}

// wait returns the exit code once the command line ends.
func (u *uiRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-u.code:
		return code
	case <-time.After(25 * time.Second):
		t.Fatal("the command line did not end")
		return -1
	}
}

// fetch gets path from the UI with basic auth (if user is not empty).
func (u *uiRun) fetch(t *testing.T, method, path, user, pass string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u.ext.URL()+path, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// By default the web UI (and the /metrics it serves) listens on
// 127.0.0.1 only, not on every interface.
func TestWebUIBindsToLoopbackByDefault(t *testing.T) {
	u := startWithUI(t, []string{"--web-port", "0", "-u", "1", "-t", "1s", "--autostart", "--autoquit", "0"}, nil, "")
	pu, err := url.Parse(u.ext.URL())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", pu.Hostname(), "the UI listens on loopback unless told otherwise")
	code, body := u.fetch(t, http.MethodGet, "/metrics", "", "", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "locust_")
	assert.Contains(t, []int{0, 1}, u.wait(t), u.out.String())
}

// A request from another site (what a browser sends for a link, an <img
// src> or a form on another page: Sec-Fetch-Site cross-site, or a foreign
// Origin) changes nothing, whatever its method, and /swarm takes only a
// POST.
func TestWebUIRefusesCrossSiteStateChanges(t *testing.T) {
	u := startWithUI(t, []string{"--web-port", "0", "-u", "2", "-t", "2s", "--autostart", "--autoquit", "0"}, nil, "")
	running := func() string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, body := u.fetch(t, http.MethodGet, "/stats/requests", "", "", nil)
			if strings.Contains(body, `"running"`) || time.Now().After(deadline) {
				return body
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	require.Contains(t, running(), `"running"`)
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			for _, p := range []string{"/stop", "/stats/reset", "/swarm?user_count=50&spawn_rate=50"} {
				code, _ := u.fetch(t, m, p, "", "", h)
				assert.Contains(t, []int{http.StatusForbidden, http.StatusMethodNotAllowed}, code, "%s %s %v", m, p, h)
			}
		}
	}
	code, _ := u.fetch(t, http.MethodGet, "/swarm?user_count=50&spawn_rate=50", "", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, code, "GET /swarm")
	body := running()
	assert.Contains(t, body, `"running"`, "nothing stopped the test")
	assert.NotContains(t, body, `"user_count":50`, "nothing changed the users")
	assert.Contains(t, []int{0, 1}, u.wait(t), u.out.String())
}

// Issue 13 asks that state change only by a same-origin POST; the UI
// follows Locust, whose /stop and /stats/reset answer a GET, so a GET
// without browser headers (a script, an old browser's <img src>) stops or
// resets the test.
func TestWebUIStopAndResetOnlyByPost(t *testing.T) {
	u := startWithUI(t, []string{"--web-port", "0", "-u", "2", "-t", "2s", "--autostart", "--autoquit", "0"}, nil, "")
	for _, p := range []string{"/stop", "/stats/reset"} {
		code, _ := u.fetch(t, http.MethodGet, p, "", "", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, code, "GET %s", p)
	}
	assert.Contains(t, []int{0, 1}, u.wait(t), u.out.String())
}

// A --web-auth password, whether from the command line, a LOCUST_WEB_AUTH
// variable or locust.conf, appears nowhere: not in the output or the log
// (at DEBUG), not in the reports (JSON, HTML, CSV), not in the UI's pages
// and not in --help.
func TestWebAuthSecretNeverShown(t *testing.T) {
	reports := t.TempDir() // report paths are relative to the process's directory, not Command.Dir
	for _, src := range []struct {
		name string
		args []string
		env  map[string]string
		conf string
	}{
		{name: "flag", args: []string{"--web-auth", "alice:pw-from-flag-93"}},
		{name: "env", env: map[string]string{"LOCUST_WEB_AUTH": "alice:pw-from-env-93"}},
		{name: "config", conf: "web-auth = alice:pw-from-config-93\n"},
	} {
		t.Run(src.name, func(t *testing.T) {
			secret := "pw-from-" + src.name + "-93"
			prefix := filepath.Join(reports, src.name)
			args := []string{"--web-port", "0", "-u", "1", "-t", "1s", "--autostart", "--autoquit", "0", "-L", "DEBUG",
				"--json-file", prefix + ".json", "--html", prefix + ".html", "--csv", prefix}
			u := startWithUI(t, append(args, src.args...), src.env, src.conf)
			seen := map[string]string{}
			code, _ := u.fetch(t, http.MethodGet, "/", "", "", nil)
			assert.Equal(t, http.StatusUnauthorized, code, "the password is required")
			for _, p := range []string{"/", "/config", "/stats/requests", "/metrics", "/stats/requests/csv",
				"/stats/failures/csv", "/stats/report", "/stats/report/json", "/exceptions"} {
				code, body := u.fetch(t, http.MethodGet, p, "alice", secret, nil)
				if code == http.StatusOK {
					seen["UI "+p] = body
				}
			}
			assert.Contains(t, seen, "UI /", "the password opens the UI")
			// a wrong password is refused without echoing anything
			_, body := u.fetch(t, http.MethodGet, "/", "alice", "wrong", nil)
			seen["UI refusal"] = body
			assert.Contains(t, []int{0, 1}, u.wait(t), u.out.String())
			seen["output"] = u.out.String()
			files, err := filepath.Glob(prefix + "*")
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(files), 4, "the reports were written: %v", files)
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				seen[filepath.Base(f)] = string(b)
			}
			for where, text := range seen {
				assert.NotContains(t, text, secret, "the password appears in %s", where)
			}
		})
	}

	// --help shows no password, whatever the sources say
	cmd := run.Command(&locust.UserType{Name: "Web", Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { return nil })})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locust.conf"), []byte("web-auth = a:pw-conf-help\n"), 0o600))
	cmd.Getenv = func(k string) string {
		if k == "LOCUST_WEB_AUTH" {
			return "a:pw-env-help"
		}
		return ""
	}
	cmd.Home, cmd.Dir = dir, dir
	assert.Equal(t, 0, cmd.Run(context.Background(), []string{"--web-auth", "a:pw-flag-help", "--help"}))
	assert.Contains(t, out.String(), "--web-auth")
	assert.NotContains(t, out.String(), "pw-")
	// and a bad --web-auth is refused without echoing it
	out.Reset()
	cmd = run.Command(&locust.UserType{Name: "Web", Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { return nil })})
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Getenv = func(string) string { return "" }
	cmd.Home, cmd.Dir = t.TempDir(), t.TempDir()
	assert.Equal(t, locust.ExitUsage, cmd.Run(context.Background(), []string{"--headless", "-t", "1s", "--web-auth", "pw-nocolon-secret"}))
	assert.NotContains(t, out.String(), "pw-nocolon-secret", out.String())
}
