// Package wire encodes and decodes the messages of Locust's master/worker
// protocol: each ZeroMQ payload is one msgpack array [type, data, node_id],
// with strings as msgpack str and maps whose keys may be strings or numbers
// (Locust's response_times and per-second maps use number keys).
//
// Decode never panics and bounds what it allocates by the frame's size: a
// malformed, truncated or hostile frame gives an error.
//
// Every function in this package is safe for concurrent use.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxFrame is the largest payload Decode accepts (64 MiB).
const MaxFrame = 64 << 20

// MaxDepth is the deepest nesting of arrays and maps Decode accepts.
const MaxDepth = 32

// Message types of Locust's protocol (locust/runners.py).
const (
	TypeClientReady      = "client_ready"
	TypeAck              = "ack"
	TypeHeartbeat        = "heartbeat"
	TypeSpawn            = "spawn"
	TypeSpawning         = "spawning"
	TypeSpawningComplete = "spawning_complete"
	TypeStats            = "stats"
	TypeException        = "exception"
	TypeStop             = "stop"
	TypeClientStopped    = "client_stopped"
	TypeQuit             = "quit"
	TypeReconnect        = "reconnect"
)

// ReconnectUnknown is the data a Go master sends with reconnect to a worker
// it does not know (one that ran the test of a master since restarted on
// the same address). A Locust worker ignores the data and registers again;
// a Go worker also ends the users of the test that is gone first.
const ReconnectUnknown = "unknown worker"

// Message is one protocol message. Data holds, after Decode, only these
// types: nil, bool, int64, uint64 (for integers above math.MaxInt64),
// float64, string, []byte (msgpack bin), []any, map[string]any (a map whose
// keys are all strings) and map[any]any (any other map; its keys are
// scalars: nil, bool, int64, uint64, float64, string). For Encode, Data may
// be anything msgpack/v5 encodes; Go strings go out as msgpack str.
//
// A Message is plain data, safe to copy.
type Message struct {
	Type   string
	Data   any
	NodeID string
}

// Encode packs m as Locust does: a 3-element array with the type and node
// id as msgpack str. Integers are written in their smallest form and floats
// as float64.
func Encode(m Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode([]any{m.Type, m.Data, m.NodeID}); err != nil {
		return nil, fmt.Errorf("wire: encode %q: %w", m.Type, err)
	}
	return buf.Bytes(), nil
}

// ErrFrame is wrapped by every error Decode returns.
var ErrFrame = errors.New("wire: bad frame")

// Decode unpacks one payload. The frame must be exactly one msgpack array of
// three elements whose first and last are strings (the type must not be
// empty); any other frame, and any trailing byte, is an error wrapping
// ErrFrame.
func Decode(b []byte) (Message, error) {
	if len(b) > MaxFrame {
		return Message{}, fmt.Errorf("%w: %d bytes, more than %d", ErrFrame, len(b), MaxFrame)
	}
	// check the structure first: lengths that fit in the frame, bounded
	// depth, scalar map keys, valid UTF-8, no extension types. After this
	// value (decode.go) cannot read out of bounds, over-allocate, recurse
	// deeply or panic on an unhashable key.
	n, err := check(b, 0)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrFrame, err)
	}
	if n != len(b) {
		return Message{}, fmt.Errorf("%w: %d trailing bytes", ErrFrame, len(b)-n)
	}
	if len(b) == 0 || !(b[0] == 0x93 || (b[0] == 0xdc && len(b) >= 3 && b[1] == 0 && b[2] == 3) ||
		(b[0] == 0xdd && len(b) >= 5 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 3)) {
		return Message{}, fmt.Errorf("%w: not an array of 3 elements", ErrFrame)
	}
	// the three elements, without a slice for them
	i := 1 // after 0x93
	switch b[0] {
	case 0xdc:
		i = 3
	case 0xdd:
		i = 5
	}
	t, i := value(b, i)
	typ, ok := t.(string)
	if !ok || typ == "" {
		return Message{}, fmt.Errorf("%w: message type is %T, not a string", ErrFrame, t)
	}
	data, i := value(b, i)
	node, ok := strAt(b, i)
	if !ok {
		return Message{}, fmt.Errorf("%w: node id of %q is not a string", ErrFrame, typ)
	}
	return Message{Type: typ, Data: data, NodeID: node}, nil
}

