package wire

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFrame(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".msgpack"))
	require.NoError(t, err)
	return b
}

func TestDecodePythonFrames(t *testing.T) {
	m, err := Decode(readFrame(t, "spawn"))
	require.NoError(t, err)
	assert.Equal(t, "spawn", m.Type)
	assert.Equal(t, "worker-host_0123456789abcdef0123456789abcdef", m.NodeID)
	d, ok := Map(m.Data)
	require.True(t, ok)
	ts, ok := Float(d["timestamp"])
	require.True(t, ok)
	assert.InDelta(t, 1795637470.709625, ts, 1e-6)
	counts, ok := Map(d["user_classes_count"])
	require.True(t, ok)
	n, ok := Int(counts["WebUser"])
	require.True(t, ok)
	assert.EqualValues(t, 3, n)
	po, ok := Map(d["parsed_options"])
	require.True(t, ok)
	tags, err := Strings(po["tags"])
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, tags)
	ex, err := Strings(po["exclude_tags"])
	require.NoError(t, err)
	assert.Nil(t, ex)

	// number keys (int and float) decode into map[any]any
	m, err = Decode(readFrame(t, "stats"))
	require.NoError(t, err)
	d, _ = Map(m.Data)
	entries := d["stats"].([]any)
	e := entries[0].(map[string]any)
	rt := e["response_times"].(map[any]any)
	assert.Len(t, rt, 7)
	assert.EqualValues(t, 8, rt[int64(140)])
	assert.EqualValues(t, 8, rt[150.0])
	assert.Nil(t, d["stats_total"].(map[string]any)["min_response_time"])
	mn, _ := Float(e["min_response_time"])
	assert.Equal(t, 7.4, mn)

	m, err = Decode(readFrame(t, "big_uint"))
	require.NoError(t, err)
	d, _ = Map(m.Data)
	assert.Equal(t, uint64(math.MaxUint64), d["n"])
	assert.Equal(t, int64(math.MinInt64), d["m"])
	assert.Equal(t, []byte{0, 0xff}, d["b"])
	assert.Equal(t, true, d["t"])

	m, err = Decode(readFrame(t, "client_ready_empty"))
	require.NoError(t, err)
	assert.Equal(t, "", m.Data)
	m, err = Decode(readFrame(t, "client_ready_minus1"))
	require.NoError(t, err)
	assert.Equal(t, int64(-1), m.Data)
	m, err = Decode(readFrame(t, "quit"))
	require.NoError(t, err)
	assert.Nil(t, m.Data)
}

// Encode writes what Python's msgpack.dumps writes for the same message.
func TestEncodeMatchesPython(t *testing.T) {
	node := "worker-host_0123456789abcdef0123456789abcdef"
	for name, m := range map[string]Message{
		"client_ready_minus1": {TypeClientReady, -1, node},
		"quit":                {TypeQuit, nil, node},
		"ack":                 {TypeAck, map[string]any{"index": 0}, node},
	} {
		b, err := Encode(m)
		require.NoError(t, err)
		assert.Equal(t, readFrame(t, name), b, name)
	}
	// a round trip of number-keyed maps
	b, err := Encode(Message{TypeStats, map[string]any{"rt": map[int64]int64{7: 1, 150: 2}}, node})
	require.NoError(t, err)
	m, err := Decode(b)
	require.NoError(t, err)
	rt := m.Data.(map[string]any)["rt"].(map[any]any)
	assert.Equal(t, map[any]any{int64(7): int64(1), int64(150): int64(2)}, rt)
}

