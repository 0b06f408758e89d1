package locust_test

import (
	"strings"
	"testing"

	locust "github.com/golocust/locust"
)

// FuzzParseTimespan checks that ParseTimespan never panics, never returns
// a negative span, gives a one-line error, and reads back the Go form of
// what it returns.
func FuzzParseTimespan(f *testing.F) {
	for _, s := range []string{"30s", "5m", "1h30m", "1h2m3s", "90", "1.5", "1.5s", "250ms", " 2m ", "",
		"-1s", "NaN", "Inf", "1e300", "9223372036s", "1h-30m", "0", "0.0000000001", "2562047h47m16.854775807s",
		"1m30.5s", "1µs", "+3s", "0x10", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := locust.ParseTimespan(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseTimespan(%q): error on more than one line: %q", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseTimespan(%q) = %v, negative", s, d)
		}
		back, err := locust.ParseTimespan(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseTimespan(%q) = %v; ParseTimespan(%q) = %v, %v", s, d, d.String(), back, err)
		}
	})
}
