package client

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readBody reads a body of known length in one allocation, and still
// reads all of a body longer than announced or reports one cut short.
func TestReadBody(t *testing.T) {
	var br bytes.Reader
	resp := &http.Response{Body: io.NopCloser(&br), Request: &http.Request{Method: http.MethodGet}}
	read := func(body string, length int64) ([]byte, error) {
		br.Reset([]byte(body))
		resp.ContentLength = length
		return readBody(resp)
	}
	b, err := read("hello", 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	b, err = read("hello, world", 5)
	require.NoError(t, err)
	assert.Equal(t, "hello, world", string(b), "a body longer than announced is read in full")
	b, err = read("hel", 5)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, "hel", string(b), "the bytes that came")
	b, err = read("chunked", -1)
	require.NoError(t, err)
	assert.Equal(t, "chunked", string(b))

	if testing.Short() || raceEnabled {
		return
	}
	data := []byte("hello")
	resp.ContentLength = 5
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(data)
		if _, err := readBody(resp); err != nil {
			t.Fatal(err)
		}
	})
	assert.EqualValues(t, 1, allocs, "one allocation: the body")
}
