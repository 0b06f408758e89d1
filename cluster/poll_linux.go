package cluster

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/golocust/locust/cluster/wire"
)

// poller reads every connection of a router from one epoll set on one
// goroutine, instead of a goroutine per connection: with thousands of
// workers, each message used to cost a wake-up of its connection's
// goroutine by the runtime's netpoller and a hand-over to the master's;
// here one wake-up serves every connection that is ready. Frames are
// parsed as ZMTP 3 (NULL mechanism, after zmq4.Open's handshake); sends
// still go through zmq4.Conn. Its methods are safe for concurrent use.
type poller struct {
	r    *router
	epfd int
	mu   sync.Mutex
	next uint64
	cs   map[uint64]*polled
}

// polled is one connection of the poller.
type polled struct {
	p      *routerPeer
	fd     int
	token  uint64
	mu     sync.Mutex // held while reading and while closing the fd
	closed bool
	buf    []byte   // bytes read, not parsed yet
	frames [][]byte // frames of the message being received
}

func newPoller(r *router) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{r: r, epfd: fd, cs: map[uint64]*polled{}}, nil
}

// add makes the poller read p's connection; pending are bytes already read
// past the handshake. It reports false when the connection cannot be
// polled (then the caller reads it).
func (pl *poller) add(p *routerPeer, pending []byte) bool {
	tc, ok := p.raw.(*net.TCPConn)
	if !ok {
		return false
	}
	sc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if sc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return false
	}
	c := &polled{p: p, fd: fd}
	pl.mu.Lock()
	pl.next++
	c.token = pl.next
	pl.cs[c.token] = c
	pl.mu.Unlock()
	p.polled.Store(c)
	// c.mu orders the parse of pending before the loop's reads (epoll
	// itself is no synchronisation for Go)
	c.mu.Lock()
	if len(pending) > 0 && !pl.feed(c, pending) {
		c.mu.Unlock()
		pl.drop(c)
		return true
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(uint32(c.token)), Pad: int32(uint32(c.token >> 32))}
	err = syscall.EpollCtl(pl.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	c.mu.Unlock()
	if err != nil {
		pl.mu.Lock()
		delete(pl.cs, c.token)
		pl.mu.Unlock()
		p.polled.Store(nil)
		return false
	}
	return true
}

// drop stops polling c, closes its connection and forgets its peer.
func (pl *poller) drop(c *polled) {
	pl.mu.Lock()
	delete(pl.cs, c.token)
	pl.mu.Unlock()
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		_ = syscall.EpollCtl(pl.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		c.p.raw.Close()
	}
	c.mu.Unlock()
	pl.r.forget(c.p)
}

// loop waits for ready connections and reads them until the router's
// context ends.
func (pl *poller) loop() {
	defer syscall.Close(pl.epfd)
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for pl.r.ctx.Err() == nil {
		n, err := syscall.EpollWait(pl.epfd, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			pl.r.log.Error("master: epoll failed", "err", err)
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			pl.mu.Lock()
			c := pl.cs[token]
			pl.mu.Unlock()
			if c != nil && !pl.read(c, buf) {
				pl.drop(c)
			}
		}
		if n > 0 && n < len(events) {
			// let messages gather: one wake-up (here and in the master's
			// goroutine) then serves many; heartbeats and reports can wait
			// that long
			time.Sleep(batchDelay)
		}
	}
}

// batchDelay is how long the poller lets messages gather after a round.
const batchDelay = 10 * time.Millisecond

// read reads what c has and delivers its complete messages; false when
// the connection ended or sent something that is not ZMTP.
func (pl *poller) read(c *polled, buf []byte) bool {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return true
		}
		k, err := syscall.Read(c.fd, buf)
		ok := k <= 0 || pl.feed(c, buf[:k])
		c.mu.Unlock()
		switch {
		case !ok:
			return false
		case k > 0:
			if k < len(buf) {
				return true
			}
		case err == syscall.EAGAIN:
			return true
		case err == syscall.EINTR:
		default:
			return false // EOF (k == 0) or an error
		}
	}
}

// feed parses ZMTP frames from the bytes read and delivers each complete
// message; false for a frame larger than a message may be. c.mu is held.
func (pl *poller) feed(c *polled, data []byte) bool {
	c.buf = append(c.buf, data...)
	b := c.buf
	for len(b) >= 2 {
		flags := b[0]
		size, head := uint64(b[1]), 2
		if flags&0x2 != 0 { // long frame
			if len(b) < 9 {
				break
			}
			size, head = binary.BigEndian.Uint64(b[1:9]), 9
		}
		if size > wire.MaxFrame {
			pl.r.log.Warn("master: a frame larger than a message may be: connection closed", "worker", string(c.p.id), "bytes", size)
			return false
		}
		if uint64(len(b)-head) < size {
			break
		}
		body := b[head : head+int(size)]
		b = b[head+int(size):]
		if flags&0x4 != 0 {
			continue // a command (PING, ...): nothing for the master
		}
		c.frames = append(c.frames, append([]byte(nil), body...))
		if flags&0x1 != 0 {
			continue // more frames of this message
		}
		frames := make([][]byte, 0, 1+len(c.frames))
		frames = append(append(frames, c.p.id), c.frames...)
		c.frames = c.frames[:0]
		select {
		case pl.r.in <- zmq4.NewMsgFrom(frames...):
		case <-pl.r.ctx.Done():
			return false
		}
	}
	c.buf = append(c.buf[:0], b...)
	return true
}
