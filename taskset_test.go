package locust_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func TestTaskWeightsGiveTheirRatio(t *testing.T) {
	var home, profile atomic.Int64
	ts := locust.NewTaskSet("website").
		Task(4, func(context.Context, *locust.User) error { home.Add(1); return nil }, locust.TaskName("home")).
		Task(2, func(context.Context, *locust.User) error { profile.Add(1); return nil }, locust.TaskName("profile"))
	const n = 3000
	r := newRunner(t, locust.Config{Users: 4, Iterations: n}, &locust.UserType{Name: "Web", Tasks: ts})
	run(t, r)
	h, p := home.Load(), profile.Load()
	require.EqualValues(t, n, h+p, "exactly -i task runs")
	// home ~ Binomial(n, 2/3): within 5 sigma of n·2/3
	sigma := math.Sqrt(n * 2.0 / 3 * 1.0 / 3)
	assert.InDelta(t, n*2.0/3, float64(h), 5*sigma, "home %d, profile %d", h, p)
	assert.Equal(t, map[string]float64{"home": 4.0 / 6, "profile": 2.0 / 6}, r.TaskRatios()["Web"])
}

func TestUserTypeDistribution(t *testing.T) {
	mk := func(name string, weight, fixed int) *locust.UserType {
		return &locust.UserType{Name: name, Weight: weight, FixedCount: fixed,
			Wait: locust.Constant(50 * time.Millisecond), Tasks: locust.NewTaskSet(name).Task(1, noop)}
	}
	r := newRunner(t, locust.Config{Users: 9}, mk("Reader", 3, 0), mk("Writer", 1, 0), mk("Admin", 0, 1))
	var counts map[string]int
	spawned := -1
	r.Events().SpawningComplete.Add(func(n int) {
		spawned, counts = n, r.UserCounts()
		r.Stop()
	})
	run(t, r)
	assert.Equal(t, 9, spawned)
	assert.Equal(t, map[string]int{"Reader": 6, "Writer": 2, "Admin": 1}, counts)
	assert.Equal(t, 0, r.UserCount(), "no users after the stop")

	// only fixed-count types: never more users than they allow
	r = newRunner(t, locust.Config{Users: 5}, mk("A", 0, 2), mk("B", 0, 1))
	r.Events().SpawningComplete.Add(func(n int) { spawned, counts = n, r.UserCounts(); r.Stop() })
	run(t, r)
	assert.Equal(t, 3, spawned)
	assert.Equal(t, map[string]int{"A": 2, "B": 1}, counts)
}

// A nested set left with ErrInterrupt hands control back to its parent,
// which picks its next task at once; with ErrInterruptAndWait the parent
// waits first. Both run the set's OnStop.
func TestNestedSetInterrupt(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		parentWaits int64
	}{
		{"interrupt", locust.ErrInterrupt, 0},
		{"interrupt and wait", locust.ErrInterruptAndWait, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parentWaits, childWaits, starts, stops, runs atomic.Int64
			child := locust.NewTaskSet("forum").
				OnStart(func(context.Context, *locust.User) error { starts.Add(1); return nil }).
				OnStop(func(context.Context, *locust.User) error { stops.Add(1); return nil }).
				Wait(locust.WaitFunc(func(*locust.User) time.Duration { childWaits.Add(1); return 0 })).
				Task(1, func(context.Context, *locust.User) error { runs.Add(1); return tc.err })
			root := locust.NewTaskSet("root").TaskSet(1, child)
			r := newRunner(t, locust.Config{Users: 1, Iterations: 50}, &locust.UserType{
				Name: "U", Tasks: root,
				Wait: locust.WaitFunc(func(*locust.User) time.Duration { parentWaits.Add(1); return 0 }),
			})
			run(t, r)
			assert.EqualValues(t, 50, runs.Load())
			assert.EqualValues(t, tc.parentWaits, parentWaits.Load())
			assert.Zero(t, childWaits.Load(), "an interrupting task does not wait in its set")
			assert.Equal(t, starts.Load(), stops.Load(), "every entry has its exit")
			assert.GreaterOrEqual(t, starts.Load(), int64(50))
			assert.LessOrEqual(t, starts.Load(), int64(51))
			assert.Empty(t, r.Snapshot().Exceptions)
		})
	}
}

