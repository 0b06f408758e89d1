package demo_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/demo"
)

// MaxInFlight queues the requests beyond the limit: 6 requests at once of
// 100 ms each, 2 at a time, take 3 rounds.
func TestMaxInFlightQueues(t *testing.T) {
	s, err := demo.Start(demo.Options{Delay: 100 * time.Millisecond, MaxInFlight: 2})
	require.NoError(t, err)
	defer s.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 6}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	start := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			resp, err := c.Get(s.URL + "/")
			if assert.NoError(t, err) {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "three rounds of two")
	assert.Less(t, took, 3*time.Second)
	assert.EqualValues(t, 6, s.Requests())
}
