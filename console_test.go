package locust_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/golocust/locust"
)

func consoleSnapshot() *locust.Snapshot {
	s := locust.NewStats(locust.StatsOptions{})
	rc := s.Recorder()
	for i := range 10 {
		rc.Record(locust.Request{Type: "GET", Name: "/", Duration: time.Duration(i+1) * time.Millisecond, Length: 100})
	}
	rc.Record(locust.Request{Type: "POST", Name: "/login", Duration: 250 * time.Millisecond, Err: errors.New("401 Unauthorized")})
	s.RecordException("panic in task x: boom", "stack", "")
	return s.Snapshot()
}

func TestPrintStatsHasLocustColumns(t *testing.T) {
	var b strings.Builder
	locust.PrintStats(&b, consoleSnapshot(), false)
	out := b.String()
	lines := strings.Split(out, "\n")
	assert.Regexp(t, regexp.MustCompile(`^Type\s+Name\s+# reqs\s+# fails\s+\|\s+Avg\s+Min\s+Max\s+Med\s+\|\s+req/s\s+failures/s$`), lines[0])
	assert.Regexp(t, `(?m)^GET\s+/\s+10\s+0\(0\.00%\)\s+\|\s+5\.50\s+1\.00\s+10\.0\s+5\.00\s+\|`, out)
	assert.Regexp(t, `(?m)^POST\s+/login\s+1\s+1\(100\.00%\)\s+\|\s+250\s+250\s+250\s+250\s+\|`, out)
	assert.Regexp(t, `(?m)^\s+Aggregated\s+11\s+1\(9\.09%\)`, out)
	// the aggregate comes last, after a separator
	agg := strings.Index(out, "Aggregated")
	assert.Greater(t, agg, strings.Index(out, "/login"))

	b.Reset()
	locust.PrintStats(&b, consoleSnapshot(), true)
	assert.Contains(t, b.String(), "Aggregated")
}

func TestPrintPercentilesAndErrors(t *testing.T) {
	var b strings.Builder
	snap := consoleSnapshot()
	locust.PrintPercentiles(&b, snap)
	out := b.String()
	assert.True(t, strings.HasPrefix(out, "Response time percentiles"))
	assert.Regexp(t, `Type\s+Name\s+50%\s+66%\s+75%\s+80%\s+90%\s+95%\s+98%\s+99%\s+99\.9%\s+99\.99%\s+100%\s+# reqs`, out)
	// 1..10 ms: HDR values are exact to 3 significant digits (9 ms may read 9.01)
	assert.Regexp(t, `(?m)^GET\s+/\s+5\.00\s+7\.00\s+8\.00\s+8\.00\s+9\.0[01]\s+10\.0\s+10\.0\s+10\.0\s+10\.0\s+10\.0\s+10\.0\s+10$`, out)
	assert.Regexp(t, `(?m)^POST\s+/login(\s+250){11}\s+1$`, out)
	assert.Contains(t, out, "Aggregated")

	b.Reset()
	locust.PrintErrors(&b, snap)
	out = b.String()
	assert.Contains(t, out, "Error report")
	assert.Regexp(t, `(?m)^1\s+POST /login: 401 Unauthorized$`, out)
	assert.Contains(t, out, "Exceptions in user code")
	assert.Regexp(t, `(?m)^1\s+panic in task x: boom$`, out)

	b.Reset()
	locust.PrintErrors(&b, locust.NewStats(locust.StatsOptions{}).Snapshot())
	assert.Empty(t, b.String(), "nothing to report")
}
