package webui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func statsRequests(t *testing.T, base string) map[string]any {
	t.Helper()
	code, body, _ := get(t, base+"/stats/requests")
	require.Equal(t, http.StatusOK, code, body)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m
}

// waitState polls /stats/requests until cond holds.
func waitFor(t *testing.T, base string, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := statsRequests(t, base)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %v", what, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEndpointsInLocustShapes(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()}, "-u", "7", "-r", "3", "-t", "5m", "-H", "http://127.0.0.1:7")
	require.NotEmpty(t, u.url)
	assert.NotContains(t, u.output(), "no web UI")
	assert.Contains(t, u.output(), "web UI: open "+u.url)

	m := statsRequests(t, u.url)
	assert.Equal(t, "ready", m["state"], "the test waits for the form")
	_, body, _ := get(t, u.url+"/config")
	assert.Contains(t, body, `"user_count":7`, "the form shows -u")
	assert.Contains(t, body, `"run_time":"5m0s"`)

	code, body := post(t, u.url+"/swarm", url.Values{"user_count": {"4"}, "spawn_rate": {"100"}, "run_time": {"2m"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	var sw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &sw))
	assert.Equal(t, map[string]any{"success": true, "message": "Swarming started", "host": "http://127.0.0.1:7"}, sw, "the host of -H, as the form left it empty")

	m = waitFor(t, u.url, "4 users and failures", func(m map[string]any) bool {
		errs, _ := m["errors"].([]any)
		return m["user_count"] == 4.0 && len(errs) > 0 && len(m["stats"].([]any)) == 3
	})
	// Locust 2.12.1's keys (observed), plus golocust's host, stop_reason, cut_short
	assert.Equal(t, []string{"current_response_time_percentile_50", "current_response_time_percentile_95", "cut_short", "errors", "fail_ratio",
		"host", "state", "stats", "stop_reason", "total_rps", "user_count"}, keys(m))
	assert.Equal(t, "running", m["state"])
	rows := m["stats"].([]any)
	row := rows[0].(map[string]any)
	assert.Equal(t, []string{"avg_content_length", "avg_response_time", "current_fail_per_sec", "current_rps", "max_response_time",
		"median_response_time", "method", "min_response_time", "name", "ninetieth_response_time", "ninety_ninth_response_time",
		"num_failures", "num_requests", "safe_name"}, keys(row))
	assert.Equal(t, "/bad", row["name"], "sorted by name")
	assert.Equal(t, "GET", row["method"])
	agg := rows[2].(map[string]any)
	assert.Equal(t, "Aggregated", agg["name"])
	assert.Nil(t, agg["method"], "Locust's Aggregated row has no method")
	assert.Equal(t, 2.0, row["avg_response_time"], "milliseconds")
	errRow := m["errors"].([]any)[0].(map[string]any)
	assert.Equal(t, []string{"error", "method", "name", "occurrences"}, keys(errRow))
	assert.Equal(t, "500 Internal Server Error", errRow["error"])

	// while running, /swarm changes the user count
	code, body = post(t, u.url+"/swarm", url.Values{"user_count": {"2"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, u.url, "2 users", func(m map[string]any) bool { return m["user_count"] == 2.0 })

	// bad input: a clear error, nothing changes
	for _, f := range []url.Values{{"user_count": {"x"}}, {"user_count": {"-1"}}, {"user_count": {"1"}, "spawn_rate": {"0"}},
		{"user_count": {"1"}, "host": {"not a url"}}, {"user_count": {"1"}, "run_time": {"soon"}}} {
		code, body = post(t, u.url+"/swarm", f, nil)
		assert.Equal(t, http.StatusBadRequest, code, "%v: %s", f, body)
		assert.Contains(t, body, `"success":false`)
	}
	code, _, _ = get(t, u.url+"/swarm")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "/swarm only by POST")

	_, body, hdr := get(t, u.url+"/stats/requests/csv")
	assert.True(t, strings.HasPrefix(body, "Type,Name,Request Count,Failure Count,Median Response Time,"), body)
	assert.Contains(t, hdr.Get("Content-Disposition"), "attachment")
	_, body, _ = get(t, u.url+"/stats/failures/csv")
	assert.True(t, strings.HasPrefix(body, "Method,Name,Error,Occurrences"), body)
	assert.Contains(t, body, "GET,/bad,500 Internal Server Error,")
	_, body, _ = get(t, u.url+"/exceptions/csv")
	assert.True(t, strings.HasPrefix(body, "Count,Message,Traceback,Nodes"), body)
	time.Sleep(500 * time.Millisecond) // a few history rows
	_, body, _ = get(t, u.url+"/stats/requests_full_history/csv")
	assert.True(t, strings.HasPrefix(body, "Timestamp,User Count,Type,Name,Requests/s,"), body)
	assert.GreaterOrEqual(t, strings.Count(body, "\n"), 2, body)
	code, body, _ = get(t, u.url+"/stats/report")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<html")
	assert.Contains(t, body, "/bad")
	code, body, _ = get(t, u.url+"/stats/report/json")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, json.Valid([]byte(body)), body)

	_, body, _ = get(t, u.url+"/exceptions")
	var ex map[string][]map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &ex), body)
	require.NotEmpty(t, ex["exceptions"])
	assert.Equal(t, []string{"count", "msg", "nodes", "traceback"}, keys(ex["exceptions"][0]))
	assert.Contains(t, ex["exceptions"][0]["msg"], "user code broke")

	var hist struct {
		Names  []map[string]string `json:"names"`
		Points []map[string]any    `json:"points"`
	}
	_, body, _ = get(t, u.url+"/stats/history")
	require.NoError(t, json.Unmarshal([]byte(body), &hist), body)
	assert.NotEmpty(t, hist.Points)
	assert.Len(t, hist.Names, 2)

	code, body, _ = get(t, u.url+"/stats/reset")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "GET changes nothing")
	assert.Contains(t, body, "send it as POST")
	code, body = post(t, u.url+"/stats/reset", nil, nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body)

	code, _, _ = get(t, u.url+"/stop")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Equal(t, "running", statsRequests(t, u.url)["state"], "a GET /stop stopped nothing")
	code, body = post(t, u.url+"/stop", nil, nil)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"success": true, "message": "Test stopped"}`, body)
	waitFor(t, u.url, "stopped", func(m map[string]any) bool { return m["state"] == "stopped" })

	// a new test: a new runner, from the same form
	code, body = post(t, u.url+"/swarm", url.Values{"user_count": {"1"}, "spawn_rate": {"10"}, "host": {"http://127.0.0.1:9"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"host":"http://127.0.0.1:9"`)
	waitFor(t, u.url, "the new test", func(m map[string]any) bool { return m["state"] == "running" && m["user_count"] == 1.0 })
	assert.Contains(t, []int{0, 1}, u.quit(t), "cancelled: the last test's summary and exit code")
	assert.Contains(t, u.output(), "Aggregated", "each test ends with its summary")
}
