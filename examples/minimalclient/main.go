// Command minimalclient is the shortest complete client of a protocol of
// your own: a line-based TCP service (one line out, one line back). Point
// it at such a server:
//
//	go run ./examples/minimalclient -H tcp://127.0.0.1:7000 -u 10 -t 30s --headless
//
// locust.Timed times each call and records it as a request of type "tcp"
// (a success, or a failure with its error); locust.PerUser gives each user
// its own connection, opened on its start and closed on its stop.
// examples/customclient is the same idea with its own server, failures and
// several tasks.
package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/run"
)

// Conn is one user's connection: a line out, a line back.
type Conn struct {
	u  *locust.User
	c  net.Conn
	rd *bufio.Reader
}

func dial(ctx context.Context, u *locust.User) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(u.Host(), "tcp://"))
	if err != nil {
		return nil, err
	}
	return &Conn{u: u, c: c, rd: bufio.NewReader(c)}, nil
}

// Send sends a line and reads the reply: one "tcp" request named name.
func (c *Conn) Send(ctx context.Context, name, line string) (string, error) {
	return locust.Timed(ctx, c.u, "tcp", name, func(ctx context.Context) (string, int64, error) {
		c.c.SetDeadline(time.Time{})
		defer context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Now()) })() // a stop ends the call
		if _, err := io.WriteString(c.c, line+"\n"); err != nil {
			return "", 0, err
		}
		reply, err := c.rd.ReadString('\n')
		return reply, int64(len(reply)), err
	})
}

func (c *Conn) Close() error { return c.c.Close() }

var conns = &locust.PerUser[*Conn]{Open: dial}

var lineUser = &locust.UserType{
	Name:    "LineUser",
	OnStart: conns.OnStart,
	OnStop:  conns.OnStop,
	Tasks: locust.NewTaskSet("lines").Task(1, func(ctx context.Context, u *locust.User) error {
		_, err := conns.Get(u).Send(ctx, "PING", "PING")
		return err
	}),
}

func main() { run.Main(lineUser) }
