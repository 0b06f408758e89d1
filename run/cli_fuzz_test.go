package run_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/run"
)

// errPrepared ends a fuzzed command line once its options are read and
// every extension has checked its own (Configure): nothing runs.
var errPrepared = errors.New("options read")

func fuzzTypes() []*locust.UserType {
	noop := func(context.Context, *locust.User) error { return nil }
	return []*locust.UserType{
		{Name: "Alpha", Tasks: locust.NewTaskSet("a").Task(1, noop), Tags: []string{"x"}},
		{Name: "Beta", Weight: 3, Tasks: locust.NewTaskSet("b").Task(1, noop)},
	}
}

// runParsed runs the complete command line with args and, if conf is not
// nil, a locust.conf holding it, up to the end of option parsing. It fails
// t unless the command line ends with exit code 0 (--help, --version,
// --list) or 2 with exactly one error line (the bad value, or the stop
// after parsing), and no panic.
func runParsed(t *testing.T, args []string, conf []byte) {
	dir := t.TempDir()
	if conf != nil {
		if err := os.WriteFile(filepath.Join(dir, "locust.conf"), conf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := run.Command(fuzzTypes()...)
	cmd.Name = "fuzz"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Getenv = func(string) string { return "" }
	cmd.Home, cmd.Dir = dir, dir
	cmd.Prepare = func(context.Context, *locust.Config, []*locust.UserType) ([]*locust.UserType, error) {
		return nil, errPrepared
	}
	code := cmd.Run(context.Background(), args)
	switch code {
	case 0:
		return
	case locust.ExitUsage:
	default:
		t.Fatalf("args %q, conf %q: exit code %d\n%s%s", args, conf, code, stdout.String(), stderr.String())
	}
	var errLines int
	for _, l := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "fuzz: error: "):
			errLines++
		case strings.HasPrefix(l, "time="): // a log line (notes about files read)
		default:
			t.Fatalf("args %q, conf %q: a line that is neither the error nor a log line: %q\nstderr:\n%s", args, conf, l, stderr.String())
		}
	}
	if errLines != 1 {
		t.Fatalf("args %q, conf %q: %d error lines, want 1\nstderr:\n%s", args, conf, errLines, stderr.String())
	}
}

// unsafeInput reports inputs that would make the command line touch files
// outside the test's directory (--logfile /x creates it; --config /dev/stdin
// would wait for input): not what this fuzz target is about.
func unsafeInput(s string) bool {
	return strings.Contains(s, "logfile") || strings.Contains(s, "config")
}

// FuzzCommandLine feeds the complete command line (every standard
// extension's options too) arbitrary arguments, separated by spaces in the
// fuzzed text: it never panics, and a bad value gets one error line and
// exit code 2.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{
		"--headless -u 10 -r 2 -t 30s -H http://127.0.0.1:8089",
		"-u3 -r=1.5 --run-time=1h30m Alpha Beta", "-u -1", "-r NaN", "-t 10", "-t -5s", "-t 1e400",
		"--csv out --csv-full-history --html r.html --json", "--threshold p95<300ms --threshold-abort",
		"--threshold \"GET /a: p99 < 1s\"", "--stages 30s:10,1m:0", "--stages 1s:-1", "--arrival-rate 10 --max-users 5",
		"--find-capacity", "-T a b -E c", "--tags", "--", "-- Gamma", "--users", "--usrs 3", "-L DEBUG", "-L loud",
		"--web-port 0 --web-host 127.0.0.1", "--web-auth user:secret", "--worker --master-host 127.0.0.1 --master-port 1",
		"--master --expect-workers 2", "--help", "--version", "--list", "-l", "--exit-code-on-error 7", "-i 5", "--stop-timeout 1m",
		"-H", "-H notaurl", "--reset-stats --only-summary", "--compare old.json", "--metrics-addr 127.0.0.1:0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if unsafeInput(s) {
			return
		}
		runParsed(t, strings.Split(s, " "), nil)
	})
}

// FuzzConfigFile feeds the complete command line an arbitrary locust.conf:
// it never panics, and a bad line gets one error line and exit code 2.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"users = 10\nspawn-rate = 2\nrun-time = 30s\nheadless\n",
		"[locust]\nhost: http://127.0.0.1:1\nusers 3 # comment\n; comment\n",
		"tags = [a, b]\nexclude_tags = c\n", "users = -4\n", "run-time = forever\n", "threshold = p95 < 1s\n",
		"stages = '1s:1,2s:0'\n", "usrs = 3\n", "\"users\" = 1\n", "users = \"10\n", "=\n:\n\t\n", "web-auth = admin:hunter2\n",
		strings.Repeat("x", 70000) + "\n", "master\nexpect-workers = 0\n", "locustfile = x.py\n", "help\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, conf []byte) {
		if unsafeInput(string(conf)) {
			return
		}
		runParsed(t, nil, conf)
	})
}
