// Package gotest shows load tests inside go test with package locusttest:
// gotest_test.go holds a short load run in a testing.T that fails on
// thresholds (with the stats table in the test log), and a testing.B
// benchmark that reports p50, p95, p99 and requests per second, for
// benchstat.
//
//	go test ./examples/gotest
//	go test -short ./examples/gotest       # the load test runs 1 s
//	go test -run '^$' -bench . -count 10 ./examples/gotest | tee new.txt
//	benchstat old.txt new.txt
package gotest
