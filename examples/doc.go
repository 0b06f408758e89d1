// Package examples holds runnable programs that show golocust at work,
// each a directory of its own:
//
//   - quickstart: a complete load test with its own demo target; no setup.
//   - website: the locustfile of "Load Testing with Locust", line by line.
//   - minimalclient: the shortest complete client of a protocol of your own.
//   - customclient: a client for a TCP protocol of your own (Locust's
//     custom-client pattern) and the server it tests.
//   - grpc, websocket: the gRPC and WebSocket clients, each with its own server.
//   - gotest: a load test inside go test and a benchmark (package locusttest).
//   - readme: the code of README.md, compiled and run.
//
// examples_test.go builds the programs and runs them as a user would.
package examples
