package threshold_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/threshold"
)

func TestParseGood(t *testing.T) {
	type T = threshold.Threshold
	cases := []struct {
		expr string
		want T
		str  string // canonical form
	}{
		{"p95 < 300ms", T{Metric: threshold.MetricPercentile, Percentile: 95, Op: threshold.Less, Value: 300}, "p95 < 300ms"},
		{"p99.9 < 1s", T{Metric: threshold.MetricPercentile, Percentile: 99.9, Op: threshold.Less, Value: 1000}, "p99.9 < 1s"},
		{"p50<=20ms", T{Metric: threshold.MetricPercentile, Percentile: 50, Op: threshold.LessEqual, Value: 20}, "p50 <= 20ms"},
		{"P(99) < 250", T{Metric: threshold.MetricPercentile, Percentile: 99, Op: threshold.Less, Value: 250}, "p99 < 250ms"},
		{"avg < 200ms", T{Metric: threshold.MetricAvg, Op: threshold.Less, Value: 200}, "avg < 200ms"},
		{"MEAN<0.2s", T{Metric: threshold.MetricAvg, Op: threshold.Less, Value: 200}, "avg < 200ms"},
		{"med < 100ms", T{Metric: threshold.MetricMed, Op: threshold.Less, Value: 100}, "med < 100ms"},
		{"min >= 500us", T{Metric: threshold.MetricMin, Op: threshold.GreaterEqual, Value: 0.5}, "min >= 500us"},
		{"min >= 500µs", T{Metric: threshold.MetricMin, Op: threshold.GreaterEqual, Value: 0.5}, "min >= 500us"},
		{"max < 2s", T{Metric: threshold.MetricMax, Op: threshold.Less, Value: 2000}, "max < 2s"},
		{"max < 1m30s", T{Metric: threshold.MetricMax, Op: threshold.Less, Value: 90000}, "max < 90s"},
		{"max < 1h", T{Metric: threshold.MetricMax, Op: threshold.Less, Value: 3600000}, "max < 1h"},
		{"max < 2500 ms", T{Metric: threshold.MetricMax, Op: threshold.Less, Value: 2500}, "max < 2.5s"},
		{"fail_ratio < 0.01", T{Metric: threshold.MetricFailRatio, Op: threshold.Less, Value: 0.01}, "fail_ratio < 1%"},
		{"fail_ratio < 1%", T{Metric: threshold.MetricFailRatio, Op: threshold.Less, Value: 0.01}, "fail_ratio < 1%"},
		{"Fail-Ratio<=0.5%", T{Metric: threshold.MetricFailRatio, Op: threshold.LessEqual, Value: 0.005}, "fail_ratio <= 0.5%"},
		{"failures == 0", T{Metric: threshold.MetricFailures, Op: threshold.Equal, Value: 0}, "failures == 0"},
		{"requests > 1000", T{Metric: threshold.MetricRequests, Op: threshold.Greater, Value: 1000}, "requests > 1000"},
		{"rps > 500", T{Metric: threshold.MetricRPS, Op: threshold.Greater, Value: 500}, "rps > 500"},
		{"rps > 500/s", T{Metric: threshold.MetricRPS, Op: threshold.Greater, Value: 500}, "rps > 500"},
		{"fail_per_sec != 1.5", T{Metric: threshold.MetricFailPerSec, Op: threshold.NotEqual, Value: 1.5}, "fail_per_sec != 1.5"},
		{"GET /home: p95 < 200ms", T{Type: "GET", Name: "/home", Metric: threshold.MetricPercentile, Percentile: 95, Op: threshold.Less, Value: 200}, "GET /home: p95 < 200ms"},
		{"/home: p95 < 200ms", T{Name: "/home", Metric: threshold.MetricPercentile, Percentile: 95, Op: threshold.Less, Value: 200}, "/home: p95 < 200ms"},
		{"  GET   /a:b:c :p95<1  ", T{Type: "GET", Name: "/a:b:c", Metric: threshold.MetricPercentile, Percentile: 95, Op: threshold.Less, Value: 1}, "GET /a:b:c: p95 < 1ms"},
		{"grpc login flow: avg < 1s", T{Type: "grpc", Name: "login flow", Metric: threshold.MetricAvg, Op: threshold.Less, Value: 1000}, "grpc login flow: avg < 1s"},
		{"Aggregated: rps > 10", T{Metric: threshold.MetricRPS, Op: threshold.Greater, Value: 10}, "rps > 10"},
		{"p100 <= 1e3", T{Metric: threshold.MetricPercentile, Percentile: 100, Op: threshold.LessEqual, Value: 1000}, "p100 <= 1s"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			got, err := threshold.Parse(c.expr)
			require.NoError(t, err)
			want := c.want
			want.Expr = got.Expr
			assert.Equal(t, want, got)
			assert.Equal(t, c.str, got.String())
			back, err := threshold.Parse(got.String())
			require.NoError(t, err)
			back.Expr = got.Expr
			assert.Equal(t, got, back)
		})
	}
}

func TestParseBad(t *testing.T) {
	cases := []struct{ expr, msg string }{
		{"p95 < abc", `threshold "p95 < abc": invalid value "abc"`},
		{"", `threshold "": empty expression`},
		{"p95", `threshold "p95": no comparison operator`},
		{"p95 = 1s", `threshold "p95 = 1s": invalid operator "="`},
		{"p95 =< 1s", `threshold "p95 =< 1s": invalid operator "="`},
		{"p95 <", `threshold "p95 <": missing value after "<"`},
		{"< 1s", `threshold "< 1s": missing metric before "<"`},
		{"p101 < 1s", `percentile "p101" out of range 0..100`},
		{"latency < 1s", `unknown metric "latency"`},
		{"p95 < -1s", `invalid value "-1s"`},
		{"p95 < 1 parsec", `invalid value "1 parsec"`},
		{"p95 < 1%", `invalid value "1%"`},
		{"fail_ratio < 1ms", `invalid value "1ms"`},
		{"requests > 1k", `invalid value "1k"`},
		{"requests > 1e999", `invalid value "1e999"`},
		{"p95 << 1s", `invalid value "< 1s"`},
		{": p95 < 1s", `missing entry name`},
		{"GET /home:", `missing condition`},
		{"GET /home: p95 < 1s garbage", `invalid value "1s garbage"`},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			_, err := threshold.Parse(c.expr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestParseAll(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 1s", "rps > 1"})
	require.NoError(t, err)
	require.Len(t, ts, 2)
	_, err = threshold.ParseAll([]string{"p95 < x", "rps > 1", "bogus"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `threshold "p95 < x"`)
	assert.Contains(t, err.Error(), `threshold "bogus"`)
}

func TestPercentiles(t *testing.T) {
	for expr, want := range map[string][]float64{
		"p99.5 < 1s":         {99.5},
		"GET /a: p95 < 1s":   {95},
		"med < 1s":           {50},
		"avg < 1s":           nil,
		"fail_ratio < 0.01%": nil,
	} {
		th, err := threshold.Parse(expr)
		require.NoError(t, err)
		assert.Equal(t, want, th.Percentiles(), expr)
	}
}
