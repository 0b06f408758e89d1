package wire

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// decodeReference is Decode as it was before value: msgpack/v5's generic
// decoder, then normalize. The fuzz and unit tests check that value gives
// the same messages.
func decodeReference(b []byte) (Message, error) {
	n, err := check(b, 0)
	if err != nil || n != len(b) {
		return Message{}, fmt.Errorf("%w: check", ErrFrame)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.SetMapDecoder(decodeMap)
	v, err := dec.DecodeInterface()
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrFrame, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 {
		return Message{}, fmt.Errorf("%w: not an array of 3 elements", ErrFrame)
	}
	typ, ok := arr[0].(string)
	if !ok || typ == "" {
		return Message{}, fmt.Errorf("%w: type", ErrFrame)
	}
	node, ok := arr[2].(string)
	if !ok {
		return Message{}, fmt.Errorf("%w: node id", ErrFrame)
	}
	return Message{Type: typ, Data: normalize(arr[1]), NodeID: node}, nil
}

// decodeMap decodes a map with keys of any scalar type.
func decodeMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if n == -1 {
		return nil, nil
	}
	m := make(map[any]any, n)
	allStrings := true
	for range n {
		k, err := d.DecodeInterface()
		if err != nil {
			return nil, err
		}
		k = normalize(k)
		if _, ok := k.(string); !ok {
			allStrings = false
		}
		v, err := d.DecodeInterface()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if !allStrings {
		return m, nil
	}
	sm := make(map[string]any, len(m))
	for k, v := range m {
		sm[k.(string)] = v
	}
	return sm, nil
}

// normalize turns every integer into int64 (uint64 only above
// math.MaxInt64) and float32 into float64, in v and everything it holds
// (map values included; keys were normalized as the maps were decoded).
func normalize(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case float32:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case map[any]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	}
	return v
}

// BenchmarkDecode compares Decode with the msgpack/v5 decoder it replaced
// (reference) on Locust's heartbeat and stats frames: run with -benchmem.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"heartbeat", "stats"} {
		frame := readFrame(b, name)
		for _, d := range []struct {
			name string
			fn   func([]byte) (Message, error)
		}{{"value", Decode}, {"reference", decodeReference}} {
			b.Run(name+"/"+d.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := d.fn(frame); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
