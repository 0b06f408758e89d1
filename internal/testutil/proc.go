package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Build builds the main package pkg (a path such as ./testdata/loadtest,
// relative to the test's package) with go build, as a user would, into
// outDir, and returns the program's path.
func Build(pkg, outDir string) (string, error) {
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", outDir+string(filepath.Separator), pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return filepath.Join(outDir, filepath.Base(pkg)), nil
}

// Proc is a program a test started (Start): its command, its directory
// (working directory and HOME) and what it printed so far.
type Proc struct {
	Cmd            *exec.Cmd
	Dir            string
	Stdout, Stderr Buffer
	Began          time.Time
	done           chan struct{}
}

// Result is how a program ended.
type Result struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// Start starts bin with args in dir (its working directory and HOME),
// without the developer's LOCUST_* variables, with env (KEY=value) added,
// in a process group of its own. At the end of the test the group is
// killed if the program still runs (a Python Locust leaves children), and
// when the test failed what the program printed is logged.
func Start(t testing.TB, dir string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Dir: dir, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") && !strings.HasPrefix(kv, "HOME=") {
			p.Cmd.Env = append(p.Cmd.Env, kv)
		}
	}
	p.Cmd.Env = append(append(p.Cmd.Env, "HOME="+dir), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Stdout, &p.Stderr
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.Began = time.Now()
	require.NoError(t, p.Cmd.Start())
	go func() {
		_ = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s printed:\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), p.Stdout.String(), p.Stderr.String())
		}
	})
	return p
}

// Done is closed when the program has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits up to limit for the program to exit; after that it kills it
// and fails the test.
func (p *Proc) Wait(t testing.TB, limit time.Duration) Result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		_ = p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("the program did not exit within %s\nstdout:\n%s\nstderr:\n%s", limit, p.Stdout.String(), p.Stderr.String())
	}
	return Result{Code: p.Cmd.ProcessState.ExitCode(), Stdout: p.Stdout.String(), Stderr: p.Stderr.String(), Took: time.Since(p.Began)}
}

// WaitFor waits up to limit until the program's stderr holds s n times;
// after that it kills it and fails the test.
func (p *Proc) WaitFor(t testing.TB, s string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(p.Stderr.String(), s) < n {
		if time.Now().After(deadline) {
			_ = p.Cmd.Process.Kill()
			t.Fatalf("no %d× %q on stderr within %s:\n%s", n, s, limit, p.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends the program at once (SIGKILL), as a crash would, and waits
// for it.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Kill())
	<-p.done
}
