package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"testing"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frame is one ZMTP frame: flags, then the size in one or eight bytes.
func frame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		b := []byte{flags | 0x2, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(b[1:], uint64(len(body)))
		return append(b, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

// The poller's parser: messages arrive whole however the bytes are split
// (here one byte at a time), with their frames in order, long frames
// included; commands are skipped; a frame larger than a message may be
// ends the connection.
func TestPollerParsesFramesSplitAnyhow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &router{ctx: ctx, log: slog.New(slog.DiscardHandler), in: make(chan zmq4.Msg, 16)}
	pl := &poller{r: r}
	c := &polled{p: &routerPeer{id: []byte("w1")}}
	long := bytes.Repeat([]byte("x"), 300)
	var stream []byte
	stream = append(stream, frame(0x4, []byte("\x04PING"))...) // a command
	stream = append(stream, frame(0x1, []byte("first"))...)    // more to come
	stream = append(stream, frame(0x0, long)...)
	stream = append(stream, frame(0x0, []byte("second"))...)
	for i := range stream {
		c.mu.Lock()
		require.True(t, pl.feed(c, stream[i:i+1]))
		c.mu.Unlock()
	}
	require.Len(t, r.in, 2)
	m := <-r.in
	require.Len(t, m.Frames, 3)
	assert.Equal(t, "w1", string(m.Frames[0]))
	assert.Equal(t, "first", string(m.Frames[1]))
	assert.Equal(t, long, m.Frames[2])
	m = <-r.in
	assert.Equal(t, []string{"w1", "second"}, []string{string(m.Frames[0]), string(m.Frames[1])})
	assert.Empty(t, c.buf)

	huge := []byte{0x2, 0xff, 0, 0, 0, 0, 0, 0, 0}
	c.mu.Lock()
	assert.False(t, pl.feed(c, huge), "a frame of 2^63 bytes")
	c.mu.Unlock()
}
