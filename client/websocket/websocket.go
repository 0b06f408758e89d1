// Package websocket is a WebSocket client for golocust, on
// github.com/coder/websocket: each user keeps a connection, and each
// operation on it (connect, send, receive, or a message exchange: send a
// message and wait for its reply) is timed and recorded as one request of
// type "ws" under the name the task gives it, with the size of the message
// received (or sent, for Send) as its length.
//
//	var sockets = &locust.PerUser[*websocket.Conn]{Open: websocket.Open}
//
//	func chat(ctx context.Context, u *locust.User) error {
//		_, err := sockets.Get(u).ExchangeText(ctx, "chat", "hello")
//		return err
//	}
//
// The connection is made on its first use (recorded as the request
// "connect"), so Open never fails on a server that is down: the first
// operation fails instead, as a request. After a failed operation the
// connection is closed, and the next operation connects again.
//
// Every operation that fails because the user was stopped
// (locust.User.StoppedBy) is counted as cut short, as by every golocust
// client. The errors returned say they were recorded (locust.IsRecorded),
// so a task can return them.
package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	locust "github.com/golocust/locust"
)

// Type is the request type of every WebSocket operation in the statistics.
const Type = "ws"

// ConnectName is the name of the request that records a connection.
const ConnectName = "connect"

// DefaultTimeout bounds each operation when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// MessageType is the type of a message: Text or Binary.
type MessageType = websocket.MessageType

// The message types.
const (
	Text   = websocket.MessageText
	Binary = websocket.MessageBinary
)

// Options configure a connection. The zero value is ready to use.
type Options struct {
	// Header holds extra headers of the opening handshake.
	Header http.Header
	// Subprotocols are offered in the handshake.
	Subprotocols []string
	// Timeout bounds each operation (connect, send, receive, exchange);
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// ReadLimit is the largest message accepted, in bytes; 0 means the
	// library's default (32 KiB).
	ReadLimit int64
}

// Conn is one user's WebSocket connection. Like every client it belongs
// to one user and is not safe for concurrent use.
type Conn struct {
	u    *locust.User
	url  string
	opts Options
	ws   *websocket.Conn
}

// Open returns a connection of u to u.Host() (a ws:// or wss:// URL); its
// signature is that of locust.PerUser's Open. It checks the URL and
// connects on first use.
func Open(ctx context.Context, u *locust.User) (*Conn, error) {
	return New(u, u.Host(), Options{})
}

// New returns a connection of u to rawURL (ws:// or wss://), made on
// first use.
func New(u *locust.User, rawURL string, opts Options) (*Conn, error) {
	if rawURL == "" {
		return nil, errors.New("locust websocket: no host: set --host/-H (ws://HOST:PORT/PATH) or UserType.Host")
	}
	p, err := url.Parse(rawURL)
	if err != nil || (p.Scheme != "ws" && p.Scheme != "wss") || p.Host == "" {
		return nil, fmt.Errorf("locust websocket: host %q is not a ws:// or wss:// URL", rawURL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Conn{u: u, url: rawURL, opts: opts}, nil
}

// Connect connects now, if not connected, and records it as the request
// "connect". Other operations call it themselves.
func (c *Conn) Connect(ctx context.Context) error {
	if c.ws != nil {
		return nil
	}
	_, err := locust.Timed(ctx, c.u, Type, ConnectName, func(ctx context.Context) (struct{}, int64, error) {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPHeader: c.opts.Header, Subprotocols: c.opts.Subprotocols})
		if err != nil {
			return struct{}{}, 0, c.describe(ctx, "connect", err, resp)
		}
		if c.opts.ReadLimit > 0 {
			ws.SetReadLimit(c.opts.ReadLimit)
		}
		c.ws = ws
		return struct{}{}, 0, nil
	})
	return err
}

// Send sends one message and records it as a request named name, timed
// until the message is written, with its size as the length.
func (c *Conn) Send(ctx context.Context, name string, typ MessageType, msg []byte) error {
	if err := c.Connect(ctx); err != nil {
		return err
	}
	_, err := locust.Timed(ctx, c.u, Type, name, func(ctx context.Context) (struct{}, int64, error) {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		if err := c.ws.Write(ctx, typ, msg); err != nil {
			return struct{}{}, 0, c.fail(ctx, "send", err)
		}
		return struct{}{}, int64(len(msg)), nil
	})
	return err
}

