package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/golocust/locust/cluster/wire"
)

// link is one connection of a worker's DEALER to the master. zmq4 drops
// messages silently once its connection is gone and does not say so on Send,
// so a link is used for one TCP connection only: when its reader sees an
// error the worker closes it and dials a new one.
type link struct {
	sock zmq4.Socket
	msgs chan wire.Message
	// dead is closed by the reader when the connection fails; deadAt is
	// the time it failed (set before dead is closed).
	dead   chan struct{}
	deadAt time.Time
	err    error
	done   chan struct{} // the reader has returned
	quit   chan struct{} // closed by close: the reader stops delivering
	bad    func(error)   // called for each frame that does not decode
	tcp    *net.TCPConn  // the connection, to ask the kernel what is unsent
	closed sync.Once
}

// dialLink connects once (no retry) and starts the reader.
func dialLink(ctx context.Context, endpoint, id string, bad func(error)) (*link, error) {
	registerTransport()
	holder := &connHolder{}
	ctx = context.WithValue(ctx, connKey{}, holder)
	endpoint = transportName + strings.TrimPrefix(endpoint, "tcp")
	sock := zmq4.NewDealer(ctx,
		zmq4.WithID(zmq4.SocketIdentity(id)),
		zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(5*time.Second),
		zmq4.WithTimeout(5*time.Second),
	)
	if err := sock.Dial(endpoint); err != nil {
		sock.Close()
		return nil, err
	}
	l := &link{sock: sock, msgs: make(chan wire.Message, 64), dead: make(chan struct{}), done: make(chan struct{}), quit: make(chan struct{}), bad: bad, tcp: holder.conn}
	go l.read()
	return l, nil
}

func (l *link) read() {
	defer close(l.done)
	for {
		m, err := l.sock.Recv()
		if err != nil {
			l.deadAt, l.err = time.Now(), err
			close(l.dead)
			return
		}
		if len(m.Frames) != 1 {
			l.bad(fmt.Errorf("%d frames, want 1", len(m.Frames)))
			continue
		}
		msg, err := wire.Decode(m.Frames[0])
		if err != nil {
			l.bad(err)
			continue
		}
		select {
		case l.msgs <- msg:
		case <-l.quit:
			return
		}
	}
}

// alive reports whether the reader has not seen the connection fail.
func (l *link) alive() bool {
	select {
	case <-l.dead:
		return false
	default:
		return true
	}
}

// send encodes and sends m. An error means m did not leave.
func (l *link) send(m wire.Message) error {
	if !l.alive() {
		return fmt.Errorf("connection lost: %w", l.err)
	}
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return l.sock.Send(zmq4.NewMsg(b))
}

// delivered reports whether everything sent so far was acknowledged by the
// master's host (no byte waits in the send queue); false when it cannot
// tell or the link is dead.
func (l *link) delivered() bool {
	if !l.alive() {
		return false
	}
	n, ok := unsentBytes(l.tcp)
	return ok && n == 0
}

// close closes the socket and waits for the reader.
func (l *link) close() {
	l.closed.Do(func() {
		close(l.quit)
		l.sock.Close()
	})
	<-l.done
}