func TestNestedSetRunsUntilInterrupted(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	add := func(s string) { mu.Lock(); trace = append(trace, s); mu.Unlock() }
	type key struct{}
	inner := locust.NewTaskSet("inner").
		OnStart(func(_ context.Context, u *locust.User) error { add("in"); u.SetValue(key{}, 0); return nil }).
		OnStop(func(context.Context, *locust.User) error { add("out"); return nil }).
		Task(1, func(_ context.Context, u *locust.User) error {
			n := u.Value(key{}).(int) + 1
			u.SetValue(key{}, n)
			add("read")
			if n == 3 {
				return locust.ErrInterrupt
			}
			return nil
		})
	outer := locust.NewSequentialTaskSet("outer").
		Task(1, func(context.Context, *locust.User) error { add("home"); return nil }).
		TaskSet(1, inner)
	r := newRunner(t, locust.Config{Users: 1, Iterations: 8}, &locust.UserType{Name: "U", Tasks: outer})
	run(t, r)
	assert.Equal(t, strings.Fields("home in read read read out home in read read read out"), trace)
}

func TestInterruptOutsideNestedSetIsAnError(t *testing.T) {
	r := newRunner(t, locust.Config{Users: 1, Iterations: 3}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("root").Task(1, func(context.Context, *locust.User) error { return locust.ErrInterrupt }, locust.TaskName("leave"))})
	run(t, r)
	ex := r.Snapshot().Exceptions
	require.Len(t, ex, 1)
	assert.Contains(t, ex[0].Message, `"leave"`)
	assert.Contains(t, ex[0].Message, "outside a nested task set")
	assert.EqualValues(t, 3, ex[0].Count)
}

func TestSequentialSetRunsInOrder(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	step := func(name string) locust.TaskFunc {
		return func(context.Context, *locust.User) error {
			mu.Lock()
			trace = append(trace, name)
			mu.Unlock()
			return nil
		}
	}
	seq := locust.NewSequentialTaskSet("checkout").
		Task(2, step("a")). // weight: two in a row
		Task(1, step("b")).
		Task(1, step("c"))
	r := newRunner(t, locust.Config{Users: 1, Iterations: 12}, &locust.UserType{Name: "Buyer", Tasks: seq})
	run(t, r)
	assert.Equal(t, strings.Fields("a a b c a a b c a a b c"), trace)
}

func TestUserOnStartOnStop(t *testing.T) {
	var starts, stops, tasks atomic.Int64
	ids := sync.Map{}
	ut := &locust.UserType{
		Name: "U",
		Wait: locust.Constant(5 * time.Millisecond),
		OnStart: func(_ context.Context, u *locust.User) error {
			starts.Add(1)
			ids.Store(u.ID(), true)
			return nil
		},
		OnStop: func(_ context.Context, u *locust.User) error {
			stops.Add(1)
			return nil
		},
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { tasks.Add(1); return nil }),
	}
	// a run-time stop with the default stop timeout (0) cancels the users;
	// their OnStop still runs, as in Locust
	r := newRunner(t, locust.Config{Users: 3, RunTime: 300 * time.Millisecond}, ut)
	run(t, r)
	assert.Equal(t, "run time", r.StopReason())
	assert.EqualValues(t, 3, starts.Load())
	assert.EqualValues(t, 3, stops.Load())
	assert.Positive(t, tasks.Load())
	for id := 1; id <= 3; id++ {
		_, ok := ids.Load(id)
		assert.True(t, ok, "user id %d", id)
	}
}

