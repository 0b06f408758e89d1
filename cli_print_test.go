package locust_test

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
)

// --show-task-ratio prints Locust 2.12.1's layout, with the names the
// program gave (the output below is Locust's for the same user classes).
func TestCommandShowTaskRatioAsLocust(t *testing.T) {
	website := &locust.UserType{Name: "WebsiteUser", Tasks: locust.NewTaskSet("WebsiteTasks").
		Task(4, noop, locust.TaskName("home")).
		Task(2, noop, locust.TaskName("profile"))}
	mobile := &locust.UserType{Name: "MobileUser", Tasks: locust.NewTaskSet("").Task(1, noop, locust.TaskName("feed"))}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{website, mobile}}, nil, "--show-task-ratio")
	require.Equal(t, 0, res.code, res.stderr)
	// python3 -m locust --show-task-ratio -f lf.py (Debian's Locust 2.12.1)
	want := `
 Task ratio per User class
--------------------------------------------------------------------------------
 50.0       WebsiteUser                                       
   100.0      WebsiteTasks                                    
     66.7       home                                          
     33.3       profile                                       
 50.0       MobileUser                                        
   100.0      feed                                            

 Total task ratio
--------------------------------------------------------------------------------
 50.0       WebsiteUser                                       
   50.0       WebsiteTasks                                    
     33.3       home                                          
     16.7       profile                                       
 50.0       MobileUser                                        
   50.0       feed                                            
`
	assert.Equal(t, want, res.stdout)
}

// --logfile writes the log to a file instead of stderr; --skip-log-setup
// leaves the log to the program's own slog setup.
func TestCommandLogfileAndSkipLogSetup(t *testing.T) {
	dir := t.TempDir()
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Dir: dir}, nil, "--headless", "-i", "3", "--logfile", "run.log", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	log, err := os.ReadFile(filepath.Join(dir, "run.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), `msg="starting test"`)
	assert.Contains(t, string(log), `msg="test stopped"`)
	assert.NotContains(t, res.stderr, "starting test", "the log is in the file alone")
	assert.Contains(t, res.stdout, "Aggregated", "the summary stays on stdout")

	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Dir: dir}, nil, "--headless", "-i", "1", "--logfile", filepath.Join(dir, "missing", "x.log"))
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "loadtest: error: --logfile: open ")

	var own testutil.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&own, nil)))
	defer slog.SetDefault(prev)
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}}, nil, "--headless", "-i", "3", "--skip-log-setup", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NotContains(t, res.stderr, "starting test")
	assert.Contains(t, own.String(), `"msg":"starting test"`, "the program's own handler got the log")
}

// The final summary says how many requests the stop cut short, when any.
func TestCommandSummaryCountsCutShort(t *testing.T) {
	cut := &locust.UserType{Name: "Cut", Tasks: locust.NewTaskSet("c").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/", time.Millisecond, 0)
		u.RecordCutShort()
		return nil
	})}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{cut}}, nil, "--headless", "-i", "3", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "\n3 requests were cut short by the stop")
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}}, nil, "--headless", "-i", "3", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NotContains(t, res.stdout, "cut short")
	assert.True(t, strings.HasSuffix(res.stdout, "\n\n"))
}

// Prepare gets the parsed configuration and chosen types and returns the
// types to run; the program's definitions are left alone.
func TestCommandPrepareChangesTypesFromOwnFlag(t *testing.T) {
	slow := &locust.UserType{Name: "Slow", Wait: locust.Constant(time.Minute), Tasks: locust.NewTaskSet("s").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/", time.Millisecond, 0)
		return nil
	})}
	other := idleUser("Other")
	run := func(args ...string) (cmdResult, []*locust.UserType) {
		var got []*locust.UserType
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fast := fs.Bool("fast", false, "short waits")
		c := &locust.Command{Users: []*locust.UserType{slow, other}, Flags: fs,
			Prepare: func(_ context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
				got = types
				if cfg.Host == "" {
					cfg.Host = "http://127.0.0.1:1"
				}
				if !*fast {
					return types, nil
				}
				out := make([]*locust.UserType, len(types))
				for i, ty := range types {
					c := *ty
					c.Wait = locust.Constant(time.Millisecond)
					out[i] = &c
				}
				return out, nil
			}}
		return runCmd(t, c, nil, args...), got
	}
	res, got := run("Slow", "--fast", "--headless", "-t", "1s", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, []*locust.UserType{slow}, got, "the types chosen on the command line")
	assert.Greater(t, res.runner.Snapshot().Total.Requests, int64(20), "--fast shortened the wait")
	assert.Equal(t, locust.Constant(time.Minute), slow.Wait, "the definition is left alone")
	assert.Equal(t, "http://127.0.0.1:1", res.runner.Config().Host, "Prepare may change the configuration")

	res, _ = run("Slow", "--headless", "-t", "1s", "--only-summary")
	require.Equal(t, 0, res.code, res.stderr)
	assert.EqualValues(t, 1, res.runner.Snapshot().Total.Requests, "without --fast: one task, then a minute's wait")
}
