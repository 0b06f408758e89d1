// Package faults holds golocust's fault-injection suite (in its tests) and
// the misbehaving HTTP target that the suite and the soak program
// (bench/soak) send load to.
//
// Target is a raw TCP server on 127.0.0.1 that speaks just enough HTTP/1.1
// to read requests, and answers them the way its Mode says: correctly,
// with bursts of 5xx, with a reset in the middle of the response, never,
// one byte at a time, with bytes that are not HTTP, or not at all because
// it never reads. It counts what it received (complete requests read, and
// connections accepted), so that a test can check that every request the
// target saw is counted exactly once by the generator. It can be killed
// (listener closed, every connection reset) and restarted on the same
// port.
package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a Target answers.
type Mode int32

const (
	// OK answers every request 200 with a two-byte body.
	OK Mode = iota
	// Burst5xx answers 503 to the first BurstFailures requests of every
	// BurstPeriod requests it reads, 200 to the others.
	Burst5xx
	// Reset reads the request, sends the status line, headers and part of
	// the body, then resets the connection (TCP RST).
	Reset
	// Stall reads the request and never answers; the connection stays open
	// until the client closes it or the target is closed.
	Stall
	// Drip answers 200 one byte every DripEvery, DripBytes bytes of body in
	// all, so the whole response takes longer than a short client timeout
	// although bytes keep coming.
	Drip
	// Garbage reads the request, answers with bytes that are not HTTP (a
	// little different each time) and closes the connection.
	Garbage
	// NeverRead accepts connections and never reads from them: a client's
	// request stays in the socket buffers (or its write blocks once they
	// are full). Requests() stays 0; count Conns() instead.
	NeverRead
)

var modeNames = [...]string{"ok", "5xx-burst", "reset-mid-response", "stall", "slow-drip", "garbage", "never-read"}

// String returns the mode's name, such as "stall".
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Defaults of a Target's knobs.
const (
	DefaultBurstPeriod   = 20
	DefaultBurstFailures = 8
	DefaultDripEvery     = 20 * time.Millisecond
	DefaultDripBytes     = 50
)

// garbage is what a Garbage target answers (with the request's number):
// no status line a client can parse, some binary, no end.
const garbage = "SSH-2.0-OpenSSH_9.2p1 not-http %d\r\n\x00\xff\xfe garbage \x01\x02\r\n\r\n"

// Target is a misbehaving HTTP/1.1 server on 127.0.0.1 (see the package
// doc). Its methods are safe for concurrent use. Close it when done: it
// ends every connection and waits for its goroutines.
type Target struct {
	// BurstPeriod and BurstFailures shape Burst5xx (defaults 20 and 8).
	// DripEvery and DripBytes shape Drip (defaults 20 ms and 50 bytes).
	// Set them before the first request; they are read without a lock.
	BurstPeriod, BurstFailures int
	DripEvery                  time.Duration
	DripBytes                  int

	addr     string
	mode     atomic.Int32
	requests atomic.Int64 // complete requests read
	conns    atomic.Int64 // connections accepted
	partial  atomic.Int64 // connections that ended inside a request
	unread   atomic.Int64 // NeverRead connections that had bytes waiting

	mu     sync.Mutex
	ln     net.Listener
	open   map[net.Conn]*connState
	closed bool
	done   chan struct{} // closed by Close: held connections end
	wg     sync.WaitGroup
}

// Start starts a target in mode m on a free port of 127.0.0.1.
func Start(m Mode) (*Target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Target{
		BurstPeriod: DefaultBurstPeriod, BurstFailures: DefaultBurstFailures,
		DripEvery: DefaultDripEvery, DripBytes: DefaultDripBytes,
		addr: ln.Addr().String(), open: map[net.Conn]*connState{}, done: make(chan struct{}),
	}
	t.mode.Store(int32(m))
	t.serve(ln)
	return t, nil
}

// URL returns the target's base URL, "http://127.0.0.1:PORT".
func (t *Target) URL() string { return "http://" + t.addr }

// Addr returns the target's host:port.
func (t *Target) Addr() string { return t.addr }

// SetMode changes how the target answers the requests it reads from now
// on.
func (t *Target) SetMode(m Mode) { t.mode.Store(int32(m)) }

// Mode returns the current mode.
func (t *Target) Mode() Mode { return Mode(t.mode.Load()) }

// Requests returns the number of complete requests (head and body) the
// target has read.
func (t *Target) Requests() int64 { return t.requests.Load() }

// Conns returns the number of connections the target has accepted.
func (t *Target) Conns() int64 { return t.conns.Load() }

// Partial returns the number of connections that ended in the middle of a
// request (some bytes of it read, not all).
func (t *Target) Partial() int64 { return t.partial.Load() }

// Unread returns the number of connections of a NeverRead target on which
// the client had sent bytes (looked at when they were killed or closed):
// the requests that such a target received.
func (t *Target) Unread() int64 { return t.unread.Load() }

