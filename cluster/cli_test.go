package cluster_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

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
	bin, err := testutil.Build("./testdata/clusterprog", t.TempDir())
	require.NoError(t, err)
	return bin
}

// start starts bin in a fresh directory (its working directory and
// HOME) without the developer's LOCUST_* variables. The process is killed
// at the end of the test if it is still running.
func start(t *testing.T, bin string, args ...string) *testutil.Proc {
	t.Helper()
	return testutil.Start(t, t.TempDir(), nil, bin, args...)
}

// startEnv is start with more environment variables (KEY=value).
func startEnv(t *testing.T, env []string, bin string, args ...string) *testutil.Proc {
	t.Helper()
	return testutil.Start(t, t.TempDir(), env, bin, args...)
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
