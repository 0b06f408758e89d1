package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestClient unit-tests the client with a test user: no runner, no load.
func TestClient(t *testing.T) {
	srv, err := StartServer("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()

	tu := locust.NewTestUser(t.Context(), "tcp://"+srv.Addr())
	c, err := NewClient(tu.Context(), tu.User)
	require.NoError(t, err)
	defer c.Close()

	reply, err := c.Send(tu.Context(), "PING", "PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", reply)
	_, err = c.Send(tu.Context(), "FAIL", "FAIL")
	assert.EqualError(t, err, "failed on purpose")
	assert.True(t, locust.IsRecorded(err))

	reqs := tu.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, locust.Request{Type: "tcp", Name: "PING", Length: 4}, locust.Request{Type: reqs[0].Type, Name: reqs[0].Name, Length: reqs[0].Length})
	assert.NoError(t, reqs[0].Err)
	assert.EqualError(t, reqs[1].Err, "failed on purpose")

	// a call in flight when the user stops is cut short, not a failure
	time.AfterFunc(10*time.Millisecond, tu.Stop)
	_, err = c.Send(tu.Context(), "SLOW", "SLOW")
	require.Error(t, err)
	assert.Len(t, tu.Requests(), 2)
	assert.Equal(t, int64(1), tu.CutShort())
}

func TestNewClientRejectsABadHost(t *testing.T) {
	tu := locust.NewTestUser(t.Context(), "http://127.0.0.1:1")
	_, err := NewClient(tu.Context(), tu.User)
	assert.ErrorContains(t, err, "want tcp://HOST:PORT")
}
