package websocket_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer serves on 127.0.0.1: /echo answers "echo: MSG" to each
// message, N messages "push I" to "push N", nothing to "hang", and closes
// the connection on "close"; /refuse refuses the handshake.
func startServer(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			text := string(msg)
			switch {
			case text == "hang":
			case text == "close":
				c.Close(cws.StatusPolicyViolation, "bye")
				return
			case strings.HasPrefix(text, "push "):
				n, _ := strconv.Atoi(strings.TrimPrefix(text, "push "))
				for i := range n {
					if c.Write(r.Context(), cws.MessageText, fmt.Appendf(nil, "push %d", i+1)) != nil {
						return
					}
				}
			default:
				if c.Write(r.Context(), typ, append([]byte("echo: "), msg...)) != nil {
					return
				}
			}
		}
	})
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func open(t *testing.T, tu *locust.TestUser) *websocket.Conn {
	c, err := websocket.Open(tu.Context(), tu.User)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExchange(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), base+"/echo")
	c := open(t, tu)

	reply, err := c.ExchangeText(tu.Context(), "hello", "hi")
	require.NoError(t, err)
	assert.Equal(t, "echo: hi", reply)
	typ, bin, err := c.Exchange(tu.Context(), "binary", websocket.Binary, []byte{1, 2})
	require.NoError(t, err)
	assert.Equal(t, websocket.Binary, typ)
	assert.Equal(t, append([]byte("echo: "), 1, 2), bin)

	reqs := tu.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, [3]string{"ws", "connect", ""}, [3]string{reqs[0].Type, reqs[0].Name, ""})
	assert.NoError(t, reqs[0].Err)
	assert.Equal(t, "hello", reqs[1].Name)
	assert.Equal(t, int64(len("echo: hi")), reqs[1].Length)
	assert.Positive(t, reqs[1].Duration)
	assert.Equal(t, "binary", reqs[2].Name)
	assert.Equal(t, int64(8), reqs[2].Length)
}

func TestSendAndReceive(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), base+"/echo")
	c := open(t, tu)

	require.NoError(t, c.Send(tu.Context(), "subscribe", websocket.Text, []byte("push 2")))
	for i := range 2 {
		typ, msg, err := c.Receive(tu.Context(), "push")
		require.NoError(t, err)
		assert.Equal(t, websocket.Text, typ)
		assert.Equal(t, fmt.Sprintf("push %d", i+1), string(msg))
	}
	reqs := tu.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, []string{"connect", "subscribe", "push", "push"}, []string{reqs[0].Name, reqs[1].Name, reqs[2].Name, reqs[3].Name})
	assert.Equal(t, int64(len("push 2")), reqs[1].Length, "a send's length is the message sent")
	assert.Equal(t, int64(len("push 1")), reqs[2].Length)
}

func TestServerCloseIsAFailureAndTheNextCallReconnects(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), base+"/echo")
	c := open(t, tu)

	_, err := c.ExchangeText(tu.Context(), "close", "close")
	require.Error(t, err)
	assert.True(t, locust.IsRecorded(err))
	assert.EqualError(t, err, "receive: closed by the server: StatusPolicyViolation bye")

	reply, err := c.ExchangeText(tu.Context(), "hello", "again")
	require.NoError(t, err)
	assert.Equal(t, "echo: again", reply)

	var names []string
	for _, r := range tu.Requests() {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"connect", "close", "connect", "hello"}, names)
	assert.Equal(t, int64(1), tu.Snapshot().Total.Failures)
}

func TestCutShortByTheStop(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), base+"/echo")
	c := open(t, tu)
	require.NoError(t, c.Connect(tu.Context()))

	time.AfterFunc(50*time.Millisecond, tu.Stop)
	_, err := c.ExchangeText(tu.Context(), "hang", "hang")
	require.Error(t, err)
	assert.True(t, locust.IsRecorded(err))
	assert.Len(t, tu.Requests(), 1, "only the connect")
	assert.Equal(t, int64(1), tu.CutShort())
}

func TestTimeoutIsAFailure(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), "")
	c, err := websocket.New(tu.User, base+"/echo", websocket.Options{Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ExchangeText(tu.Context(), "hang", "hang")
	assert.EqualError(t, err, "receive: timeout")
	reqs := tu.Requests()
	require.Len(t, reqs, 2)
	assert.EqualError(t, reqs[1].Err, "receive: timeout")
	assert.Zero(t, tu.CutShort())
}

func TestConnectFailures(t *testing.T) {
	base := startServer(t)
	tu := locust.NewTestUser(t.Context(), base+"/refuse")
	c := open(t, tu)
	_, err := c.ExchangeText(tu.Context(), "hello", "hi")
	assert.EqualError(t, err, "connect: handshake refused: HTTP 403 Forbidden")
	reqs := tu.Requests()
	require.Len(t, reqs, 1, "the exchange was not tried")
	assert.Equal(t, "connect", reqs[0].Name)

	tu = locust.NewTestUser(t.Context(), "ws://127.0.0.1:1/x")
	c = open(t, tu)
	err = c.Connect(tu.Context())
	assert.ErrorContains(t, err, "connect: dial tcp: connection refused")

	for _, host := range []string{"", "http://127.0.0.1/x", "ws://"} {
		tu := locust.NewTestUser(t.Context(), host)
		_, err := websocket.Open(tu.Context(), tu.User)
		assert.Error(t, err, host)
	}
}

func TestUnderLoad(t *testing.T) {
	base := startServer(t)
	sockets := &locust.PerUser[*websocket.Conn]{Open: websocket.Open}
	typ := &locust.UserType{
		Name:    "WS",
		OnStart: sockets.OnStart,
		OnStop:  sockets.OnStop,
		Tasks: locust.NewTaskSet("w").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := sockets.Get(u).ExchangeText(ctx, "chat", "hello")
			return err
		}),
	}
	r, err := locust.NewRunner(locust.Config{Host: base + "/echo", Users: 4, Iterations: 200, Logger: slog.New(slog.DiscardHandler)}, typ)
	require.NoError(t, err)
	require.NoError(t, r.Run(t.Context()))
	s := r.Snapshot()
	chat, ok := s.Entry("ws", "chat")
	require.True(t, ok)
	assert.Equal(t, int64(200), chat.Requests)
	assert.Zero(t, chat.Failures)
	conn, ok := s.Entry("ws", "connect")
	require.True(t, ok)
	assert.Equal(t, int64(4), conn.Requests, "one connection per user")
	assert.Empty(t, s.Exceptions)
}
