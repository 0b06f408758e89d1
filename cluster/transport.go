package cluster

import (
	"bufio"
	"context"
	"net"
	"strconv"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// transportName is a zmq4 transport that dials plain TCP like zmq4's "tcp"
// but hands the connection to the link that dialed it (through the dial's
// context), so that the link can ask the kernel whether the master's host
// acknowledged what was sent (see unsentBytes).
const transportName = "golocust-tcp"

type connKey struct{}

// connHolder receives the TCP connection of one dial.
type connHolder struct{ conn *net.TCPConn }

type tcpTransport struct{}

var _ transport.Transport = tcpTransport{}

func (tcpTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if h, ok := ctx.Value(connKey{}).(*connHolder); ok {
		h.conn, _ = c.(*net.TCPConn)
	}
	return c, nil
}

// Listen listens on TCP; each connection it accepts reads through a small
// buffer, so that a frame's header and body (two reads in zmq4) take one
// system call: a master reads thousands of small messages a second.
func (tcpTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return bufferedListener{l}, nil
}

// readBuffer is the read buffer of each connection a master accepts: a
// heartbeat or a small report fits, a larger report is read in a few calls.
const readBuffer = 2048

type bufferedListener struct{ net.Listener }

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer)}, nil
}

// bufferedConn is a connection whose reads go through a buffer. Only its
// reader reads it (zmq4 reads each connection from one goroutine).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// listenEndpoint is the endpoint a master's ROUTER listens on, with this
// transport.
func listenEndpoint(host string, port int) string {
	registerTransport()
	return transportName + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func (tcpTransport) Addr(ep string) (string, error) { return transport.New("tcp").Addr(ep) }

// registerTransport makes transportName known to zmq4. zmq4 keeps its
// transports in a registry of its own; registering twice only returns an
// error, which is ignored: the transport has no state.
func registerTransport() { _ = zmq4.RegisterTransport(transportName, tcpTransport{}) }
