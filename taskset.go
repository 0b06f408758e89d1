package locust

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
)

// TaskFunc is one task of a user: it runs once per pick and returns nil, an
// error (recorded as an exception of the test unless a client already
// recorded it as a failed request), or one of the control errors
// ErrInterrupt, ErrInterruptAndWait, ErrStopUser, ErrRescheduleTask.
// ctx is cancelled when the user is stopped for good.
type TaskFunc func(ctx context.Context, u *User) error

// Control errors a task may return.
var (
	// ErrInterrupt leaves a nested TaskSet: its OnStop runs and its parent
	// picks its next task at once (Locust's interrupt(reschedule=True)).
	ErrInterrupt = errors.New("locust: interrupt task set")
	// ErrInterruptAndWait leaves a nested TaskSet like ErrInterrupt, but the
	// parent waits before its next task (interrupt(reschedule=False)).
	ErrInterruptAndWait = errors.New("locust: interrupt task set and wait")
	// ErrStopUser stops the user: its OnStop runs and it is not restarted.
	ErrStopUser = errors.New("locust: stop user")
	// ErrRescheduleTask ends the task early without recording anything; the
	// user waits and picks its next task.
	ErrRescheduleTask = errors.New("locust: reschedule task")
)

// TaskOption sets an optional property of a task added with TaskSet.Task or
// TaskSet.TaskSet.
type TaskOption func(*task)

// TaskName names a task (for the task-ratio listing and error messages).
// Without it a task is named after its function.
func TaskName(name string) TaskOption { return func(t *task) { t.name = name } }

// Tags tags a task, for selection with -T/--tags and -E/--exclude-tags.
func Tags(tags ...string) TaskOption {
	return func(t *task) { t.tags = append(t.tags, tags...) }
}

type task struct {
	name   string
	weight int
	fn     TaskFunc
	set    *TaskSet
	tags   []string
}

// TaskSet is a weighted collection of tasks that a user runs: each pick
// chooses a task at random with probability weight/sum(weights), runs it,
// then waits. A TaskSet can be a task of another TaskSet (nesting); a nested
// set runs until one of its tasks returns ErrInterrupt. A sequential set
// (NewSequentialTaskSet) runs its tasks in the order they were added,
// cycling.
//
// Build a TaskSet before the test starts; the builder methods are not safe
// for concurrent use. Once a Runner runs it, a TaskSet is only read and may
// be shared by any number of users and runners. Mistakes made while
// building (a weight below 1, a nil function, an empty set) are reported by
// Validate and by NewRunner, before the test starts.
type TaskSet struct {
	name       string
	sequential bool
	tasks      []task
	tags       []string
	wait       WaitTime
	onStart    TaskFunc
	onStop     TaskFunc
	errs       []error
}

// NewTaskSet returns an empty weighted task set.
func NewTaskSet(name string) *TaskSet { return &TaskSet{name: name} }

// NewSequentialTaskSet returns an empty sequential task set: its tasks run
// in the order they are added, again and again. A task's weight is the
// number of times in a row it runs (use 1 for once).
func NewSequentialTaskSet(name string) *TaskSet {
	return &TaskSet{name: name, sequential: true}
}

// Name is the name the set was created with.
func (s *TaskSet) Name() string { return s.name }

// Task adds fn with the given weight (a whole number, at least 1).
func (s *TaskSet) Task(weight int, fn TaskFunc, opts ...TaskOption) *TaskSet {
	t := task{weight: weight, fn: fn}
	if fn != nil {
		t.name = funcName(fn)
	}
	for _, o := range opts {
		o(&t)
	}
	switch {
	case fn == nil:
		s.errs = append(s.errs, fmt.Errorf("task set %q: task %d has a nil function", s.name, len(s.tasks)+1))
	case weight < 1:
		s.errs = append(s.errs, fmt.Errorf("task set %q: task %q has weight %d; weights must be at least 1", s.name, t.name, weight))
	}
	s.tasks = append(s.tasks, t)
	return s
}

// TaskSet adds a nested task set with the given weight. When picked, the
// user runs the child's tasks until one returns ErrInterrupt.
func (s *TaskSet) TaskSet(weight int, child *TaskSet, opts ...TaskOption) *TaskSet {
	t := task{weight: weight, set: child}
	if child != nil {
		t.name = child.name
	}
	for _, o := range opts {
		o(&t)
	}
	switch {
	case child == nil:
		s.errs = append(s.errs, fmt.Errorf("task set %q: nested task set %d is nil", s.name, len(s.tasks)+1))
	case child == s:
		s.errs = append(s.errs, fmt.Errorf("task set %q: cannot contain itself", s.name))
	case weight < 1:
		s.errs = append(s.errs, fmt.Errorf("task set %q: nested set %q has weight %d; weights must be at least 1", s.name, t.name, weight))
	}
	s.tasks = append(s.tasks, t)
	return s
}