// Receive waits for the next message and records it as a request named
// name, timed from the call to the message's arrival, with its size as
// the length (a server push).
func (c *Conn) Receive(ctx context.Context, name string) (MessageType, []byte, error) {
	if err := c.Connect(ctx); err != nil {
		return 0, nil, err
	}
	var typ MessageType
	msg, err := locust.Timed(ctx, c.u, Type, name, func(ctx context.Context) ([]byte, int64, error) {
		t, msg, err := c.read(ctx)
		typ = t
		return msg, int64(len(msg)), err
	})
	return typ, msg, err
}

// Exchange sends msg and waits for the next message, the reply: one
// request named name, timed from the send to the reply, with the reply's
// size as the length.
func (c *Conn) Exchange(ctx context.Context, name string, typ MessageType, msg []byte) (MessageType, []byte, error) {
	if err := c.Connect(ctx); err != nil {
		return 0, nil, err
	}
	var rtyp MessageType
	reply, err := locust.Timed(ctx, c.u, Type, name, func(ctx context.Context) ([]byte, int64, error) {
		wctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		err := c.ws.Write(wctx, typ, msg)
		if err != nil {
			err = c.fail(wctx, "send", err)
		}
		cancel()
		if err != nil {
			return nil, 0, err
		}
		t, reply, err := c.read(ctx)
		rtyp = t
		return reply, int64(len(reply)), err
	})
	return rtyp, reply, err
}

// ExchangeText sends a text message and returns the reply as a string
// (Exchange).
func (c *Conn) ExchangeText(ctx context.Context, name, msg string) (string, error) {
	_, reply, err := c.Exchange(ctx, name, Text, []byte(msg))
	return string(reply), err
}

// Close closes the connection with a normal closure; the next operation
// connects again.
func (c *Conn) Close() error {
	if c.ws == nil {
		return nil
	}
	ws := c.ws
	c.ws = nil
	err := ws.Close(websocket.StatusNormalClosure, "")
	if errors.Is(err, net.ErrClosed) || websocket.CloseStatus(err) != -1 {
		return nil // already closed by the server
	}
	return err
}

// read reads one message within the timeout.
func (c *Conn) read(ctx context.Context) (MessageType, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	typ, msg, err := c.ws.Read(ctx)
	if err != nil {
		return 0, nil, c.fail(ctx, "receive", err)
	}
	return typ, msg, nil
}

// fail drops the broken connection (the library closes it on any error)
// and describes err.
func (c *Conn) fail(ctx context.Context, op string, err error) error {
	if c.ws != nil {
		c.ws.CloseNow()
		c.ws = nil
	}
	return c.describe(ctx, op, err, nil)
}

// describe words a failure so that failures group well: the operation,
// then the cause, with no addresses or ports.
func (c *Conn) describe(ctx context.Context, op string, err error, resp *http.Response) error {
	var msg string
	var oe *net.OpError
	switch {
	case websocket.CloseStatus(err) != -1:
		var ce websocket.CloseError
		errors.As(err, &ce)
		msg = fmt.Sprintf("closed by the server: %v", ce.Code)
		if ce.Reason != "" {
			msg += " " + ce.Reason
		}
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		msg = "timeout" // Options.Timeout, or the task's own deadline
	case ctx.Err() != nil:
		msg = "the task's context ended: " + context.Cause(ctx).Error()
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		msg = fmt.Sprintf("handshake refused: HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	case errors.As(err, &oe):
		inner := error(oe)
		for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
			inner = u
		}
		msg = fmt.Sprintf("%s %s: %v", oe.Op, oe.Net, inner)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		msg = "connection closed"
	default:
		msg = err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return &opError{op: op, msg: msg, err: err}
}

// opError is a failed operation: "receive: closed by the server: ...".
type opError struct {
	op, msg string
	err     error
}

func (e *opError) Error() string { return e.op + ": " + e.msg }
func (e *opError) Unwrap() error { return e.err }
