package run_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/run"
)

// A test stopped by a signal in the middle of the run accounts for every
// request the target received, exactly: successes + failures + cut short.
// Each user sends quick requests (some answered 500) and then one that the
// target holds until the test has stopped; the signal comes once every
// user is inside a held request, so those are the ones cut short.
func TestSignalMidRunAccountsForEveryRequest(t *testing.T) {
	const users = 8
	var received, held atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := received.Add(1)
		switch r.URL.Path {
		case "/hold":
			held.Add(1)
			<-release
		case "/quick":
			if n%7 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}
	}))
	defer srv.Close()
	defer once.Do(func() { close(release) })

	var round atomic.Int64
	user := &locust.UserType{
		Name: "Counter",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			c := client.HTTPFor(u)
			for range 20 {
				_, _ = c.Get(ctx, "/quick")
			}
			if round.Add(1) > users { // each user's second round holds
				_, err := c.Get(ctx, "/hold")
				return err
			}
			return nil
		}),
	}
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "run.json")
	cmd := run.Command(user)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Getenv = func(string) string { return "" }
	cmd.Home, cmd.Dir = dir, dir
	cmd.Signals = []os.Signal{syscall.SIGUSR1}
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for held.Load() < users && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	}()
	code := cmd.Run(context.Background(), []string{"--headless", "-u", "8", "-r", "100", "-t", "60s",
		"-H", srv.URL, "--only-summary", "--json-file", jsonFile})
	once.Do(func() { close(release) })
	assert.Equal(t, 1, code, "requests failed (the 500s): %s", out.String())
	require.EqualValues(t, users, held.Load(), out.String())

	doc, err := report.ReadDocumentFile(jsonFile)
	require.NoError(t, err)
	assert.EqualValues(t, users, doc.CutShort, "the held requests were cut short")
	assert.Equal(t, received.Load(), doc.Total.NumRequests+doc.CutShort,
		"successes + failures + cut short == requests the target received")
	assert.Positive(t, doc.Total.NumFailures)
	assert.Contains(t, out.String(), "cut short")
}
