package locust_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// A task panic is logged at ERROR with its stack the first time each
// distinct panic happens; later ones are only counted.
func TestTaskPanicIsLoggedOnceWithItsStack(t *testing.T) {
	defer goleak.VerifyNone(t)
	var seq int
	task := func(context.Context, *locust.User) error {
		seq++
		if seq%4 == 0 {
			panic(errors.New("other failure"))
		}
		panic("boom")
	}
	cfg, log := logged(locust.Config{Users: 1, Iterations: 8})
	r, err := locust.NewRunner(cfg, &locust.UserType{Name: "P", Tasks: locust.NewTaskSet("t").Task(1, task, locust.TaskName("explode"))})
	require.NoError(t, err)
	run(t, r)
	text := log.String()
	var errorLines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errorLines = append(errorLines, l)
		}
	}
	require.Len(t, errorLines, 2, "one ERROR per distinct panic:\n%s", text)
	assert.Contains(t, errorLines[0], "panic=boom")
	assert.Contains(t, errorLines[0], "task=explode")
	assert.Contains(t, errorLines[0], "startwarn_test.go", "the location and the stack are in the log")
	assert.Contains(t, errorLines[0], "stack=")
	assert.Contains(t, errorLines[1], `panic="other failure"`)
	var count int64
	for _, e := range r.Snapshot().Exceptions {
		count += e.Count
	}
	assert.EqualValues(t, 8, count, "every panic is counted")
}

// Waits typed as bare numbers (nanoseconds) get a warning at start naming
// the type and the likely intended milliseconds; real waits do not.
func TestShortWaitWarning(t *testing.T) {
	defer goleak.VerifyNone(t)
	mk := func(name string, w locust.WaitTime) *locust.UserType {
		return &locust.UserType{Name: name, Wait: w, Tasks: locust.NewTaskSet(name).Task(1, noop)}
	}
	nested := locust.NewTaskSet("outer").TaskSet(1, locust.NewTaskSet("inner").Wait(locust.Constant(300)).Task(1, noop))
	cfg, log := logged(locust.Config{Users: 1})
	r, err := locust.NewRunner(cfg,
		mk("Typo", locust.Between(5000, 15000)),
		mk("Fine", locust.Between(5*time.Second, 15*time.Second)),
		mk("NoWait", locust.Constant(0)),
		mk("Pacing", locust.ConstantPacing(500)),
		&locust.UserType{Name: "Nested", Tasks: nested},
	)
	require.NoError(t, err)
	r.Stop()
	require.NoError(t, r.Run(context.Background()))
	text := log.String()
	assert.Contains(t, text, `user type \"Typo\" waits at most 15µs between tasks`)
	assert.Contains(t, text, "locust.Between(5000*time.Millisecond, 15000*time.Millisecond)")
	assert.Contains(t, text, "locust.ConstantPacing(500*time.Millisecond)")
	assert.Contains(t, text, "locust.Constant(300*time.Millisecond)")
	assert.Contains(t, text, `user type \"Nested\"`)
	assert.NotContains(t, text, `\"Fine\"`)
	assert.NotContains(t, text, `\"NoWait\"`)
	assert.Equal(t, 3, strings.Count(text, "level=WARN msg=\"user type"))
}
