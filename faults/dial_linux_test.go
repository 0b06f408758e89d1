package faults_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
)

// fullBacklog returns the address of a listener on 127.0.0.1 whose accept
// queue is full: a connection to it stays in the dial (Linux drops its
// SYN) until the dialler gives up.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 8 { // fill the queue: the listener never accepts
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Skip("could not fill the listener's accept queue")
	return ""
}

// A request that the stop ends while its connection is still being
// dialled never reached the target: it is neither a request nor cut short.
// (It was counted as cut short, beyond what the target received.)
func TestStopDuringDialCountsNothing(t *testing.T) {
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			addr := fullBacklog(t)
			const timeout = 1500 * time.Millisecond
			r, err := locust.NewRunner(locust.Config{Users: 3, RunTime: 400 * time.Millisecond, Host: "http://" + addr},
				&locust.UserType{Name: "Dialling", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
					_, err := kind.get(u).Do(ctx, &client.Request{Path: "/never", Timeout: timeout})
					return err
				})})
			require.NoError(t, err)
			start := time.Now()
			require.NoError(t, r.Run(context.Background()))
			// a dial that is not cut (Fast's) ends at the request's timeout
			time.Sleep(time.Until(start.Add(timeout + 500*time.Millisecond)))
			s := r.Snapshot()
			assert.Zero(t, s.Total.Requests, "%+v", s.Errors)
			assert.Zero(t, s.CutShort, "nothing was sent, so nothing was cut short")
		})
	}
}
