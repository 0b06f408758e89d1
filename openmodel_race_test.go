//go:build race

package locust_test

// raceDetector: the race detector slows every goroutine switch several
// times, so timing tests of the open model's pacing skip under it.
const raceDetector = true
