package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode feeds arbitrary frames to Decode: it must return a message or an
// error, never panic, and a message it accepts must encode and decode again
// to the same type and node id. Seeds are the real frames in testdata (packed
// by Python's msgpack as Locust does) plus testdata/fuzz/FuzzDecode.
//
//	go test -run NONE -fuzz FuzzDecode -fuzztime 60s ./cluster/wire/
func FuzzDecode(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.msgpack"))
	require.NoError(f, err)
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(m)
		require.NoError(t, err)
		m2, err := Decode(out)
		require.NoError(t, err)
		require.Equal(t, m.Type, m2.Type)
		require.Equal(t, m.NodeID, m2.NodeID)
	})
}

// FuzzDecodeMatchesReference: Decode (value) gives exactly the message the
// msgpack/v5 decoder gave before it, for every frame both accept, and
// accepts the same frames.
//
//	go test -run NONE -fuzz FuzzDecodeMatchesReference -fuzztime 60s ./cluster/wire/
func FuzzDecodeMatchesReference(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.msgpack"))
	require.NoError(f, err)
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		want, werr := decodeReference(b)
		if werr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		// printed (fmt sorts map keys, shows types, and NaN equals NaN)
		require.Equal(t, fmt.Sprintf("%#v", want), fmt.Sprintf("%#v", m))
	})
}