func TestDecodeRejectsBadFrames(t *testing.T) {
	good := readFrame(t, "stats")
	cases := map[string][]byte{
		"empty":            {},
		"not an array":     {0xa3, 'a', 'b', 'c'},
		"array of 2":       {0x92, 0xa1, 'x', 0xc0},
		"array of 4":       {0x94, 0xa1, 'x', 0xc0, 0xa0, 0xc0},
		"type not str":     {0x93, 0x01, 0xc0, 0xa0},
		"empty type":       {0x93, 0xa0, 0xc0, 0xa0},
		"node not str":     {0x93, 0xa1, 'x', 0xc0, 0x01},
		"trailing":         append(append([]byte{}, good...), 0x00),
		"bad utf8":         {0x93, 0xa2, 0xff, 0xfe, 0xc0, 0xa0},
		"huge array32":     {0x93, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa0},
		"huge map32":       {0x93, 0xa1, 'x', 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa0},
		"huge str32":       {0x93, 0xa1, 'x', 0xdb, 0x7f, 0xff, 0xff, 0xff, 0xa0},
		"huge bin32":       {0x93, 0xa1, 'x', 0xc6, 0x7f, 0xff, 0xff, 0xff, 0xa0},
		"map key is a map": {0x93, 0xa1, 'x', 0x81, 0x80, 0x01, 0xa0},
		"map key is bin":   {0x93, 0xa1, 'x', 0x81, 0xc4, 0x00, 0x01, 0xa0},
		"ext type":         {0x93, 0xa1, 'x', 0xd4, 0x01, 0x02, 0xa0},
		"reserved code":    {0x93, 0xa1, 'x', 0xc1, 0xa0},
		"deep nesting":     append(append([]byte{0x93, 0xa1, 'x'}, bytes.Repeat([]byte{0x91}, 100000)...), 0xc0, 0xa0),
	}
	for i := 1; i < len(good); i += 7 {
		cases["truncated at "+strings.Repeat("I", 1)+string(rune('0'+i%10))+"-"+itoa(i)] = good[:i]
	}
	for name, b := range cases {
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrFrame, name)
	}
	_, err := Decode(make([]byte, MaxFrame+1))
	require.ErrorIs(t, err, ErrFrame)
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

func TestValues(t *testing.T) {
	for _, v := range []any{int8(-3), int16(-3), int32(-3), int64(-3), -3.0, float32(-3)} {
		n, ok := Int(v)
		assert.True(t, ok, "%T", v)
		assert.EqualValues(t, -3, n)
	}
	_, ok := Int(2.5)
	assert.False(t, ok)
	_, ok = Int("1")
	assert.False(t, ok)
	_, ok = Int(uint64(math.MaxUint64))
	assert.False(t, ok)
	f, ok := Float(uint8(7))
	assert.True(t, ok)
	assert.Equal(t, 7.0, f)
	_, ok = Map(map[any]any{1: 2})
	assert.False(t, ok)
	_, err := Strings([]any{"a", 1})
	assert.Error(t, err)
	s, err := Strings("a")
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, s)
}

func TestPyRepr(t *testing.T) {
	for in, want := range map[string]string{
		"boom":           `'boom'`,
		"it's":           `"it's"`,
		`it's "x"`:       `'it\'s "x"'`,
		"a\nb\\c\t\x01":  `'a\nb\\c\t\x01'`,
		"héllo \u00a0 ✓": `'héllo \xa0 ✓'`,
	} {
		assert.Equal(t, want, PyRepr(in), in)
	}
}

// Frames captured from a real Locust 2.12.1 master (testdata/README.md).
func TestDecodeRealMasterFrames(t *testing.T) {
	m, err := Decode(readFrame(t, "master_ack"))
	require.NoError(t, err)
	assert.Equal(t, TypeAck, m.Type)
	assert.Equal(t, "capture_0123456789abcdef0123456789abcdef", m.NodeID)
	m, err = Decode(readFrame(t, "master_quit"))
	require.NoError(t, err)
	assert.Equal(t, TypeQuit, m.Type)
	assert.Nil(t, m.Data)
	m, err = Decode(readFrame(t, "master_spawn"))
	require.NoError(t, err)
	d, ok := Map(m.Data)
	require.True(t, ok)
	assert.Equal(t, "http://127.0.0.1:9", d["host"])
	st, ok := Float(d["stop_timeout"])
	require.True(t, ok)
	assert.Equal(t, 2.0, st)
	po, ok := Map(d["parsed_options"])
	require.True(t, ok)
	tags, err := Strings(po["tags"])
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, tags)
	assert.Nil(t, po["exclude_tags"])
	counts, _ := Map(d["user_classes_count"])
	assert.Equal(t, map[string]any{"WebUser": int64(2)}, counts)
}
