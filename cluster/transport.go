package cluster

import (
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

func (tcpTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

// listenEndpoint is the endpoint a master's router listens on.
func listenEndpoint(host string, port int) string {
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func (tcpTransport) Addr(ep string) (string, error) { return transport.New("tcp").Addr(ep) }

// registerTransport makes transportName known to zmq4. zmq4 keeps its
// transports in a registry of its own; registering twice only returns an
// error, which is ignored: the transport has no state.
func registerTransport() { _ = zmq4.RegisterTransport(transportName, tcpTransport{}) }
