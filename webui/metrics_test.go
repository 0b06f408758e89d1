package webui_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
)

// scrape reads url's metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := httpc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// series returns the metric of fam with the labels type and name.
func series(fams map[string]*dto.MetricFamily, fam, typ, name string) *dto.Metric {
	f := fams[fam]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		l := map[string]string{}
		for _, lp := range m.Label {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["type"] == typ && l["name"] == name {
			return m
		}
	}
	return nil
}

func TestMetrics(t *testing.T) {
	u := startUI(t, []*locust.UserType{fastUser()})
	fams := scrape(t, u.url+"/metrics")
	assert.Equal(t, 0.0, fams["locust_test_running"].Metric[0].GetGauge().GetValue(), "before the first test")

	code, body := post(t, u.url+"/swarm", map[string][]string{"user_count": {"3"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, u.url, "failures", func(m map[string]any) bool { return m["user_count"] == 3.0 && len(m["errors"].([]any)) > 0 })
	fams = scrape(t, u.url+"/metrics")
	assert.Equal(t, 3.0, fams["locust_users"].Metric[0].GetGauge().GetValue())
	assert.Equal(t, 1.0, fams["locust_test_running"].Metric[0].GetGauge().GetValue())
	require.NotNil(t, series(fams, "locust_current_rps", "", "Aggregated"))
	// while the test runs, each scrape's histogram is read at that scrape:
	// its count keeps up with the requests (no stale copy)
	for range 3 {
		time.Sleep(400 * time.Millisecond)
		fams = scrape(t, u.url+"/metrics")
		reqs := series(fams, "locust_requests_total", "GET", "/ok").GetCounter().GetValue()
		count := series(fams, "locust_response_time_seconds", "GET", "/ok").GetHistogram().GetSampleCount()
		assert.InDelta(t, reqs, float64(count), 20, "histogram count against requests while running")
	}

	require.Eventually(t, func() bool {
		_, body, _ := get(t, u.url+"/exceptions")
		return strings.Contains(body, "user code broke")
	}, 10*time.Second, 20*time.Millisecond)
	_, _ = post(t, u.url+"/stop", nil, nil)
	m := waitFor(t, u.url, "stopped", func(m map[string]any) bool { return m["state"] == "stopped" })
	fams = scrape(t, u.url+"/metrics")
	for _, r := range m["stats"].([]any) {
		row := r.(map[string]any)
		if row["name"] == "Aggregated" {
			continue
		}
		reqs := series(fams, "locust_requests_total", "GET", row["name"].(string))
		require.NotNil(t, reqs, row["name"])
		assert.Equal(t, row["num_requests"], reqs.GetCounter().GetValue(), "requests of %s", row["name"])
		fails := series(fams, "locust_failures_total", "GET", row["name"].(string))
		assert.Equal(t, row["num_failures"], fails.GetCounter().GetValue(), "failures of %s", row["name"])
		h := series(fams, "locust_response_time_seconds", "GET", row["name"].(string)).GetHistogram()
		require.NotNil(t, h)
		assert.Equal(t, uint64(row["num_requests"].(float64)), h.GetSampleCount())
		want := 0.001 // /ok takes 1 ms
		if row["name"] == "/bad" {
			want = 0.002
		}
		assert.InDelta(t, want*float64(h.GetSampleCount()), h.GetSampleSum(), 1e-9*float64(h.GetSampleCount()))
		for _, b := range h.Bucket {
			switch {
			case b.GetUpperBound() >= 0.0025:
				assert.Equal(t, h.GetSampleCount(), b.GetCumulativeCount(), "every %s request is at most 2.5 ms", row["name"])
			case b.GetUpperBound() < 0.001:
				assert.Zero(t, b.GetCumulativeCount(), "no %s request under 1 ms", row["name"])
			}
		}
	}
	assert.Equal(t, 0.0, fams["locust_test_running"].Metric[0].GetGauge().GetValue())
	assert.Positive(t, fams["locust_exceptions_total"].Metric[0].GetCounter().GetValue())
}

// manyNames records a request on one of 30 names per task run.
func manyNames() *locust.UserType {
	return &locust.UserType{
		Name: "Many",
		Wait: locust.Constant(time.Millisecond),
		Tasks: locust.NewTaskSet("many").Task(1, func(_ context.Context, u *locust.User) error {
			for i := range 30 {
				u.RecordSuccess("GET", fmt.Sprintf("/n%02d", i), time.Millisecond, 1)
			}
			return nil
		}),
	}
}

func TestMetricsCapManyNames(t *testing.T) {
	u := startUI(t, []*locust.UserType{manyNames()}, "--metrics-max-names", "10")
	code, body := post(t, u.url+"/swarm", map[string][]string{"user_count": {"1"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, u.url, "30 names", func(m map[string]any) bool { return len(m["stats"].([]any)) == 31 })
	_, _ = post(t, u.url+"/stop", nil, nil)
	m := waitFor(t, u.url, "stopped", func(m map[string]any) bool { return m["state"] == "stopped" })
	fams := scrape(t, u.url+"/metrics")
	assert.Len(t, fams["locust_requests_total"].Metric, 11, "10 names and (other)")
	assert.Len(t, fams["locust_response_time_seconds"].Metric, 10)
	assert.Equal(t, 20.0, fams["locust_entries_over_limit"].Metric[0].GetGauge().GetValue())
	var total float64
	for _, mm := range fams["locust_requests_total"].Metric {
		total += mm.GetCounter().GetValue()
	}
	rows := m["stats"].([]any)
	assert.Equal(t, rows[len(rows)-1].(map[string]any)["num_requests"], total, "(other) carries the rest: no request lost")
	assert.NotNil(t, series(fams, "locust_requests_total", "", "(other)"))
	assert.Nil(t, series(fams, "locust_requests_total", "GET", "/n10"), "sorted by name: /n00../n09 keep their series")
	assert.Equal(t, 1, strings.Count(u.output(), "more request names than --metrics-max-names"), "warned once")
}

func TestMetricsAddrHeadless(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	u := startUI(t, []*locust.UserType{fastUser()}, "--headless", "-u", "2", "-r", "100", "-t", "3s", "--only-summary", "--metrics-addr", addr)
	assert.Empty(t, u.url, "no UI headless")
	var fams map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		resp, err := httpc.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		fams = scrape(t, "http://"+addr+"/metrics")
		return series(fams, "locust_requests_total", "GET", "/ok") != nil
	}, 10*time.Second, 50*time.Millisecond)
	assert.Positive(t, series(fams, "locust_requests_total", "GET", "/ok").GetCounter().GetValue())
	code, body, _ := get(t, "http://"+addr+"/")
	assert.Equal(t, http.StatusNotFound, code, "only /metrics there: %s", body)
	select {
	case code := <-u.code:
		u.code <- code
		assert.Equal(t, 1, code)
	case <-time.After(15 * time.Second):
		t.Fatal("the headless test did not end")
	}
	_, err = httpc.Get("http://" + addr + "/metrics")
	assert.Error(t, err, "the metrics server ends with the test")
}

// An aborted headless test (no Stop) still closes the metrics server.
func TestMetricsAddrClosedAfterAbort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	abort := &locust.UserType{Name: "Abort", Tasks: locust.NewTaskSet("abort").Task(1, func(_ context.Context, u *locust.User) error {
		time.Sleep(300 * time.Millisecond) // time for a scrape
		u.Runner().Abort(errors.New("no host"))
		return nil
	})}
	u := startUI(t, []*locust.UserType{abort}, "--headless", "--only-summary", "--metrics-addr", addr)
	require.Eventually(t, func() bool {
		resp, err := httpc.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, locust.ExitUsage, u.wait(t))
	require.Eventually(t, func() bool {
		_, err := httpc.Get("http://" + addr + "/metrics")
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "the metrics server ends with the command")
}
