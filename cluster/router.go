package cluster

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// router is the master's ZeroMQ ROUTER socket: it speaks ZMTP through
// zmq4's connections (zmq4.Open: greeting, NULL handshake, frames), but
// keeps its peers in a map by identity. zmq4's own ROUTER finds the peer of
// every message it sends by a scan of all its connections, and greets new
// connections one at a time: with thousands of workers, a spawn round (one
// message per worker) took seconds of CPU under the master's lock, long
// enough for heartbeats to go unread and workers to be marked missing,
// which started another round. Here a send is a map lookup, and each
// connection is greeted on its own goroutine.
//
// As zmq4's ROUTER and libzmq's (without ROUTER_MANDATORY), a message for an
// identity with no connection is dropped without an error; a new
// connection with the identity of a live one replaces it (libzmq's
// ROUTER_HANDOVER), as a worker that reconnects does. Its methods are safe
// for concurrent use.
type router struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration // for a handshake, and for a send to one peer
	log     *slog.Logger

	ln    net.Listener
	in    chan zmq4.Msg
	poll  *poller // nil: a goroutine reads each connection
	wg    sync.WaitGroup
	mu    sync.Mutex
	peers map[string]*routerPeer
}

var _ zmq4.Socket = (*router)(nil)

type routerPeer struct {
	id     []byte
	raw    net.Conn
	mu     sync.Mutex // serialises sends
	conn   *zmq4.Conn
	polled atomic.Pointer[polled] // set when the poller reads it
}

// readBuffer is the read buffer of each connection: a heartbeat or a small
// report arrives in one system call (zmq4 reads a frame's header and body
// separately).
const readBuffer = 2048

// bufferedConn is a connection whose reads go through a buffer. Only its
// reader goroutine reads it.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// nullMechanism is ZMTP's NULL security mechanism (zmq4 does not export
// its own): each side sends READY with its metadata (socket type,
// identity) and reads the other's.
type nullMechanism struct{}

var _ zmq4.Security = nullMechanism{}

func (nullMechanism) Type() zmq4.SecurityType { return zmq4.NullSecurity }

func (nullMechanism) Handshake(c *zmq4.Conn, _ bool) error {
	meta, err := c.Meta.MarshalZMTP()
	if err != nil {
		return err
	}
	if err := c.SendCmd(zmq4.CmdReady, meta); err != nil {
		return err
	}
	cmd, err := c.RecvCmd()
	if err != nil {
		return err
	}
	if cmd.Name != zmq4.CmdReady {
		return fmt.Errorf("expected READY, got %q", cmd.Name)
	}
	return c.Peer.Meta.UnmarshalZMTP(cmd.Body)
}

func (nullMechanism) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

func (nullMechanism) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

func newRouter(ctx context.Context, timeout time.Duration, log *slog.Logger) *router {
	ctx, cancel := context.WithCancel(ctx)
	r := &router{ctx: ctx, cancel: cancel, timeout: timeout, log: log, in: make(chan zmq4.Msg, 1024), peers: map[string]*routerPeer{}}
	if pl, err := newPoller(r); err == nil && pl != nil {
		r.poll = pl
		r.wg.Go(pl.loop)
	}
	return r
}

// closePeer closes p's connection (and stops polling it).
func (r *router) closePeer(p *routerPeer) {
	if c := p.polled.Load(); c != nil {
		r.poll.drop(c)
		return
	}
	p.raw.Close()
}

// forget removes p from the peers if it is still the peer of its identity.
func (r *router) forget(p *routerPeer) {
	r.mu.Lock()
	if r.peers[string(p.id)] == p {
		delete(r.peers, string(p.id))
	}
	r.mu.Unlock()
}

// Listen binds tcp://host:port and starts accepting.
func (r *router) Listen(ep string) error {
	addr, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return fmt.Errorf("cluster: router endpoint %q is not tcp://host:port", ep)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(r.ctx, "tcp", addr)
	if err != nil {
		return err
	}
	r.ln = ln
	r.wg.Go(r.accept)
	return nil
}

