//go:build !race

package locust_test

// raceDetector: see openmodel_race_test.go.
const raceDetector = false
