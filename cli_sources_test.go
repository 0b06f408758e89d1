package locust_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func taggedUser() *locust.UserType {
	return &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, noop, locust.Tags("a", "b")).Task(1, noop, locust.Tags("c"))}
}

// ./locust.conf in Locust's format is read, and the log says so.
func TestCommandReadsLocustConf(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "locust.conf", `# a Locust config file
[locust]
locustfile = locustfile.py
host = http://127.0.0.1:1
users = 3
spawn_rate: 2.5
run-time 10s   # inline comment
headless
tags = [a, c]
stop-timeout = "4s"
reset-stats = yes
`)
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{taggedUser()}, Setup: stopAtOnce, Dir: dir}, nil)
	require.Equal(t, 0, res.code, res.stderr)
	cfg := res.runner.Config()
	assert.Equal(t, "http://127.0.0.1:1", cfg.Host)
	assert.Equal(t, 3, cfg.Users)
	assert.Equal(t, 2.5, cfg.SpawnRate)
	assert.Equal(t, 10*time.Second, cfg.RunTime)
	assert.Equal(t, 4*time.Second, cfg.StopTimeout)
	assert.Equal(t, []string{"a", "c"}, []string(cfg.Tags))
	assert.True(t, cfg.ResetStats)
	assert.NotContains(t, res.stderr, "no web UI", "headless from the file")
	assert.Contains(t, res.stderr, `level=INFO msg="read config file" file=`+conf)
	assert.Contains(t, res.stderr, "ignored", "locustfile means nothing here: said, not an error")
}

// Precedence, as Locust's: ~/.locust.conf, ./locust.conf, --config FILE,
// LOCUST_* variables, the command line.
func TestCommandOptionPrecedence(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	writeFile(t, home, ".locust.conf", "users = 5\nhost = http://127.0.0.1:5\nrun-time = 5s\nspawn-rate = 5\nstop-timeout = 5\n")
	writeFile(t, dir, "locust.conf", "users = 6\nhost = http://127.0.0.1:6\nrun-time = 6s\nspawn-rate = 6\n")
	writeFile(t, dir, "more.conf", "users = 7\nhost = http://127.0.0.1:7\nrun-time = 7s\n")
	env := map[string]string{"LOCUST_USERS": "8", "LOCUST_HOST": "http://127.0.0.1:8"}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce, Home: home, Dir: dir}, env,
		"--config", "more.conf", "-u", "9")
	require.Equal(t, 0, res.code, res.stderr)
	cfg := res.runner.Config()
	assert.Equal(t, 9, cfg.Users, "command line over everything")
	assert.Equal(t, "http://127.0.0.1:8", cfg.Host, "LOCUST_HOST over the files")
	assert.Equal(t, 7*time.Second, cfg.RunTime, "--config over ./locust.conf")
	assert.Equal(t, 6.0, cfg.SpawnRate, "./locust.conf over ~/.locust.conf")
	assert.Equal(t, 5*time.Second, cfg.StopTimeout, "~/.locust.conf")
	assert.Equal(t, 3, strings.Count(res.stderr, `msg="read config file"`), res.stderr)

	// HOME (through Getenv) names the home directory when Home is ""
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, map[string]string{"HOME": home})
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 5, res.runner.Config().Users)

	// LOCUST_CONFIG names a config file too
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, map[string]string{"LOCUST_CONFIG": filepath.Join(dir, "more.conf")})
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 7, res.runner.Config().Users)

	// a list from a later source replaces the earlier one
	writeFile(t, dir, "tags.conf", "tags = a\n")
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{taggedUser()}, Setup: stopAtOnce, Dir: dir}, map[string]string{"LOCUST_TAGS": "b"}, "--config", "tags.conf", "--tags", "c")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, []string{"c"}, []string(res.runner.Config().Tags))
}

// Booleans accept what Locust accepts, in variables and config files.
func TestCommandBooleans(t *testing.T) {
	for _, tc := range []struct {
		env      string
		conf     string
		headless bool
	}{
		{"yes", "", true}, {"true", "", true}, {"1", "", true}, {"TRUE", "", true},
		{"no", "", false}, {"false", "", false}, {"0", "", false},
		{"", "headless = yes", true}, {"", "headless = 1", true}, {"", "headless = false", false},
		{"no", "headless = true", false},
	} {
		dir := t.TempDir()
		if tc.conf != "" {
			writeFile(t, dir, "locust.conf", tc.conf+"\n")
		}
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce, Dir: dir}, map[string]string{"LOCUST_HEADLESS": tc.env})
		require.Equal(t, 0, res.code, res.stderr)
		assert.Equal(t, tc.headless, !strings.Contains(res.stderr, "no web UI"), "LOCUST_HEADLESS=%q, %q", tc.env, tc.conf)
	}
}

// Mistakes in config files are caught before the test, with the file and
// the line.
func TestCommandConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.conf", "# x\nuesrs = 3\n")
	badValue := writeFile(t, dir, "value.conf", "host = http://127.0.0.1:1\nusers = three\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", bad}, "unknown option uesrs in " + bad + " line 2 (did you mean users?)"},
		{[]string{"--config", badValue}, `invalid value "three" for ` + badValue + ` line 2 (-u/--users): not a whole number`},
		{[]string{"--config", filepath.Join(dir, "missing.conf")}, "config file: open " + filepath.Join(dir, "missing.conf")},
	} {
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce, Dir: dir}, nil, tc.args...)
		assert.Equal(t, locust.ExitUsage, res.code)
		assert.True(t, strings.HasPrefix(res.stderr, "loadtest: error: "+tc.want), res.stderr)
		assert.Nil(t, res.runner)
	}
}