// check walks one msgpack value starting at b[0] and returns its length in
// bytes, or an error for anything Decode must not hand to the decoder.
func check(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, errors.New("truncated")
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0: // fixint
		return 1, nil
	case c >= 0x80 && c <= 0x8f:
		return checkContainer(b, 1, int(c&0x0f), true, depth)
	case c >= 0x90 && c <= 0x9f:
		return checkContainer(b, 1, int(c&0x0f), false, depth)
	case c >= 0xa0 && c <= 0xbf:
		return checkStr(b, 1, int(c&0x1f))
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 1, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		w := 1 << (c - 0xc4)
		n, err := length(b, w)
		if err != nil {
			return 0, err
		}
		if n > len(b)-1-w {
			return 0, errors.New("truncated bin")
		}
		return 1 + w + n, nil
	case 0xca: // float32
		return fixed(b, 5)
	case 0xcb: // float64
		return fixed(b, 9)
	case 0xcc, 0xd0:
		return fixed(b, 2)
	case 0xcd, 0xd1:
		return fixed(b, 3)
	case 0xce, 0xd2:
		return fixed(b, 5)
	case 0xcf, 0xd3:
		return fixed(b, 9)
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		w := 1 << (c - 0xd9)
		n, err := length(b, w)
		if err != nil {
			return 0, err
		}
		return checkStr(b, 1+w, n)
	case 0xdc, 0xdd: // array 16/32
		w := 2 << (c - 0xdc)
		n, err := length(b, w)
		if err != nil {
			return 0, err
		}
		return checkContainer(b, 1+w, n, false, depth)
	case 0xde, 0xdf: // map 16/32
		w := 2 << (c - 0xde)
		n, err := length(b, w)
		if err != nil {
			return 0, err
		}
		return checkContainer(b, 1+w, n, true, depth)
	}
	return 0, fmt.Errorf("unsupported msgpack code 0x%02x", c)
}

func fixed(b []byte, n int) (int, error) {
	if len(b) < n {
		return 0, errors.New("truncated number")
	}
	return n, nil
}

// length reads the big-endian length of w bytes after the code byte.
func length(b []byte, w int) (int, error) {
	if len(b) < 1+w {
		return 0, errors.New("truncated length")
	}
	var n uint64
	for _, x := range b[1 : 1+w] {
		n = n<<8 | uint64(x)
	}
	if n > MaxFrame {
		return 0, fmt.Errorf("length %d larger than a frame", n)
	}
	return int(n), nil
}

func checkStr(b []byte, head, n int) (int, error) {
	if n > len(b)-head {
		return 0, errors.New("truncated string")
	}
	if !utf8.Valid(b[head : head+n]) {
		return 0, errors.New("string is not valid UTF-8")
	}
	return head + n, nil
}

func checkContainer(b []byte, head, n int, isMap bool, depth int) (int, error) {
	if depth >= MaxDepth {
		return 0, fmt.Errorf("nested deeper than %d", MaxDepth)
	}
	items := n
	if isMap {
		items = 2 * n
	}
	// every element takes at least one byte
	if items > len(b)-head {
		return 0, errors.New("truncated container")
	}
	off := head
	for i := range items {
		rest := b[off:]
		if isMap && i%2 == 0 && len(rest) > 0 && !scalar(rest[0]) {
			return 0, fmt.Errorf("map key of msgpack code 0x%02x is not a scalar", rest[0])
		}
		k, err := check(rest, depth+1)
		if err != nil {
			return 0, err
		}
		off += k
	}
	return off, nil
}

// scalar reports whether code c starts a value usable as a Go map key.
func scalar(c byte) bool {
	switch {
	case c >= 0x80 && c <= 0x9f, c == 0xdc, c == 0xdd, c == 0xde, c == 0xdf:
		return false
	case c >= 0xc4 && c <= 0xc6: // bin decodes to []byte: not hashable
		return false
	}
	return true
}
