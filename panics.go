package locust

import (
	"fmt"
	"strings"
	"sync"
)

// panicLog logs each distinct task panic (message and location) once, with
// its stack, at ERROR; later ones are only counted (in the exceptions
// table). Safe for concurrent use.
type panicLog struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// taskPanic records a task's panic as an exception and logs it the first
// time it happens.
func (r *Runner) taskPanic(u *User, pe *PanicError) {
	r.userError(u, pe, pe.Stack)
	if r.closed.Load() {
		return
	}
	msg := fmt.Sprint(pe.Value)
	where := panicLocation(pe.Stack)
	if !r.panics.first(msg + "\x00" + where) {
		return
	}
	r.log.Error("task panicked (logged once; later panics like it are only counted in the exceptions)",
		"user", u.plan.typ.Name, "task", pe.Task, "panic", msg, "at", where, "stack", pe.Stack)
}

// first reports whether key is seen for the first time.
func (p *panicLog) first(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seen[key]; ok {
		return false
	}
	if p.seen == nil {
		p.seen = map[string]struct{}{}
	}
	p.seen[key] = struct{}{}
	return true
}

// panicLocation finds, in a debug.Stack text, the function and file:line
// where the panic happened: the first frame after the last "panic(" frame
// that is not in the runtime.
func panicLocation(stack string) string {
	lines := strings.Split(stack, "\n")
	from := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			from = i + 2
		}
	}
	for i := from; i+1 < len(lines); i += 2 {
		fn := lines[i]
		if fn == "" || strings.HasPrefix(fn, "runtime.") {
			continue
		}
		file := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(file, " +0x"); j >= 0 {
			file = file[:j]
		}
		if k := strings.LastIndex(fn, "("); k > 0 {
			fn = fn[:k]
		}
		return fn + " " + file
	}
	return ""
}
