// Package gotest shows load tests inside go test: gotest_test.go holds a
// short load run in a testing.T that fails when the service is too slow or
// fails, and a testing.B benchmark that reports p50, p99 and requests per
// second.
//
//	go test ./examples/gotest
//	go test -run '^$' -bench . -benchtime 2000x ./examples/gotest
package gotest