func (r *router) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors: let some go
			continue
		}
		r.wg.Go(func() { r.serve(c) })
	}
}

// serve greets one connection, registers its peer and reads its messages.
func (r *router) serve(raw net.Conn) {
	_ = raw.SetDeadline(time.Now().Add(r.timeout))
	bc := &bufferedConn{Conn: raw, r: bufio.NewReaderSize(raw, readBuffer)}
	conn, err := zmq4.Open(bc, nullMechanism{}, zmq4.Router, nil, true, nil)
	if err != nil {
		r.log.Warn("master: a connection that does not speak ZMTP closed", "from", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	id := conn.Peer.Meta["Identity"]
	if id == "" {
		var b [16]byte
		_, _ = crand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	p := &routerPeer{id: []byte(id), raw: raw, conn: conn}
	r.mu.Lock()
	if r.ctx.Err() != nil {
		r.mu.Unlock()
		raw.Close()
		return
	}
	old := r.peers[id]
	r.peers[id] = p
	r.mu.Unlock()
	if old != nil {
		r.closePeer(old) // handover: the new connection of the same worker wins
	}
	if r.poll != nil {
		// the bytes read past the handshake go to the poller first
		pending, _ := bc.r.Peek(bc.r.Buffered())
		if r.poll.add(p, append([]byte(nil), pending...)) {
			return
		}
	}
	defer func() {
		r.forget(p)
		raw.Close()
	}()
	for {
		m, err := conn.RecvMsg()
		if err != nil {
			return
		}
		if m.Type == zmq4.CmdMsg {
			continue // PING (answered by RecvMsg), or another command
		}
		frames := make([][]byte, 0, 1+len(m.Frames))
		frames = append(append(frames, p.id), m.Frames...)
		select {
		case r.in <- zmq4.NewMsgFrom(frames...):
		case <-r.ctx.Done():
			return
		}
	}
}

// Recv returns the next message: the sender's identity, then its frames.
// After Close it returns an error wrapping context.Canceled.
func (r *router) Recv() (zmq4.Msg, error) {
	select {
	case m := <-r.in:
		return m, nil
	case <-r.ctx.Done():
		return zmq4.Msg{}, fmt.Errorf("cluster: router closed: %w", context.Canceled)
	}
}

// Send sends frames[1:] to the peer whose identity is frames[0]; a
// message for no connected peer is dropped. A peer that does not take it
// within the timeout is disconnected.
func (r *router) Send(msg zmq4.Msg) error {
	if len(msg.Frames) < 2 {
		return errors.New("cluster: router message without identity and body")
	}
	r.mu.Lock()
	p := r.peers[string(msg.Frames[0])]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.raw.SetWriteDeadline(time.Now().Add(r.timeout))
	err := p.conn.SendMsg(zmq4.NewMsgFrom(msg.Frames[1:]...))
	if err != nil {
		r.closePeer(p)
	}
	return err
}

// SendMulti is Send.
func (r *router) SendMulti(msg zmq4.Msg) error { return r.Send(msg) }

// Close stops accepting, closes every connection and waits for the
// goroutines.
func (r *router) Close() error {
	r.cancel()
	var err error
	if r.ln != nil {
		err = r.ln.Close()
	}
	r.mu.Lock()
	peers := make([]*routerPeer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	for _, p := range peers {
		r.closePeer(p)
	}
	r.wg.Wait()
	return err
}

// Dial is not supported: the router only listens.
func (r *router) Dial(string) error { return errors.New("cluster: the master's router does not dial") }

// Type is zmq4.Router.
func (r *router) Type() zmq4.SocketType { return zmq4.Router }

// Addr is the listener's address (nil before Listen).
func (r *router) Addr() net.Addr {
	if r.ln == nil {
		return nil
	}
	return r.ln.Addr()
}

// GetOption and SetOption: the router has no options.
func (r *router) GetOption(name string) (any, error) {
	return nil, fmt.Errorf("cluster: router has no option %q", name)
}

// SetOption: see GetOption.
func (r *router) SetOption(name string, _ any) error {
	return fmt.Errorf("cluster: router has no option %q", name)
}
