package locust

import (
	"context"
	"log/slog"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// BenchmarkSpawnUsers spawns b.N idle users (a no-op task, then a 10 s
// wait) all at once; ns/op is the cost of spawning one user.
func BenchmarkSpawnUsers(b *testing.B) {
	ut := &UserType{Name: "Idle", Wait: Constant(10 * time.Second),
		Tasks: NewTaskSet("t").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{Users: b.N, Logger: slog.New(slog.DiscardHandler)}, ut)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	r.Events().SpawningComplete.Add(func(int) {
		b.StopTimer()
		r.Stop()
	})
	b.ResetTimer()
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// A waiting user is little more than its User, which stays within 144
// bytes (a size class of the allocator).
func TestUserStaysSmall(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(User{}), uintptr(144))
}
