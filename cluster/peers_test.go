package cluster

import (
	"bufio"
	"context"
	"encoding/csv"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/internal/testutil"
)

// locustBin returns the path of Debian's locust, or skips the test (fails it
// under LOCUST_REQUIRE_PEERS=1, as .ci/run sets).
func locustBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("locust")
	if err != nil {
		if os.Getenv("LOCUST_REQUIRE_PEERS") == "1" {
			t.Fatalf("locust is not installed (apt-get install -y python3-locust) and LOCUST_REQUIRE_PEERS=1")
		}
		t.Skip("locust is not installed: apt-get install -y python3-locust to run this test")
	}
	return p
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// target is an HTTP server on 127.0.0.1 that counts the requests per path.
// /fail answers 500, everything else 200.
type target struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   map[string]int64
}

func newTarget(t *testing.T) *target {
	tg := &target{n: map[string]int64{}}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.n[r.URL.Path]++
		tg.mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) counts() map[string]int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[string]int64{}
	for k, v := range tg.n {
		out[k] = v
	}
	return out
}

// locustProc is a running Python Locust process.
type locustProc struct{ *testutil.Proc }

// startLocust starts locust with args in dir; the process group is killed
// at the end of the test if still running.
func startLocust(t *testing.T, dir string, args ...string) *locustProc {
	t.Helper()
	return &locustProc{testutil.Start(t, dir, []string{"PYTHONUNBUFFERED=1"}, locustBin(t), args...)}
}

func (p *locustProc) wait(t *testing.T, d time.Duration) { p.Wait(t, d) }

// waitOutput waits until the process printed s (Locust logs to stderr).
func (p *locustProc) waitOutput(t *testing.T, s string, d time.Duration) { p.WaitFor(t, s, 1, d) }

// csvRows reads a Locust CSV file as maps keyed by header.
func csvRows(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			if i < len(r) {
				m[h] = r[i]
			}
		}
		rows = append(rows, m)
	}
	return rows
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, s)
	return n
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// masterLocustfile declares the classes the Go workers define (their
// Python bodies never run on a master).
const masterLocustfile = `from locust import User, task, constant

class WebUser(User):
    wait_time = constant(1)
    @task
    def t(self):
        pass

class APIUser(User):
    wait_time = constant(1)
    @task
    def t(self):
        pass
`

var _ = context.Background

// cutProxy forwards TCP connections from a port on 127.0.0.1 to another.
// cut resets every connection and refuses new ones (accepted then reset at
// once) until restore, as a network link that goes down.
type cutProxy struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	down   bool
	wg     sync.WaitGroup
	closed bool
	paused bool // stop reading what the client sends
	// smallBuf gives the next accepted connections a small receive
	// buffer, so that a pause leaves bytes unacknowledged at the sender
	// soon; restore clears it (a small buffer also makes transfers slow)
	smallBuf bool
}

func newCutProxy(t *testing.T, to string, smallBuf bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, to: to, conns: map[net.Conn]struct{}{}, smallBuf: smallBuf}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			reset(c)
			continue
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			p.mu.Unlock()
			reset(c)
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		small := p.smallBuf
		p.mu.Unlock()
		if tc, ok := c.(*net.TCPConn); ok && small {
			_ = tc.SetReadBuffer(4096)
		}
		pipe := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				for src == c && p.isPaused() {
					time.Sleep(5 * time.Millisecond)
				}
				n, err := src.Read(buf)
				if n > 0 {
					if _, werr := dst.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			// an end from one side closes both, gracefully: what was
			// forwarded is delivered (cut resets instead)
			p.mu.Lock()
			delete(p.conns, src)
			delete(p.conns, dst)
			p.mu.Unlock()
			_ = src.Close()
			_ = dst.Close()
		}
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		reset(c)
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.paused, p.smallBuf = false, false, false
}

// pause stops forwarding what clients send (their bytes pile up unread and
// soon unacknowledged), as a link that stalls before it breaks.
func (p *cutProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
}

func (p *cutProxy) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused && !p.down && !p.closed
}

func (p *cutProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cut()
	_ = p.ln.Close()
	p.wg.Wait()
}