// Tag tags every task of the set (and of its nested sets).
func (s *TaskSet) Tag(tags ...string) *TaskSet {
	s.tags = append(s.tags, tags...)
	return s
}

// Wait sets the wait strategy used between this set's tasks, instead of
// the user's.
func (s *TaskSet) Wait(w WaitTime) *TaskSet {
	s.wait = w
	return s
}

// OnStart sets a function run each time a user enters the set.
func (s *TaskSet) OnStart(fn TaskFunc) *TaskSet {
	s.onStart = fn
	return s
}

// OnStop sets a function run each time a user leaves the set (interrupt,
// stop).
func (s *TaskSet) OnStop(fn TaskFunc) *TaskSet {
	s.onStop = fn
	return s
}

// Validate reports every mistake in the set and its nested sets, or nil.
func (s *TaskSet) Validate() error {
	return errors.Join(s.validate(nil)...)
}

func (s *TaskSet) validate(path []*TaskSet) []error {
	if slices.Contains(path, s) {
		return []error{fmt.Errorf("task set %q contains itself through nesting", s.name)}
	}
	errs := append([]error(nil), s.errs...)
	if len(s.tasks) == 0 {
		errs = append(errs, fmt.Errorf("task set %q has no tasks", s.name))
	}
	for _, t := range s.tasks {
		if t.set != nil && t.set != s {
			errs = append(errs, t.set.validate(append(path, s))...)
		}
	}
	return errs
}

func funcName(fn TaskFunc) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	name := full[strings.LastIndex(full, "/")+1:]
	name = strings.TrimSuffix(name, "-fm")
	if i := strings.Index(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// compiledSet is a TaskSet after tag filtering: read-only, shared by users.
type compiledSet struct {
	src         *TaskSet
	tasks       []compiledTask
	cum         []int // cumulative weights (weighted sets)
	order       []int // run order (sequential sets), weights expanded
	wait        WaitTime
	onStart     TaskFunc
	onStop      TaskFunc
	onStartName string // shown as the running task ("set.on_start")
	onStopName  string
}

type compiledTask struct {
	name string
	fn   TaskFunc
	set  *compiledSet
}

// tagFilter selects tasks by tags.
type tagFilter struct {
	include, exclude []string
}

func (f tagFilter) keep(tags []string) bool {
	for _, t := range tags {
		if slices.Contains(f.exclude, t) {
			return false
		}
	}
	if len(f.include) == 0 {
		return true
	}
	for _, t := range tags {
		if slices.Contains(f.include, t) {
			return true
		}
	}
	return false
}

// compile filters the set by tags. It returns nil when no task is left.
// inherited are the tags of the enclosing sets.
func (s *TaskSet) compile(f tagFilter, inherited []string) *compiledSet {
	tags := append(slices.Clip(inherited), s.tags...)
	c := &compiledSet{src: s, wait: s.wait, onStart: s.onStart, onStop: s.onStop,
		onStartName: s.name + ".on_start", onStopName: s.name + ".on_stop"}
	total := 0
	for _, t := range s.tasks {
		all := append(slices.Clip(tags), t.tags...)
		ct := compiledTask{name: t.name, fn: t.fn}
		if t.set != nil {
			// a tagged nested set keeps all its tasks when its tag matches
			if len(t.tags) > 0 && len(f.include) > 0 && f.keep(t.tags) {
				ct.set = t.set.compile(tagFilter{exclude: f.exclude}, all)
			} else {
				ct.set = t.set.compile(f, all)
			}
			if ct.set == nil {
				continue
			}
		} else if !f.keep(all) {
			continue
		}
		c.tasks = append(c.tasks, ct)
		total += t.weight
		c.cum = append(c.cum, total)
		for range t.weight {
			if s.sequential {
				c.order = append(c.order, len(c.tasks)-1)
			}
		}
	}
	if len(c.tasks) == 0 {
		return nil
	}
	return c
}

// pick returns the index of the next task. seq is the position in a
// sequential set.
func (c *compiledSet) pick(seq int) int {
	if c.order != nil {
		return c.order[seq%len(c.order)]
	}
	if len(c.tasks) == 1 {
		return 0
	}
	x := rand.IntN(c.cum[len(c.cum)-1])
	i, _ := slices.BinarySearch(c.cum, x+1)
	return i
}

// ratios adds each leaf task's share of picks to out, under its path
// ("set/task"), for the task-ratio listing.
func (c *compiledSet) ratios(prefix string, share float64, out map[string]float64) {
	total := float64(c.cum[len(c.cum)-1])
	prev := 0
	for i, t := range c.tasks {
		w := float64(c.cum[i] - prev)
		prev = c.cum[i]
		if t.set != nil {
			t.set.ratios(prefix+t.name+"/", share*w/total, out)
		} else {
			out[prefix+t.name] += share * w / total
		}
	}
}
