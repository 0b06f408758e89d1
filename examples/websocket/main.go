// Command websocket load tests a WebSocket service with client/websocket:
// each user keeps one connection, and each message exchange (send a
// message, wait for its reply) is a request of type "ws" under the name
// the task gives it. With no --host it starts a small WebSocket server on
// 127.0.0.1 and load tests it.
//
//	go run ./examples/websocket -u 20 -r 10 -t 30s --headless
//
// The server answers "echo: MSG" to a message, sends "tick 1" to "tick N"
// for "ticks N", and closes the connection on "bye" (a failure on purpose:
// a run exits with 1). With --host ws://HOST:PORT/PATH it load tests that
// server instead.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	cws "github.com/coder/websocket"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client/websocket"
	"github.com/golocust/locust/run"
)

// sockets gives each user its own connection, opened on its start and
// closed on its stop.
var sockets = &locust.PerUser[*websocket.Conn]{Open: websocket.Open}

var chatUser = &locust.UserType{
	Name:    "ChatUser",
	Wait:    locust.Between(10*time.Millisecond, 50*time.Millisecond),
	OnStart: sockets.OnStart,
	OnStop:  sockets.OnStop,
	Tasks: locust.NewTaskSet("chat").
		Task(10, say).
		Task(3, ticks).
		Task(1, bye),
}

// say sends a message and waits for its echo: one request "say".
func say(ctx context.Context, u *locust.User) error {
	_, err := sockets.Get(u).ExchangeText(ctx, "say", fmt.Sprintf("hello %d", rand.IntN(100)))
	return err
}

// ticks subscribes to three server pushes and receives them: one request
// "ticks" (the first one, as an exchange) and two "tick".
func ticks(ctx context.Context, u *locust.User) error {
	c := sockets.Get(u)
	if _, err := c.ExchangeText(ctx, "ticks", "ticks 3"); err != nil {
		return err
	}
	for range 2 {
		if _, _, err := c.Receive(ctx, "tick"); err != nil {
			return err
		}
	}
	return nil
}

// bye makes the server close the connection: a failure on purpose; the
// next task connects again.
func bye(ctx context.Context, u *locust.User) error {
	_, err := sockets.Get(u).ExchangeText(ctx, "bye", "bye")
	return err
}

// serve is the server's handler of one connection.
func serve(w http.ResponseWriter, r *http.Request) {
	c, err := cws.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		text := string(msg)
		switch {
		case text == "bye":
			c.Close(cws.StatusGoingAway, "bye on request")
			return
		case strings.HasPrefix(text, "ticks "):
			n, _ := strconv.Atoi(strings.TrimPrefix(text, "ticks "))
			for i := range min(n, 100) {
				if c.Write(ctx, cws.MessageText, fmt.Appendf(nil, "tick %d", i+1)) != nil {
					return
				}
			}
		default:
			if c.Write(ctx, cws.MessageText, append([]byte("echo: "), msg...)) != nil {
				return
			}
		}
	}
}

// startServer serves on 127.0.0.1 (a free port) until stop is called.
func startServer() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/chat", func() { srv.Close() }, nil
}

// command is run.Command with one addition: with no --host, Prepare
// starts the server and targets it. stop stops that server.
func command() (cmd *locust.Command, stop func()) {
	stop = func() {}
	cmd = run.Command(chatUser)
	cmd.Name = "websocket"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			fmt.Fprintf(cmd.Stdout, "websocket: load testing %s (no local server started)\n", cfg.Host)
			return types, nil
		}
		url, stopServer, err := startServer()
		if err != nil {
			return nil, err
		}
		stop = stopServer
		cfg.Host = url
		fmt.Fprintf(cmd.Stdout, "websocket: load testing %s, a WebSocket server started by this program on 127.0.0.1\n", cfg.Host)
		return types, nil
	}
	return cmd, func() { stop() }
}

func main() {
	cmd, stop := command()
	cmd.Stdout = os.Stdout
	code := cmd.Run(context.Background(), os.Args[1:])
	stop()
	os.Exit(code)
}
