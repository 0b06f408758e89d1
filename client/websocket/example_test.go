package websocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	cws "github.com/coder/websocket"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client/websocket"
)

// ExampleConn_ExchangeText sends a message and waits for its reply on a
// connection made by Open: the connection and the exchange are recorded for
// the user (here a test user).
func ExampleConn_ExchangeText() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			c.Write(r.Context(), typ, []byte(strings.ToUpper(string(msg))))
		}
	}))
	defer srv.Close()

	tu := locust.NewTestUser(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	conn, err := websocket.Open(tu.Context(), tu.User)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	reply, err := conn.ExchangeText(tu.Context(), "shout", "hello")
	fmt.Println(reply, err)
	for _, r := range tu.Requests() {
		fmt.Println(r.Type, r.Name, r.Length, r.Err)
	}
	// Output:
	// HELLO <nil>
	// ws connect 0 <nil>
	// ws shout 5 <nil>
}
