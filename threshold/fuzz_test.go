package threshold_test

import (
	"testing"

	"github.com/golocust/locust/threshold"
)

// FuzzParse checks that Parse never panics and that a parsed threshold
// round-trips through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"p95 < 300ms", "p99.9 < 1s", "p50<=20ms", "avg < 200ms", "med < 100ms",
		"min > 1us", "max < 2s", "fail_ratio < 0.01", "fail_ratio < 1%",
		"failures == 0", "requests > 1000", "rps > 500", "fail_per_sec != 0",
		"GET /home: p95 < 200ms", "/home: p95 < 200ms", "GET /a:b: max < 1m30s",
		"p(99) <= 1.5e3", "p95 < abc", ": p95 < 1s", "Aggregated: rps > 1",
		"max < 0.000001ns", "max < 1e300h", "fail_ratio != 1e-320%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := threshold.Parse(s)
		if err != nil {
			return
		}
		canon := th.String()
		back, err := threshold.Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v; its String %q does not parse: %v", s, th, canon, err)
		}
		back.Expr = th.Expr
		if back != th {
			t.Fatalf("Parse(%q) = %#v; Parse(%q) = %#v", s, th, canon, back)
		}
		if again := back.String(); again != canon {
			t.Fatalf("String not stable: %q then %q", canon, again)
		}
	})
}
