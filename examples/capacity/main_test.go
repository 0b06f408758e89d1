package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example, built and run as a user would with no setup, finds its
// demo target's capacity: 8 at once in 20 ms each is 400 requests/s.
func TestFindsTheDemoCapacity(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "capacity")
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	jsonFile := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--capacity-settle", "500ms", "--capacity-hold", "1s", "--json-file", jsonFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	text := stdout.String() + stderr.String()
	// a capacity was found: exit 0, though the whole run's thresholds
	// fail once the search pushed past them (they are printed, not judged)
	require.NoError(t, err, text)
	assert.Less(t, time.Since(start), 60*time.Second)

	m := regexp.MustCompile(`Capacity: (\d+) users, ([0-9.]+) req/s`).FindStringSubmatch(text)
	require.NotNil(t, m, "a line names the capacity:\n%s", text)
	users, _ := strconv.Atoi(m[1])
	rps, _ := strconv.ParseFloat(m[2], 64)
	known := maxInFlight / serviceTime.Seconds()
	if regexp.MustCompile(`ran short of CPU`).MatchString(text) {
		t.Skipf("this machine ran short of CPU before the target's capacity (reported as such):\n%s", text)
	}
	assert.Equal(t, maxInFlight, users, text)
	assert.InEpsilon(t, known, rps, 0.10, "within 10%% of the known %g req/s\n%s", known, text)
	assert.Contains(t, text, "10 users broke")

	raw, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	var doc struct {
		Extra struct {
			Capacity struct {
				Capacity int `json:"capacity_step"`
				Steps    []struct {
					Users int     `json:"users"`
					RPS   float64 `json:"rps"`
				} `json:"steps"`
			} `json:"capacity"`
		} `json:"extra"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	c := doc.Extra.Capacity
	require.GreaterOrEqual(t, c.Capacity, 0, "%s", raw)
	require.Less(t, c.Capacity, len(c.Steps))
	assert.Equal(t, maxInFlight, c.Steps[c.Capacity].Users)
	assert.InDelta(t, rps, c.Steps[c.Capacity].RPS, 0.1)
}

// With --arrival-rate the example steps the rate, as the README shows, and
// finds the same capacity within 10%: from 300 iterations/s by 30, the
// step at 360 holds (the target's 8 slots are 90% busy) and the search
// ends by 420, where the target's queue grows and iterations are dropped.
func TestFindsTheDemoCapacityByArrivalRate(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "capacity")
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--arrival-rate", "300", "--max-users", "100",
		"--capacity-start", "300", "--capacity-step", "30", "--capacity-max", "600",
		"--capacity-settle", "500ms", "--capacity-hold", "1s")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	text := stdout.String() + stderr.String()
	require.NoError(t, err, text)
	if regexp.MustCompile(`ran short of CPU`).MatchString(text) {
		t.Skipf("this machine ran short of CPU before the target's capacity (reported as such):\n%s", text)
	}
	m := regexp.MustCompile(`Capacity: ([0-9.]+) iterations/s, ([0-9.]+) req/s`).FindStringSubmatch(text)
	require.NotNil(t, m, "a line names the capacity:\n%s", text)
	rate, _ := strconv.ParseFloat(m[1], 64)
	rps, _ := strconv.ParseFloat(m[2], 64)
	known := maxInFlight / serviceTime.Seconds()
	assert.InDelta(t, known, rate, known/10, "within 10%% of the known %g/s\n%s", known, text)
	assert.InEpsilon(t, rate, rps, 0.05, "the target served the rate that held\n%s", text)
	assert.Contains(t, text, "iterations dropped")
}