// OpenConns returns the number of connections open now.
func (t *Target) OpenConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// Kill stops the target as a crash would: the listener closes (new
// connections are refused) and every open connection is reset. Requests
// already read stay counted. Restart brings it back on the same port.
func (t *Target) Kill() {
	t.mu.Lock()
	ln := t.ln
	t.ln = nil
	conns := make([]net.Conn, 0, len(t.open))
	for c, st := range t.open {
		close(st.killed)
		delete(t.open, c)
		if !st.neverRead { // those reset themselves once they looked
			conns = append(conns, c)
		}
	}
	t.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		resetClose(c)
	}
}

// Restart listens again on the target's address after Kill. It is an
// error if the target is running or closed.
func (t *Target) Restart() error {
	t.mu.Lock()
	running, closed := t.ln != nil, t.closed
	t.mu.Unlock()
	if running || closed {
		return errors.New("faults: Restart of a target that is running or closed")
	}
	ln, err := net.Listen("tcp", t.addr)
	if err != nil {
		return fmt.Errorf("faults: restart on %s: %w", t.addr, err)
	}
	t.serve(ln)
	return nil
}

// Close stops the target for good: the listener and every connection
// close, and Close returns once all its goroutines have ended.
func (t *Target) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	close(t.done)
	t.mu.Unlock()
	t.Kill()
	t.wg.Wait()
}

func (t *Target) serve(ln net.Listener) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = ln.Close()
		return
	}
	t.ln = ln
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Kill or Close
			}
			t.conns.Add(1)
			t.mu.Lock()
			if t.ln != ln { // killed while accepting
				t.mu.Unlock()
				resetClose(c)
				continue
			}
			st := &connState{killed: make(chan struct{}), neverRead: t.Mode() == NeverRead}
			t.open[c] = st
			t.wg.Add(1)
			t.mu.Unlock()
			go t.handle(c, st)
		}
	}()
}

func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// countingReader counts the bytes read from a connection, to tell a
// connection that ended between requests from one that ended inside one.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// connState is an open connection's: closed when it is killed, and
// whether it is one that the target never reads.
type connState struct {
	killed    chan struct{}
	neverRead bool
}

func (t *Target) handle(c net.Conn, st *connState) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		if t.open[c] == st {
			delete(t.open, c)
		}
		t.mu.Unlock()
		_ = c.Close()
	}()
	if st.neverRead {
		// never read until the kill or the close; then look whether the
		// client sent something (a request the target received and never
		// answered), and reset
		select {
		case <-st.killed:
		case <-t.done:
		}
		var one [1]byte
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if n, _ := c.Read(one[:]); n > 0 {
			t.unread.Add(1)
		}
		resetClose(c)
		return
	}
	cr := &countingReader{r: c}
	br := bufio.NewReader(cr)
	w := bufio.NewWriter(c)
	for {
		before := cr.n - int64(br.Buffered())
		req, err := http.ReadRequest(br)
		if err == nil {
			_, err = io.Copy(io.Discard, req.Body)
		}
		if err != nil {
			if cr.n > before { // bytes of a request that never completed
				t.partial.Add(1)
			}
			return
		}
		n := t.requests.Add(1)
		switch t.Mode() {
		case OK:
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
		case Burst5xx:
			period, fails := max(t.BurstPeriod, 1), t.BurstFailures
			if int((n-1)%int64(period)) < fails {
				_, _ = w.WriteString("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbusy")
			} else {
				_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
			}
		case Reset:
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nthe first bytes of a body cut short")
			_ = w.Flush()
			time.Sleep(time.Millisecond) // let the bytes leave before the reset
			resetClose(c)
			return
		case Stall, NeverRead:
			t.hold(c)
			return
		case Drip:
			if !t.drip(c) {
				return
			}
			continue
		case Garbage:
			_, _ = fmt.Fprintf(w, garbage, n)
			_ = w.Flush()
			return
		}
		if w.Flush() != nil {
			return
		}
	}
}

// hold keeps c open without answering until the client closes its side
// or the target is killed or closed. What the client sends meanwhile is
// read and dropped.
func (t *Target) hold(c net.Conn) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-t.done:
			_ = c.SetReadDeadline(time.Unix(1, 0))
		case <-stop:
		}
	}()
	_, _ = io.Copy(io.Discard, c)
}

// drip sends a 200 response one byte at a time; false when the client
// went away or the target closed.
func (t *Target) drip(c net.Conn) bool {
	body := max(t.DripBytes, 1)
	every := t.DripEvery
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(body) + "\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		return false
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	one := []byte{'x'}
	for range body {
		select {
		case <-tick.C:
		case <-t.done:
			return false
		}
		if _, err := c.Write(one); err != nil {
			return false
		}
	}
	return true
}
