package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The master's router: a DEALER's messages arrive with its identity, a
// reply reaches it, a message for an unknown identity is dropped without
// error, a second connection with the same identity replaces the first, a
// peer that does not speak ZMTP does not disturb the others, and Close ends
// Recv.
func TestRouter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := newRouter(ctx, 2*time.Second, slog.New(slog.DiscardHandler))
	require.NoError(t, r.Listen("tcp://127.0.0.1:0"))
	ep := "tcp://" + r.Addr().String()

	garbage, err := net.Dial("tcp", r.Addr().String())
	require.NoError(t, err)
	_, _ = garbage.Write([]byte("GET / HTTP/1.1\r\n\r\n"))

	dealer := func(id string) zmq4.Socket {
		d := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity(id)))
		require.NoError(t, d.Dial(ep))
		return d
	}
	a := dealer("a")
	defer a.Close()
	require.NoError(t, a.Send(zmq4.NewMsgString("hello")))
	m, err := r.Recv()
	require.NoError(t, err)
	require.Len(t, m.Frames, 2)
	assert.Equal(t, "a", string(m.Frames[0]))
	assert.Equal(t, "hello", string(m.Frames[1]))

	require.NoError(t, r.Send(zmq4.NewMsgFrom([]byte("a"), []byte("back"))))
	got, err := a.Recv()
	require.NoError(t, err)
	assert.Equal(t, "back", string(got.Frames[0]))
	assert.NoError(t, r.Send(zmq4.NewMsgFrom([]byte("nobody"), []byte("x"))), "dropped, as a ROUTER does")

	// the same identity again (a worker that reconnected): it takes over
	a2 := dealer("a")
	defer a2.Close()
	require.NoError(t, a2.Send(zmq4.NewMsgString("again")))
	m, err = r.Recv()
	require.NoError(t, err)
	assert.Equal(t, "again", string(m.Frames[1]))
	require.NoError(t, r.Send(zmq4.NewMsgFrom([]byte("a"), []byte("to the new one"))))
	got, err = a2.Recv()
	require.NoError(t, err)
	assert.Equal(t, "to the new one", string(got.Frames[0]))

	// the garbage connection was closed by the router
	_ = garbage.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for err == nil {
		_, err = garbage.Read(buf)
	}
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "closed, not left open: %v", err)
	garbage.Close()

	require.NoError(t, r.Close())
	_, err = r.Recv()
	assert.ErrorIs(t, err, context.Canceled)
}
