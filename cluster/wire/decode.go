package wire

import (
	"math"
)

// This file decodes a frame that check accepted, straight from its bytes:
// no reflection, one allocation per map, slice and new string, and the
// protocol's usual strings (keys, types, states) shared rather than
// copied. A master decodes thousands of heartbeats and reports a second.

// value decodes the value at b[i:] (checked) and returns it with the offset
// after it.
func value(b []byte, i int) (any, int) {
	c := b[i]
	switch {
	case c <= 0x7f:
		return int64(c), i + 1
	case c >= 0xe0:
		return int64(int8(c)), i + 1
	case c <= 0x8f:
		return mapOf(b, i+1, int(c&0x0f))
	case c <= 0x9f:
		return arrayOf(b, i+1, int(c&0x0f))
	case c <= 0xbf:
		n := int(c & 0x1f)
		return str(b[i+1 : i+1+n]), i + 1 + n
	}
	switch c {
	case 0xc2:
		return false, i + 1
	case 0xc3:
		return true, i + 1
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		w := 1 << (c - 0xc4)
		n := int(be(b[i+1 : i+1+w]))
		return append([]byte{}, b[i+1+w:i+1+w+n]...), i + 1 + w + n
	case 0xca:
		return float64(math.Float32frombits(uint32(be(b[i+1 : i+5])))), i + 5
	case 0xcb:
		return math.Float64frombits(be(b[i+1 : i+9])), i + 9
	case 0xcc:
		return int64(b[i+1]), i + 2
	case 0xcd:
		return int64(be(b[i+1 : i+3])), i + 3
	case 0xce:
		return int64(be(b[i+1 : i+5])), i + 5
	case 0xcf:
		u := be(b[i+1 : i+9])
		if u > math.MaxInt64 {
			return u, i + 9
		}
		return int64(u), i + 9
	case 0xd0:
		return int64(int8(b[i+1])), i + 2
	case 0xd1:
		return int64(int16(be(b[i+1 : i+3]))), i + 3
	case 0xd2:
		return int64(int32(be(b[i+1 : i+5]))), i + 5
	case 0xd3:
		return int64(be(b[i+1 : i+9])), i + 9
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		w := 1 << (c - 0xd9)
		n := int(be(b[i+1 : i+1+w]))
		return str(b[i+1+w : i+1+w+n]), i + 1 + w + n
	case 0xdc, 0xdd: // array 16/32
		w := 2 << (c - 0xdc)
		return arrayOf(b, i+1+w, int(be(b[i+1:i+1+w])))
	case 0xde, 0xdf: // map 16/32
		w := 2 << (c - 0xde)
		return mapOf(b, i+1+w, int(be(b[i+1:i+1+w])))
	}
	return nil, i + 1 // 0xc0, nil (check accepts nothing else)
}

// strAt returns the string at b[i:] (checked), if it is one: a new string,
// not a shared one (node ids are not the protocol's words).
func strAt(b []byte, i int) (string, bool) {
	c := b[i]
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n := int(c & 0x1f)
		return string(b[i+1 : i+1+n]), true
	case c >= 0xd9 && c <= 0xdb:
		w := 1 << (c - 0xd9)
		n := int(be(b[i+1 : i+1+w]))
		return string(b[i+1+w : i+1+w+n]), true
	}
	return "", false
}

// be reads a big-endian unsigned number.
func be(b []byte) uint64 {
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return n
}

func arrayOf(b []byte, i, n int) (any, int) {
	a := make([]any, n)
	for k := range a {
		a[k], i = value(b, i)
	}
	return a, i
}

// mapOf decodes a map: map[string]any while every key is a string, else
// map[any]any.
func mapOf(b []byte, i, n int) (any, int) {
	sm := make(map[string]any, n)
	for k := 0; k < n; k++ {
		var key, v any
		key, i = value(b, i)
		ks, ok := key.(string)
		if !ok {
			m := make(map[any]any, n)
			for s, v := range sm {
				m[s] = v
			}
			v, i = value(b, i)
			m[key] = v
			for k++; k < n; k++ {
				key, i = value(b, i)
				v, i = value(b, i)
				m[key] = v
			}
			return m, i
		}
		v, i = value(b, i)
		sm[ks] = v
	}
	return sm, i
}

// str returns b as a string in an interface, sharing the protocol's usual
// strings (a constant in an interface takes no allocation).
func str(b []byte) any {
	switch string(b) {
	case "Aggregated":
		return "Aggregated"
	case "DELETE":
		return "DELETE"
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "PATCH":
		return "PATCH"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "ack":
		return "ack"
	case "client_ready":
		return "client_ready"
	case "client_stopped":
		return "client_stopped"
	case "current_cpu_usage":
		return "current_cpu_usage"
	case "current_memory_usage":
		return "current_memory_usage"
	case "cut_short":
		return "cut_short"
	case "error":
		return "error"
	case "errors":
		return "errors"
	case "exception":
		return "exception"
	case "exclude_tags":
		return "exclude_tags"
	case "heartbeat":
		return "heartbeat"
	case "host":
		return "host"
	case "index":
		return "index"
	case "last_request_timestamp":
		return "last_request_timestamp"
	case "logs":
		return "logs"
	case "max_response_time":
		return "max_response_time"
	case "method":
		return "method"
	case "min_response_time":
		return "min_response_time"
	case "missing":
		return "missing"
	case "msg":
		return "msg"
	case "name":
		return "name"
	case "num_fail_per_sec":
		return "num_fail_per_sec"
	case "num_failures":
		return "num_failures"
	case "num_none_requests":
		return "num_none_requests"
	case "num_reqs_per_sec":
		return "num_reqs_per_sec"
	case "num_requests":
		return "num_requests"
	case "occurrences":
		return "occurrences"
	case "parsed_options":
		return "parsed_options"
	case "quit":
		return "quit"
	case "ready":
		return "ready"
	case "reconnect":
		return "reconnect"
	case "response_times":
		return "response_times"
	case "response_times_ns":
		return "response_times_ns"
	case "running":
		return "running"
	case "spawn":
		return "spawn"
	case "spawning":
		return "spawning"
	case "spawning_complete":
		return "spawning_complete"
	case "start_time":
		return "start_time"
	case "state":
		return "state"
	case "stats":
		return "stats"
	case "stats_total":
		return "stats_total"
	case "stop":
		return "stop"
	case "stop_timeout":
		return "stop_timeout"
	case "stopped":
		return "stopped"
	case "tags":
		return "tags"
	case "timestamp":
		return "timestamp"
	case "total_content_length":
		return "total_content_length"
	case "total_response_time":
		return "total_response_time"
	case "traceback":
		return "traceback"
	case "user_classes_count":
		return "user_classes_count"
	case "user_count":
		return "user_count"
	}
	return string(b)
}
