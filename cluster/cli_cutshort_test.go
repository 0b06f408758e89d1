package cluster_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/cluster"
	"github.com/golocust/locust/report"
)

// A Go master and a Go worker through the command line, stopped (-t) while
// every user waits in a request the target holds: the worker reports those
// requests as cut short, and the master's JSON has cut_short + requests
// equal to what the target received.
func TestMasterCountsWorkersCutShort(t *testing.T) {
	bin := program(t)
	tg := newTarget(t)
	port := freePort(t)
	const users = 4
	m := start(t, bin, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
		"--expect-workers", "1", "--headless", "-u", "4", "-r", "100", "-t", "3s", "-H", tg.srv.URL,
		"--json-file", "run.json", "Hold")
	m.WaitFor(t, "master listening", 1, 20*time.Second)
	w := start(t, bin, "--worker", "--master-port", port)
	res := m.Wait(t, 60*time.Second)
	wres := w.Wait(t, 30*time.Second)
	require.Equal(t, 0, res.Code, "master stderr:\n%s", res.Stderr)
	require.Equal(t, 0, wres.Code, "worker stderr:\n%s", wres.Stderr)

	doc, err := report.ReadDocumentFile(filepath.Join(m.Dir, "run.json"))
	require.NoError(t, err)
	quick, held := tg.get("/quick"), tg.get("/hold")
	t.Logf("target: /quick %d, /hold %d; master: requests %d, cut_short %d", quick, held, doc.Total.NumRequests, doc.CutShort)
	assert.EqualValues(t, users, held, "every user waits in /hold at the end")
	assert.EqualValues(t, users, doc.CutShort)
	assert.Equal(t, quick+held, doc.Total.NumRequests+doc.CutShort)
}

// The cut-short count is a delta, like the rest of a report, and a report
// put back carries it again.
func TestCollectorCutShortIsADelta(t *testing.T) {
	c := cluster.NewCollector(nil)
	c.AddCutShort(3)
	r := c.Take(nil)
	assert.EqualValues(t, 3, r.CutShort)
	assert.Zero(t, c.Take(nil).CutShort)
	c.Restore(r)
	c.AddCutShort(1)
	assert.EqualValues(t, 4, c.Take(nil).CutShort)
}
