package shape_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/golocust/locust/shape"
)

// FuzzParseStages checks that ParseStages never panics, that what it
// accepts is valid (Validate) and reads back from its canonical form, and
// that its errors are one line.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"30s:10,2m:100,30s:0", "1s:1", " 1m : 5 , 0s:0 ", "", ",", "1s", "1s:-1",
		"1s:99999999999999999999", "-1s:3", "1.5s:2", "250ms:4,", "1h30m:1000", "1s:1:1", "NaN:1", "1s:0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := shape.ParseStages(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseStages(%q): error on more than one line: %q", s, err)
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("ParseStages(%q) = %v, which Validate refuses: %v", s, st, err)
		}
		parts := make([]string, len(st))
		for i, x := range st {
			if x.Duration < 0 || x.Target < 0 {
				t.Fatalf("ParseStages(%q) = %v: a negative stage", s, st)
			}
			parts[i] = x.Duration.String() + ":" + strconv.Itoa(x.Target)
		}
		canon := strings.Join(parts, ",")
		back, err := shape.ParseStages(canon)
		if err != nil || len(back) != len(st) {
			t.Fatalf("ParseStages(%q) = %v; ParseStages(%q) = %v, %v", s, st, canon, back, err)
		}
		for i := range st {
			if back[i] != st[i] {
				t.Fatalf("ParseStages(%q) = %v; ParseStages(%q) = %v", s, st, canon, back)
			}
		}
	})
}
