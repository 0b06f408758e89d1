package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/cluster/wire"
)

// fakeMaster is a scripted Locust master on a zmq4 ROUTER: it acks every
// client_ready, keeps every message it receives, and sends what the test
// says.
type fakeMaster struct {
	t    *testing.T
	sock zmq4.Socket
	port int
	mu   sync.Mutex
	msgs []wire.Message
	ids  map[string][]byte // node id -> identity frame
	done chan struct{}
	acks int
	ctx  context.Context
	stop func()
}

func newFakeMaster(t *testing.T) *fakeMaster { return newFakeMasterOn(t, 0) }

// newFakeMasterOn listens on port (0: any); stop ends it (also at cleanup).
func newFakeMasterOn(t *testing.T, port int) *fakeMaster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewRouter(ctx, zmq4.WithTimeout(5*time.Second))
	require.NoError(t, sock.Listen(fmt.Sprintf("tcp://127.0.0.1:%d", port)))
	m := &fakeMaster{t: t, sock: sock, port: sock.Addr().(*net.TCPAddr).Port, ids: map[string][]byte{}, done: make(chan struct{}), ctx: ctx}
	go m.loop()
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			cancel()
			sock.Close()
			<-m.done
		})
	}
	t.Cleanup(m.stop)
	return m
}

func (m *fakeMaster) loop() {
	defer close(m.done)
	for {
		msg, err := m.sock.Recv()
		if err != nil {
			// zmq4's ROUTER returns the error of one peer's connection
			// (a worker that went away); it ends only with its context
			if m.ctx.Err() != nil {
				return
			}
			m.t.Logf("DBG recv err %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if len(msg.Frames) != 2 {
			continue
		}
		dm, err := wire.Decode(msg.Frames[1])
		if err != nil {
			m.t.Logf("fake master: bad frame: %v", err)
			continue
		}
		m.mu.Lock()
		m.msgs = append(m.msgs, dm)
		m.ids[dm.NodeID] = msg.Frames[0]
		m.mu.Unlock()
		if dm.Type == wire.TypeClientReady {
			m.mu.Lock()
			m.acks++
			m.mu.Unlock()
			m.send(dm.NodeID, wire.TypeAck, map[string]any{"index": 0})
		}
	}
}

func (m *fakeMaster) send(node, typ string, data any) {
	b, err := wire.Encode(wire.Message{Type: typ, Data: data, NodeID: node})
	require.NoError(m.t, err)
	m.sendRaw(node, b)
}

func (m *fakeMaster) sendRaw(node string, payload []byte) {
	m.mu.Lock()
	id := m.ids[node]
	m.mu.Unlock()
	require.NotNil(m.t, id, "no identity for %s", node)
	_ = m.sock.Send(zmq4.NewMsgFrom(id, payload))
}

// of returns the messages of one type received so far.
func (m *fakeMaster) of(typ string) []wire.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.Message
	for _, x := range m.msgs {
		if x.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

// waitFor waits until a message of type typ satisfying ok (nil: any) came.
func (m *fakeMaster) waitFor(typ string, ok func(wire.Message) bool, d time.Duration) wire.Message {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, x := range m.of(typ) {
			if ok == nil || ok(x) {
				return x
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("fake master: no %s message within %v", typ, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requests sums num_requests of the stats_total of every stats message.
func (m *fakeMaster) requests() int64 {
	var n int64
	for _, x := range m.of(wire.TypeStats) {
		d, _ := wire.Map(x.Data)
		tot, _ := wire.Map(d["stats_total"])
		k, _ := wire.Int(tot["num_requests"])
		n += k
	}
	return n
}

func spawnMsg(ts float64, counts map[string]any) map[string]any {
	return map[string]any{"timestamp": ts, "user_classes_count": counts, "host": nil, "stop_timeout": nil, "parsed_options": map[string]any{}}
}
