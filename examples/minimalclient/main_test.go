package main

import (
	"bufio"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/locusttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pongServer answers PONG to every line, on 127.0.0.1.
func pongServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write([]byte("PONG\n")); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "tcp://" + ln.Addr().String()
}

func TestLineUser(t *testing.T) {
	host := pongServer(t)
	s := locusttest.Run(t, locusttest.Options{
		Host:       host,
		Users:      5,
		Iterations: 500,
		Thresholds: []string{"tcp PING: requests == 500", "fail_ratio == 0"},
		Setup: func(r *locust.Runner) {
			r.Events().RequestFailure.Add(func(req locust.Request) {
				t.Logf("%s %s failed after %s: %v", req.Type, req.Name, req.Duration, req.Err)
			})
		},
	}, lineUser)
	e, ok := s.Entry("tcp", "PING")
	require.True(t, ok)
	assert.Equal(t, float64(len("PONG\n")), e.AvgContentLength())
}
