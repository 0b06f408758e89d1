package cluster

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unsentBytes sees bytes the peer has not acknowledged (a peer that does
// not read and whose buffer is full), and none once it read them.
func TestUnsentBytes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIOCOUTQ is read on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	// dial through the transport, as a link does, to check it hands over
	// the connection
	h := &connHolder{}
	c, err := tcpTransport{}.Dial(context.WithValue(context.Background(), connKey{}, h), &net.Dialer{}, ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NotNil(t, h.conn)
	srv := <-accepted
	defer srv.Close()

	n, ok := unsentBytes(h.conn)
	require.True(t, ok)
	assert.Zero(t, n)
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 1<<16)
	for range 1024 { // until both buffers are full
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	n, ok = unsentBytes(h.conn)
	require.True(t, ok)
	assert.Positive(t, n, "bytes the peer did not read are unacknowledged")

	go func() {
		b := make([]byte, 1<<16)
		for {
			if _, err := srv.Read(b); err != nil {
				return
			}
		}
	}()
	require.Eventually(t, func() bool {
		n, _ := unsentBytes(h.conn)
		return n == 0
	}, 5*time.Second, 5*time.Millisecond)
}