func TestOnStartErrors(t *testing.T) {
	// an error in OnStart is recorded and the user goes on
	var tasks atomic.Int64
	r := newRunner(t, locust.Config{Users: 1, Iterations: 4}, &locust.UserType{
		Name:    "U",
		OnStart: func(context.Context, *locust.User) error { return errors.New("login failed") },
		Tasks:   locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { tasks.Add(1); return nil }),
	})
	run(t, r)
	assert.EqualValues(t, 4, tasks.Load())
	ex := r.Snapshot().Exceptions
	require.Len(t, ex, 1)
	assert.Equal(t, "login failed", ex[0].Message)

	// ErrStopUser in OnStart: no task runs, OnStop still does
	var stops atomic.Int64
	tasks.Store(0)
	r = newRunner(t, locust.Config{Users: 2, RunTime: 200 * time.Millisecond}, &locust.UserType{
		Name:    "U",
		OnStart: func(context.Context, *locust.User) error { return locust.ErrStopUser },
		OnStop:  func(context.Context, *locust.User) error { stops.Add(1); return nil },
		Tasks:   locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { tasks.Add(1); return nil }),
	})
	run(t, r)
	assert.Zero(t, tasks.Load())
	assert.EqualValues(t, 2, stops.Load())
	assert.Empty(t, r.Snapshot().Exceptions)
}

func TestStopUser(t *testing.T) {
	type key struct{}
	var tasks, stops, setStops atomic.Int64
	set := locust.NewTaskSet("t").
		OnStop(func(context.Context, *locust.User) error { setStops.Add(1); return nil }).
		Task(1, func(_ context.Context, u *locust.User) error {
			tasks.Add(1)
			n, _ := u.Value(key{}).(int)
			u.SetValue(key{}, n+1)
			if n+1 == 3 {
				return locust.ErrStopUser
			}
			return nil
		})
	r := newRunner(t, locust.Config{Users: 2, RunTime: 300 * time.Millisecond}, &locust.UserType{
		Name: "U", Tasks: set,
		OnStop: func(context.Context, *locust.User) error { stops.Add(1); return nil },
	})
	run(t, r)
	assert.EqualValues(t, 6, tasks.Load(), "each user stops after its third task")
	assert.EqualValues(t, 2, stops.Load())
	assert.EqualValues(t, 2, setStops.Load())
	assert.Empty(t, r.Snapshot().Exceptions)
}

func TestRescheduleTask(t *testing.T) {
	var waits, runs atomic.Int64
	r := newRunner(t, locust.Config{Users: 1, Iterations: 10}, &locust.UserType{
		Name: "U",
		Wait: locust.WaitFunc(func(*locust.User) time.Duration { waits.Add(1); return 0 }),
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error {
			runs.Add(1)
			return locust.ErrRescheduleTask
		}),
	})
	run(t, r)
	assert.EqualValues(t, 10, runs.Load())
	assert.GreaterOrEqual(t, waits.Load(), int64(9), "the user waits after a rescheduled task")
	snap := r.Snapshot()
	assert.Empty(t, snap.Exceptions, "a rescheduled task is not an error")
	assert.Zero(t, snap.Total.Requests)
}

