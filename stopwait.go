package locust

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The end of a stop: waiting for the users' goroutines, bounded. Go cannot
// kill a goroutine, so a task that ignores its context would hold Run for
// as long as it runs; instead, once the stop timeout (or the drain limit)
// and a short grace have passed, Run stops waiting for it.

// stopWait waits for the goroutines of users (asked to stop by stopAll)
// as plan says, cancels their contexts when the stop timeout or the drain
// limit expires, and gives up on the ones still running a grace later.
func (r *Runner) stopWait(ctx context.Context, plan stopPlan, users []*User) {
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		r.sleepers.stop()
		close(done)
	}()
	limit, after := plan.timeout, "the stop timeout"
	if plan.drain {
		limit = r.cfg.StopTimeout
		if limit == 0 {
			limit, after = r.drainLimit, fmt.Sprintf("the drain limit (%s)", r.drainLimit)
		}
	}
	var stop <-chan struct{} // a Stop, Abort or signal ends a drain
	if plan.drain {
		stop = r.stopCh
	}
	if !plan.kill && r.waitDone(ctx, done, limit, stop) {
		return
	}
	for _, u := range users {
		u.cancel(ErrUserStopped)
	}
	if !plan.kill && r.waitDone(context.Background(), done, r.grace, nil) {
		return
	}
	if plan.kill || r.killed() {
		after = "Kill"
	}
	r.abandon(users, after)
}

// waitDone waits up to d for done; false when d passed, ctx ended, stop
// closed (nil: never) or Kill was called first.
func (r *Runner) waitDone(ctx context.Context, done <-chan struct{}, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	default:
	}
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	case <-stop:
	case <-r.killCh:
	}
	return false
}

// abandon logs the users still running a task after the stop, by task.
func (r *Runner) abandon(users []*User, after string) {
	byTask := map[string]int{}
	n := 0
	for _, u := range users {
		if u.is(userDone) {
			continue
		}
		n++
		name := "(between tasks)"
		if p := u.inTask.Load(); p != nil {
			name = *p
		}
		byTask[name]++
	}
	if n == 0 {
		return // they all ended at the last moment
	}
	r.abandoned.Store(int64(n))
	r.log.Warn(abandonMessage(n, byTask, after), "users", n)
}

// abandonMessage says "2 users still inside task slowTask after the stop
// timeout: not waiting for them", naming up to 5 tasks, most users first.
func abandonMessage(n int, byTask map[string]int, after string) string {
	names := make([]string, 0, len(byTask))
	for name := range byTask {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(byTask[b], byTask[a]), cmp.Compare(a, b))
	})
	who := "users"
	if n == 1 {
		who = "user"
	}
	var tasks string
	if len(names) == 1 {
		tasks = "task " + names[0]
	} else {
		parts := make([]string, 0, 5)
		for i, name := range names {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("%d more", len(names)-5))
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", name, byTask[name]))
		}
		tasks = "tasks " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%d %s still inside %s after %s: not waiting for them", n, who, tasks, after)
}
