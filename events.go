package locust

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request, or any timed operation of a custom protocol, as
// reported by a client. A nil Err is a success.
type Request struct {
	// Type is the request type: the HTTP method, or a word of your protocol.
	Type string
	// Name groups requests in the statistics (a path, or "/item/{id}").
	Name string
	// Start is when the request began; zero means "now minus Duration".
	Start time.Time
	// Duration is the response time.
	Duration time.Duration
	// Length is the response size in bytes.
	Length int64
	// Err is nil for a success, or the reason of the failure.
	Err error
}

// Hook is a list of listeners for one kind of event of a Runner. User code
// adds and removes listeners; only the runner fires them, so a listener
// never sees an event the runner did not raise. Adding and removing
// listeners is safe for concurrent use with firing; firing does not allocate
// and takes no lock. A listener that panics is recovered, reported as an
// exception of the test, and does not stop the other listeners. The zero
// value is an empty hook ready to use; a Hook must not be copied after first
// use.
type Hook[T any] struct {
	mu        sync.Mutex
	listeners atomic.Pointer[[]*listener[T]]
	onPanic   func(msg, stack string)
}

type listener[T any] struct{ fn func(T) }

// Add registers fn and returns a function that removes it again.
func (h *Hook[T]) Add(fn func(T)) (remove func()) {
	l := &listener[T]{fn: fn}
	h.mu.Lock()
	var old []*listener[T]
	if p := h.listeners.Load(); p != nil {
		old = *p
	}
	next := append(append(make([]*listener[T], 0, len(old)+1), old...), l)
	h.listeners.Store(&next)
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		p := h.listeners.Load()
		if p == nil {
			return
		}
		next := make([]*listener[T], 0, len(*p))
		for _, x := range *p {
			if x != l {
				next = append(next, x)
			}
		}
		h.listeners.Store(&next)
	}
}

// Len is the number of listeners.
func (h *Hook[T]) Len() int {
	if p := h.listeners.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// fire calls every listener in the order they were added.
func (h *Hook[T]) fire(v T) {
	p := h.listeners.Load()
	if p == nil {
		return
	}
	for _, l := range *p {
		h.call(l.fn, v)
	}
}

func (h *Hook[T]) call(fn func(T), v T) {
	defer func() {
		if r := recover(); r != nil {
			if h.onPanic != nil {
				h.onPanic(fmt.Sprintf("event listener panic: %v", r), string(debug.Stack()))
			}
		}
	}()
	fn(v)
}

// UserError is a task's panic or returned error.
type UserError struct {
	// User is the user whose task failed (nil outside a user).
	User *User
	// Err is the error returned, or the panic value wrapped in an error.
	Err error
	// Stack is the goroutine's stack at the panic, or empty for a returned
	// error.
	Stack string
}

// ReportData is handed to Events.Report listeners so that they can add
// their own values to the final reports (JSON, HTML). It is safe for
// concurrent use.
type ReportData struct {
	// Snapshot is the final statistics.
	Snapshot *Snapshot
	mu       sync.Mutex
	extra    map[string]any
	order    []string
}

// Add sets key to value in the report's extra data.
func (d *ReportData) Add(key string, value any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.extra == nil {
		d.extra = map[string]any{}
	}
	if _, ok := d.extra[key]; !ok {
		d.order = append(d.order, key)
	}
	d.extra[key] = value
}

// Extra returns the added keys in order and their values.
func (d *ReportData) Extra() ([]string, map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string]any, len(d.extra))
	for k, v := range d.extra {
		m[k] = v
	}
	return append([]string(nil), d.order...), m
}

// Events is the event bus of one Runner. Each field is a Hook that user
// code may add listeners to. It is safe for concurrent use. The Request
// hook is on the hot path: its listeners run on the goroutine that made
// the request, so keep them short.
type Events struct {
	// Request fires for every request, after it is recorded in the stats
	// (not for requests recorded after Run returned: they are cut short).
	Request Hook[Request]
	// RequestSuccess fires for every successful request (Err is nil),
	// after Request: Locust's request_success.
	RequestSuccess Hook[Request]
	// RequestFailure fires for every failed request (Err is not nil),
	// after Request: Locust's request_failure.
	RequestFailure Hook[Request]
	// TestStart fires when a test starts, before the first user spawns.
	TestStart Hook[*Runner]
	// TestStop fires when a test stops, after every user has stopped (or
	// Run stopped waiting for tasks that ignore their context).
	TestStop Hook[*Runner]
	// SpawningComplete fires when the target user count is reached, with
	// the number of users running then (users that stopped themselves are
	// not counted).
	SpawningComplete Hook[int]
	// Quitting fires once before the command line (Main, Command.Run)
	// returns, after the reports were written.
	Quitting Hook[*Runner]
	// UserError fires when a task panics or returns an error.
	UserError Hook[UserError]
	// Report fires when the final report is built; listeners add data.
	Report Hook[*ReportData]
	// ResetStats fires after the statistics were reset.
	ResetStats Hook[struct{}]
	// LoadWarning fires when the generator itself runs short of CPU (over
	// 90% of its cores, or a tenth of its timer ticks late by 20 ms or more), once each
	// time it crosses into that state (Locust's cpu_warning).
	LoadWarning Hook[LoadWarning]
}

func (e *Events) setPanicHandler(f func(msg, stack string)) {
	e.Request.onPanic = f
	e.RequestSuccess.onPanic = f
	e.RequestFailure.onPanic = f
	e.TestStart.onPanic = f
	e.TestStop.onPanic = f
	e.SpawningComplete.onPanic = f
	e.Quitting.onPanic = f
	e.UserError.onPanic = f
	e.Report.onPanic = f
	e.ResetStats.onPanic = f
	e.LoadWarning.onPanic = f
}

// fireRequest fires Request, then RequestSuccess or RequestFailure, each
// only when it has listeners: with none, it costs three atomic loads and
// no copy of req.
func (e *Events) fireRequest(req *Request) {
	if e.Request.Len() > 0 {
		e.Request.fire(*req)
	}
	if req.Err == nil {
		if e.RequestSuccess.Len() > 0 {
			e.RequestSuccess.fire(*req)
		}
	} else if e.RequestFailure.Len() > 0 {
		e.RequestFailure.fire(*req)
	}
}
