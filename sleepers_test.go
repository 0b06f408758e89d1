package locust

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Parked users wake in the order of their wake times, each once, and a
// stop wakes a parked user at once.
func TestSleepersWakeInOrderAndOnStop(t *testing.T) {
	r := &Runner{}
	r.sleepers.epoch = time.Now()
	const n = 200
	var mu sync.Mutex
	var order []time.Duration
	var wg sync.WaitGroup
	for i := range n {
		u := &User{runner: r, id: int32(i), heapIdx: -1, wake: make(chan struct{}, 1)}
		d := 20*time.Millisecond + time.Duration(rand.IntN(200))*time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := r.sleepers.sleep(u, d)
			mu.Lock()
			order = append(order, d)
			mu.Unlock()
			assert.True(t, ok)
		}()
	}
	wg.Wait()
	require.Len(t, order, n)
	late := 0
	for i := 1; i < n; i++ {
		if order[i] < order[i-1]-15*time.Millisecond {
			late++
		}
	}
	assert.Zero(t, late, "users woke out of order: %v", order)

	u := &User{runner: r, id: 7, heapIdx: -1, wake: make(chan struct{}, 1)}
	woke := make(chan bool)
	go func() { woke <- r.sleepers.sleep(u, time.Hour) }()
	require.Eventually(t, func() bool {
		sh := r.sleepers.shard(u)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		return u.heapIdx >= 0
	}, 5*time.Second, time.Millisecond)
	u.set(userStopping)
	r.sleepers.wake(u)
	select {
	case ok := <-woke:
		assert.False(t, ok, "a stopped user's sleep says so")
	case <-time.After(5 * time.Second):
		t.Fatal("the stop did not wake the user")
	}
	r.sleepers.stop()
}

// Many users sleeping short, random waits at once, from their own
// goroutines, all wake: no wake-up is lost while the shards' timers fire
// in batches and re-arm.
func TestSleepersLoseNoWakeUp(t *testing.T) {
	r := &Runner{}
	r.sleepers.epoch = time.Now()
	const users, rounds = 300, 200
	var wg sync.WaitGroup
	for i := range users {
		u := &User{runner: r, id: int32(i), heapIdx: -1}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				r.sleepers.sleep(u, time.Duration(rand.IntN(2000))*time.Microsecond)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a sleeping user was never woken")
	}
	r.sleepers.stop()
}
