package run_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without --headless, run.Main opens the web UI, waits for its form, and
// quits on Ctrl-C with the last test's exit code.
func TestMainOpensTheWebUI(t *testing.T) {
	p := start(t, "Fast", "-P", "0")
	p.WaitFor(t, "web UI: open http://127.0.0.1:", 1, 15*time.Second)
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(p.Stderr.String())
	assert.NotContains(t, p.Stderr.String(), "no web UI")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	stats := func() map[string]any {
		resp, err := hc.Get(base + "/stats/requests")
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return m
	}
	assert.Equal(t, "ready", stats()["state"])
	resp, err := hc.PostForm(base+"/swarm", url.Values{"user_count": {"2"}, "spawn_rate": {"100"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Eventually(t, func() bool {
		m := stats()
		rows, _ := m["stats"].([]any)
		return m["user_count"] == 2.0 && len(rows) == 2
	}, 10*time.Second, 50*time.Millisecond)
	resp, err = hc.Get(base + "/metrics")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `locust_requests_total{name="/fast",type="GET"}`)
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGINT))
	res := p.Wait(t, 15*time.Second)
	assert.Equal(t, 0, res.Code, res.Stderr)
	assert.True(t, strings.Contains(res.Stdout, "Aggregated"), "the test's summary")
}
