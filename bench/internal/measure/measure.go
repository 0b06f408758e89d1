// Package measure holds what the bench programs measure about their own
// process: CPU time, resident memory, and scheduling lag.
package measure

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CPU returns the user+system CPU time used by this process so far.
func CPU() time.Duration {
	user, sys := CPUSplit()
	return user + sys
}

// CPUSplit returns the user and the system CPU time used by this process
// so far. The user time is the process's own code; the system time is the
// kernel's work for it (on loopback, a write also delivers to the
// receiving socket), which varies more with how the processes interleave.
func CPUSplit() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// Status returns a field of /proc/self/status in bytes (VmRSS, VmHWM), or
// -1 when it cannot be read.
func Status(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		fs := strings.Fields(line[len(field)+1:])
		if len(fs) == 0 {
			return -1
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return -1
		}
		return n * 1024 // kB
	}
	return -1
}

// MiB formats bytes as MiB.
func MiB(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

// Lag measures the generator's own scheduling delay: a goroutine asks to
// wake every Interval and records how late it actually runs. Under an
// overloaded Go scheduler the lag grows, and so does every response time
// the generator measures. Safe for concurrent use.
type Lag struct {
	interval time.Duration
	mu       sync.Mutex
	lags     []time.Duration
	stop     chan struct{}
	done     chan struct{}
}

// StartLag starts measuring with the given interval (1 ms is typical).
func StartLag(interval time.Duration) *Lag {
	l := &Lag{interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *Lag) run() {
	defer close(l.done)
	t := time.NewTimer(l.interval)
	defer t.Stop()
	for {
		want := time.Now().Add(l.interval)
		t.Reset(l.interval)
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		late := max(time.Since(want), 0)
		l.mu.Lock()
		l.lags = append(l.lags, late)
		l.mu.Unlock()
	}
}

// Stop stops measuring and returns the lag at p50, p99 and the maximum.
func (l *Lag) Stop() (p50, p99, maxLag time.Duration) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lags) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(l.lags)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}