func TestTagFiltering(t *testing.T) {
	tagged := func() *locust.UserType {
		admin := locust.NewTaskSet("admin").Tag("admin").
			Task(1, noop, locust.TaskName("users")).
			Task(1, noop, locust.TaskName("purge"), locust.Tags("slow"))
		reports := locust.NewTaskSet("reports").
			Task(1, noop, locust.TaskName("daily")).
			Task(1, noop, locust.TaskName("yearly"), locust.Tags("slow"))
		ts := locust.NewTaskSet("site").
			Task(2, noop, locust.TaskName("browse"), locust.Tags("read")).
			Task(1, noop, locust.TaskName("post"), locust.Tags("write")).
			Task(1, noop, locust.TaskName("plain")).
			TaskSet(1, admin).
			TaskSet(1, reports, locust.Tags("reports"))
		return &locust.UserType{Name: "U", Tasks: ts}
	}
	keys := func(cfg locust.Config) []string {
		r := newRunner(t, cfg, tagged())
		var ks []string
		for k := range r.TaskRatios()["U"] {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	assert.Equal(t, []string{"admin/purge", "admin/users", "browse", "plain", "post", "reports/daily", "reports/yearly"}, keys(locust.Config{}))
	assert.Equal(t, []string{"browse"}, keys(locust.Config{Tags: []string{"read"}}))
	assert.Equal(t, []string{"admin/purge", "admin/users", "post"}, keys(locust.Config{Tags: []string{"write", "admin"}}))
	assert.Equal(t, []string{"admin/users", "reports/daily"}, keys(locust.Config{Tags: []string{"admin", "reports"}, ExcludeTags: []string{"slow"}}))
	assert.Equal(t, []string{"browse", "plain", "post", "reports/daily"}, keys(locust.Config{ExcludeTags: []string{"slow", "admin"}}))
	assert.Equal(t, []string{"admin/purge", "reports/yearly"}, keys(locust.Config{Tags: []string{"slow"}}))

	// the filter applies to what runs
	var mu sync.Mutex
	ran := map[string]int{}
	rec := func(name string) locust.TaskFunc {
		return func(context.Context, *locust.User) error { mu.Lock(); ran[name]++; mu.Unlock(); return nil }
	}
	ts := locust.NewTaskSet("site").
		Task(1, rec("a"), locust.Tags("x")).
		Task(1, rec("b"), locust.Tags("y")).
		TaskSet(1, locust.NewTaskSet("n").Task(1, rec("c"), locust.Tags("x")).Task(1, rec("d")).Task(1, func(context.Context, *locust.User) error { return locust.ErrInterrupt }, locust.Tags("x")))
	r := newRunner(t, locust.Config{Users: 1, Iterations: 200, Tags: []string{"x"}}, &locust.UserType{Name: "U", Tasks: ts})
	run(t, r)
	assert.Positive(t, ran["a"])
	assert.Positive(t, ran["c"])
	assert.Zero(t, ran["b"])
	assert.Zero(t, ran["d"])

	// user-type tags count for every task
	ut := tagged()
	ut.Tags = []string{"mobile"}
	r = newRunner(t, locust.Config{Tags: []string{"mobile"}, ExcludeTags: []string{"write"}}, ut)
	assert.Len(t, r.TaskRatios()["U"], 6)
}

func TestNoTasksLeftAfterFiltering(t *testing.T) {
	ut := &locust.UserType{Name: "Shopper", Tasks: locust.NewTaskSet("t").Task(1, noop, locust.Tags("buy"))}
	other := &locust.UserType{Name: "Browser", Tasks: locust.NewTaskSet("t").Task(1, noop, locust.Tags("read"))}
	_, err := locust.NewRunner(quiet(locust.Config{Tags: []string{"read"}}), ut, other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `user type "Shopper" has no tasks left after filtering by tags`)
	assert.NotContains(t, err.Error(), "Browser")

	_, err = locust.NewRunner(quiet(locust.Config{ExcludeTags: []string{"buy"}}), ut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"Shopper"`)
}

func TestValidationErrorsNameTheCulprit(t *testing.T) {
	user := func(ts *locust.TaskSet) *locust.UserType { return &locust.UserType{Name: "Visitor", Tasks: ts} }
	selfNested := locust.NewTaskSet("loop").Task(1, noop)
	selfNested.TaskSet(1, selfNested)
	a := locust.NewTaskSet("a").Task(1, noop)
	b := locust.NewTaskSet("b").Task(1, noop).TaskSet(1, a)
	a.TaskSet(1, b)
	ok := func() *locust.UserType { return user(locust.NewTaskSet("fine").Task(1, noop)) }

	for _, tc := range []struct {
		name  string
		cfg   locust.Config
		types []*locust.UserType
		want  []string
	}{
		{"weight zero", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").Task(0, noop, locust.TaskName("browse")))},
			[]string{`"Visitor"`, `"site"`, `"browse"`, "weight 0"}},
		{"negative weight", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").Task(-2, noop, locust.TaskName("browse")))},
			[]string{`"browse"`, "weight -2"}},
		{"nil function", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").Task(1, noop).Task(1, nil))},
			[]string{`"site"`, "task 2 has a nil function"}},
		{"empty set", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("empty"))},
			[]string{`"Visitor"`, `task set "empty" has no tasks`}},
		{"empty nested set", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").TaskSet(1, locust.NewTaskSet("inner")))},
			[]string{`task set "inner" has no tasks`}},
		{"nil nested set", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").Task(1, noop).TaskSet(1, nil))},
			[]string{`"site"`, "nested task set 2 is nil"}},
		{"nested weight", locust.Config{}, []*locust.UserType{user(locust.NewTaskSet("site").TaskSet(0, locust.NewTaskSet("inner").Task(1, noop)))},
			[]string{`nested set "inner" has weight 0`}},
		{"self nesting", locust.Config{}, []*locust.UserType{user(selfNested)},
			[]string{`"loop"`, "cannot contain itself"}},
		{"nesting cycle", locust.Config{}, []*locust.UserType{user(a)},
			[]string{`"a"`, "contains itself through nesting"}},
		{"no tasks", locust.Config{}, []*locust.UserType{{Name: "Idle"}},
			[]string{`user type "Idle" has no tasks`}},
		{"no name", locust.Config{}, []*locust.UserType{{Tasks: locust.NewTaskSet("t").Task(1, noop)}},
			[]string{"user type with no name"}},
		{"duplicate names", locust.Config{}, []*locust.UserType{ok(), ok()},
			[]string{`user type "Visitor" is defined twice`}},
		{"negative user weight", locust.Config{}, []*locust.UserType{{Name: "Heavy", Weight: -1, Tasks: locust.NewTaskSet("t").Task(1, noop)}},
			[]string{`"Heavy"`, "weight -1"}},
		{"negative fixed count", locust.Config{}, []*locust.UserType{{Name: "Fixed", FixedCount: -3, Tasks: locust.NewTaskSet("t").Task(1, noop)}},
			[]string{`"Fixed"`, "fixed count -3"}},
		{"nil user type", locust.Config{}, []*locust.UserType{nil}, []string{"nil user type"}},
		{"no user types", locust.Config{}, nil, []string{"no user types"}},
		{"negative users", locust.Config{Users: -1}, []*locust.UserType{ok()}, []string{"users", "-1"}},
		{"negative spawn rate", locust.Config{SpawnRate: -2}, []*locust.UserType{ok()}, []string{"spawn rate", "-2"}},
		{"negative run time", locust.Config{RunTime: -time.Second}, []*locust.UserType{ok()}, []string{"run time", "-1s"}},
		{"negative iterations", locust.Config{Iterations: -5}, []*locust.UserType{ok()}, []string{"iterations", "-5"}},
		{"negative max requests", locust.Config{MaxRequests: -7}, []*locust.UserType{ok()}, []string{"requests", "-7"}},
		{"negative stop timeout", locust.Config{StopTimeout: -time.Second}, []*locust.UserType{ok()}, []string{"stop timeout", "-1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := locust.NewRunner(quiet(tc.cfg), tc.types...)
			require.Error(t, err)
			assert.Nil(t, r)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	// every mistake is reported at once
	_, err := locust.NewRunner(quiet(locust.Config{Users: -1, Iterations: -1}), user(locust.NewTaskSet("x").Task(0, noop, locust.TaskName("t0")).Task(1, nil)))
	require.Error(t, err)
	for _, w := range []string{"weight 0", "nil function", "users", "iterations"} {
		assert.Contains(t, err.Error(), w)
	}

	// Validate on its own
	assert.NoError(t, locust.NewTaskSet("ok").Task(1, noop).Validate())
	assert.ErrorContains(t, locust.NewTaskSet("bad").Validate(), `"bad" has no tasks`)
}

// A user's values are found under their keys, whichever was stored last,
// and a key of another type or never stored finds nothing.
func TestUserValues(t *testing.T) {
	type keyA struct{}
	type keyB struct{}
	type named string
	var got []any
	task := func(_ context.Context, u *locust.User) error {
		got = append(got, u.Value(keyA{}))
		u.SetValue(keyA{}, 1)
		u.SetValue(keyB{}, 2)
		u.SetValue("k", 3)
		got = append(got, u.Value(keyA{}), u.Value(keyA{}), u.Value(keyB{}), u.Value("k"), u.Value(named("k")))
		got = append(got, u.Value(keyA{}))
		u.SetValue(keyA{}, 4)
		got = append(got, u.Value(keyA{}), u.Value(keyB{}), u.Value(keyA{}))
		u.SetValue(keyB{}, nil)
		got = append(got, u.Value(keyB{}), u.Value("other"), u.Value(nil), u.Value("k"))
		return nil
	}
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	run(t, newRunner(t, locust.Config{Users: 1, Iterations: 1}, ut))
	assert.Equal(t, []any{nil, 1, 1, 2, 3, nil, 1, 4, 2, 4, nil, nil, nil, 3}, got)
}
