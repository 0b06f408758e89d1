package locust_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// Every bad option or value gets one line in the same words, naming the
// option as the help text does.
func TestCommandErrorWording(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--uesrs", "10"}, nil, `unknown option --uesrs (did you mean --users?)`},
		{[]string{"--spawnrate", "2"}, nil, `unknown option --spawnrate (did you mean --spawn-rate?)`},
		{[]string{"--run-tim=5s"}, nil, `unknown option --run-tim (did you mean --run-time?)`},
		{[]string{"--headles"}, nil, `unknown option --headles (did you mean --headless?)`},
		{[]string{"--zzzzzzzz"}, nil, `unknown option --zzzzzzzz (see --help)`},
		{[]string{"-x"}, nil, `unknown option -x (see --help)`},
		{[]string{"-t", "10x"}, nil, `invalid value "10x" for -t/--run-time: invalid time span "10x" (use e.g. 30s, 5m, 1h30m)`},
		{[]string{"-u", "many"}, nil, `invalid value "many" for -u/--users: not a whole number`},
		{[]string{"--users=-3"}, nil, `invalid value "-3" for -u/--users: must be at least 0`},
		{[]string{"-c", "x"}, nil, `invalid value "x" for -c/--clients: not a whole number`},
		{[]string{"-r", "0"}, nil, `invalid value "0" for -r/--spawn-rate: must be above 0`},
		{[]string{"-r", "inf"}, nil, `invalid value "inf" for -r/--spawn-rate: must be a finite number of users per second`},
		{[]string{"-r", "NaN"}, nil, `invalid value "NaN" for -r/--spawn-rate: must be a finite number of users per second`},
		{[]string{"-r", "1e999"}, nil, `invalid value "1e999" for -r/--spawn-rate: must be a finite number of users per second`},
		{[]string{"-t", "99999999999999999999s"}, nil, `invalid value "99999999999999999999s" for -t/--run-time: time span "99999999999999999999s" is too long`},
		{[]string{"-t", "99999999999999999999"}, nil, `invalid value "99999999999999999999" for -t/--run-time: time span`},
		{[]string{"-t", "inf"}, nil, `invalid value "inf" for -t/--run-time: time span "inf" is too long`},
		{[]string{"-t", "NaN"}, nil, `invalid value "NaN" for -t/--run-time: invalid time span`},
		{[]string{"--stop-timeout", "9999999999h"}, nil, `invalid value "9999999999h" for -s/--stop-timeout: time span "9999999999h" is too long`},
		{[]string{"-i", "-1"}, nil, `invalid value "-1" for -i/--iterations: must be at least 0`},
		{[]string{"-n", "1.5"}, nil, `invalid value "1.5" for -n/--num-request: not a whole number`},
		{[]string{"-L", "LOUD"}, nil, `invalid value "LOUD" for -L/--loglevel: use DEBUG, INFO, WARNING, ERROR or CRITICAL`},
		{[]string{"--exit-code-on-error", "x"}, nil, `invalid value "x" for --exit-code-on-error: not a whole number`},
		{[]string{"--headless=maybe"}, nil, `invalid value "maybe" for --headless: not a boolean (use true/false, yes/no or 1/0)`},
		{[]string{"-u"}, nil, `missing value for -u/--users`},
		{nil, map[string]string{"LOCUST_USERS": "lots"}, `invalid value "lots" for LOCUST_USERS (-u/--users): not a whole number`},
		{nil, map[string]string{"LOCUST_SPAWN_RATE": "inf"}, `invalid value "inf" for LOCUST_SPAWN_RATE (-r/--spawn-rate): must be a finite number`},
		{nil, map[string]string{"LOCUST_HEADLESS": "maybe"}, `invalid value "maybe" for LOCUST_HEADLESS (--headless): not a boolean`},
	} {
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, tc.env, tc.args...)
		assert.Equal(t, locust.ExitUsage, res.code, "%v %v", tc.args, tc.env)
		assert.True(t, strings.HasPrefix(res.stderr, "loadtest: error: "+tc.want), "%v %v:\n%s", tc.args, tc.env, res.stderr)
		assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		assert.Nil(t, res.runner, "no test starts")
	}
}

// A program's own flags of the flag package's types get the same wording.
func TestCommandErrorWordingOwnFlags(t *testing.T) {
	own := func() *flag.FlagSet {
		fs := flag.NewFlagSet("shop", flag.ContinueOnError)
		fs.Int("products", 10, "how many products")
		return fs
	}
	res := runCmd(t, &locust.Command{Flags: own(), Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, nil, "--products", "ten")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Equal(t, "loadtest: error: invalid value \"ten\" for --products: not a whole number (or out of range)\n", res.stderr)
	res = runCmd(t, &locust.Command{Flags: own(), Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, nil, "--prodcts", "3")
	assert.Equal(t, "loadtest: error: unknown option --prodcts (did you mean --products?)\n", res.stderr)
}

// Options are parsed as Python's argparse parses Locust's: after the user
// type names too, -u3, --tags a b, --opt=value, and the flag package's
// -name form for a program's own flags.
func TestCommandParsesLikeArgparse(t *testing.T) {
	tagged := func() *locust.UserType {
		return &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, noop, locust.Tags("a", "b")).Task(1, noop, locust.Tags("c"))}
	}
	other := &locust.UserType{Name: "Other", Tasks: locust.NewTaskSet("o").Task(1, noop, locust.Tags("a", "b", "c"))}
	for _, tc := range []struct {
		args  []string
		users int
		tags  []string
		types []string
	}{
		{[]string{"U", "--headless", "-u", "4"}, 4, nil, []string{"U"}},
		{[]string{"-u3", "U"}, 3, nil, []string{"U"}},
		{[]string{"-u=5"}, 5, nil, []string{"U", "Other"}},
		{[]string{"--users=6", "Other", "U"}, 6, nil, []string{"Other", "U"}},
		{[]string{"--tags", "a", "b", "-u", "2"}, 2, []string{"a", "b"}, []string{"U", "Other"}},
		{[]string{"-T", "a,c", "--headless"}, 1, []string{"a", "c"}, []string{"U", "Other"}},
		{[]string{"--tags", "a", "--tags", "b"}, 1, []string{"a", "b"}, []string{"U", "Other"}},
		{[]string{"-users", "7"}, 7, nil, []string{"U", "Other"}},
		{[]string{"-u", "2", "--", "U"}, 2, nil, []string{"U"}},
	} {
		u := tagged()
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{u, other}, Setup: stopAtOnce}, nil, tc.args...)
		require.Equal(t, 0, res.code, "%v: %s", tc.args, res.stderr)
		cfg := res.runner.Config()
		assert.Equal(t, tc.users, cfg.Users, "%v", tc.args)
		assert.Equal(t, tc.tags, []string(cfg.Tags), "%v", tc.args)
		var names []string
		for _, ty := range res.runner.UserTypes() {
			names = append(names, ty.Name)
		}
		assert.Equal(t, tc.types, names, "%v", tc.args)
	}
}

// -u 0 starts no user; without -u there is one, as in Locust.
func TestCommandZeroUsers(t *testing.T) {
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}}, nil, "--headless", "-u", "0", "-t", "300ms", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Zero(t, res.runner.Snapshot().Total.Requests, "no user ran")
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}}, nil, "--headless", "-i", "5", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 1, res.runner.Config().Users)
	assert.EqualValues(t, 5, res.runner.Snapshot().Total.Requests)
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}}, nil, "--help")
	assert.Contains(t, res.stdout, "(default 1, as Locust's; 0 starts none)")
}
