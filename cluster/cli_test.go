package cluster_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/internal/testutil"
)

// The tests in this file run the cluster through the command line: a
// program of one line (run.Main, testdata/clusterprog) built with go build
// as a user would, started as master and as workers.

// program builds testdata/clusterprog into the test's directory (go
// build's cache makes the second build a link) and returns its path.
func program(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", dir+string(filepath.Separator), "./testdata/clusterprog").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return filepath.Join(dir, "clusterprog")
}

type proc struct {
	cmd            *exec.Cmd
	dir            string
	stdout, stderr testutil.Buffer
	done           chan struct{}
}

type result struct {
	code           int
	stdout, stderr string
}

// start starts bin in a fresh directory (its working directory and
// HOME) without the developer's LOCUST_* variables. The process is killed
// at the end of the test if it is still running.
func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, bin, args...)
}

// startEnv is start with more environment variables (KEY=value).
func startEnv(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{dir: t.TempDir(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = p.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") && !strings.HasPrefix(kv, "HOME=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(append(p.cmd.Env, "HOME="+p.dir), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits up to limit for the program to exit (the test fails after
// that).
func (p *proc) wait(t *testing.T, limit time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("the program did not exit within %s\nstdout:\n%s\nstderr:\n%s", limit, p.stdout.String(), p.stderr.String())
	}
	return result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// kill ends the program at once (SIGKILL), as a crash would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
}

// waitFor waits until the program's stderr holds s n times.
func (p *proc) waitFor(t *testing.T, s string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(p.stderr.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q on stderr:\n%s", n, s, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// target counts the requests it receives by path; /hold is answered only
// once release is called.
type target struct {
	mu      sync.Mutex
	n       map[string]int64
	release chan struct{}
	once    sync.Once
	srv     *httptest.Server
}

func newTarget(t *testing.T) *target {
	tg := &target{n: map[string]int64{}, release: make(chan struct{})}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.n[r.URL.Path]++
		tg.mu.Unlock()
		if r.URL.Path == "/hold" {
			select {
			case <-tg.release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() {
		tg.free()
		tg.srv.Close()
	})
	return tg
}

func (tg *target) free() { tg.once.Do(func() { close(tg.release) }) }

func (tg *target) get(path string) int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.n[path]
}
