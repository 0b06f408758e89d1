// Command customclient load tests a service that does not speak HTTP,
// with Locust's custom-client pattern: a client that times each call and
// reports it as a success or a failure, so that the statistics, reports
// and thresholds work for it exactly as for HTTP.
//
// The service is a small line-based key-value protocol over TCP that this
// program serves itself on 127.0.0.1 (see server.go):
//
//	PING      -> PONG
//	GET key   -> VALUE <value>, or ERR no such key
//	SLOW      -> OK, after 50 ms
//	FAIL      -> ERR failed on purpose
//
//	go run ./examples/customclient -u 20 -r 10 -t 30s --headless
//
// With --host tcp://127.0.0.1:PORT it load tests that server instead.
// FAIL fails on purpose, so a run exits with 1 (--exit-code-on-error).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/run"
)

// Client is one user's connection to the key-value service: the talk's
// CustomClient. Like every client it belongs to one user and is not safe
// for concurrent use.
type Client struct {
	u       *locust.User
	addr    string
	timeout time.Duration
	conn    net.Conn
	rd      *bufio.Reader
}

// NewClient returns the client of u for the server at u.Host()
// (tcp://HOST:PORT); it connects on first use.
func NewClient(ctx context.Context, u *locust.User) (*Client, error) {
	addr, err := tcpAddr(u.Host())
	if err != nil {
		return nil, err
	}
	return &Client{u: u, addr: addr, timeout: 5 * time.Second}, nil
}

// Send sends one request line and returns the reply: the talk's
// sendRequest. locust.Timed times the call and records a success (with the
// reply's length) or a failure (with the error) under the request type
// "tcp" and the given name; the error it returns is marked as recorded, so
// a task can return it without it being counted again.
func (c *Client) Send(ctx context.Context, name, request string) (string, error) {
	return locust.Timed(ctx, c.u, "tcp", name, func(ctx context.Context) (string, int64, error) {
		reply, err := c.roundTrip(ctx, request)
		return reply, int64(len(reply)), err
	})
}

// Close closes the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.rd = nil, nil
	return err
}

func (c *Client) roundTrip(ctx context.Context, request string) (string, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return "", ioError("connect", err)
		}
		c.conn, c.rd = conn, bufio.NewReader(conn)
	}
	conn := c.conn
	conn.SetDeadline(time.Now().Add(c.timeout))
	// a stopped user's context ends the call at once
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, request+"\n"); err != nil {
		c.Close()
		return "", ioError("write", err)
	}
	line, err := c.rd.ReadString('\n')
	if err != nil {
		c.Close() // the stream is out of step: reconnect on the next call
		return "", ioError("read", err)
	}
	line = strings.TrimSuffix(line, "\n")
	if msg, ok := strings.CutPrefix(line, "ERR "); ok {
		return line, errors.New(msg) // the server said no; the connection is fine
	}
	return line, nil
}

// ioError names a network failure without addresses or ports, so that the
// failures table groups them.
func ioError(op string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: connection closed by the server", op)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: timeout", op)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s: %v", op, oe.Err)
	}
	return fmt.Errorf("%s: %v", op, err)
}

// kv keeps one Client per user, like the talk's CustomLocust: opened on
// the user's start, closed (Client.Close) on its stop, and kv.Get(u) is
// the user's *Client.
var kv = &locust.PerUser[*Client]{Open: NewClient}

var kvUser = &locust.UserType{
	Name: "KVUser",
	Wait: locust.Between(20*time.Millisecond, 100*time.Millisecond),
	OnStart: func(ctx context.Context, u *locust.User) error {
		if err := kv.OnStart(ctx, u); err != nil {
			return err
		}
		_, err := kv.Get(u).Send(ctx, "PING", "PING") // connect and check
		return err
	},
	OnStop: kv.OnStop,
	Tasks: locust.NewTaskSet("kv").
		Task(10, ping).
		Task(10, get).
		Task(2, slow).
		Task(1, fail),
}

func ping(ctx context.Context, u *locust.User) error {
	_, err := kv.Get(u).Send(ctx, "PING", "PING")
	return err
}

// get reads a key; 1 in 10 keys does not exist, which the server reports
// as an error.
func get(ctx context.Context, u *locust.User) error {
	_, err := kv.Get(u).Send(ctx, "GET key", fmt.Sprintf("GET key%d", rand.IntN(110)))
	return err
}

func slow(ctx context.Context, u *locust.User) error {
	_, err := kv.Get(u).Send(ctx, "SLOW", "SLOW")
	return err
}

func fail(ctx context.Context, u *locust.User) error {
	_, err := kv.Get(u).Send(ctx, "FAIL", "FAIL")
	return err
}

// tcpAddr turns tcp://host:port into host:port.
func tcpAddr(host string) (string, error) {
	p, err := url.Parse(host)
	if err != nil || p.Scheme != "tcp" || p.Port() == "" {
		return "", fmt.Errorf("invalid host %q: want tcp://HOST:PORT", host)
	}
	return p.Host, nil
}

// main is run.Main with one addition: Prepare checks --host, or starts
// the key-value server on 127.0.0.1 and targets it.
func main() {
	cmd := run.Command(kvUser)
	cmd.Name = "customclient"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			if _, err := tcpAddr(cfg.Host); err != nil {
				return nil, err
			}
			fmt.Printf("customclient: load testing %s (no local server started)\n", cfg.Host)
			return types, nil
		}
		srv, err := StartServer("127.0.0.1:0") // ends with the process
		if err != nil {
			return nil, err
		}
		cfg.Host = "tcp://" + srv.Addr()
		fmt.Printf("customclient: load testing %s, a key-value server started by this program on 127.0.0.1\n", cfg.Host)
		return types, nil
	}
	cmd.Main()
}
