package grpc_test

import (
	"context"
	"fmt"
	"net"

	ggrpc "google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	locust "github.com/golocust/locust"
	locustgrpc "github.com/golocust/locust/client/grpc"
)

// ExampleOpen checks a gRPC server's health through a connection made by
// Open: each call is recorded for the user (here a test user).
func ExampleOpen() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := ggrpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	tu := locust.NewTestUser(context.Background(), "grpc://"+ln.Addr().String())
	conn, err := locustgrpc.Open(tu.Context(), tu.User)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	resp, err := hc.Check(tu.Context(), &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus(), err)
	_, err = hc.Check(tu.Context(), &healthpb.HealthCheckRequest{Service: "missing"})
	fmt.Println(err)
	for _, r := range tu.Requests() {
		fmt.Println(r.Type, r.Name, r.Err)
	}
	// Output:
	// SERVING <nil>
	// NotFound: unknown service
	// grpc /grpc.health.v1.Health/Check <nil>
	// grpc /grpc.health.v1.Health/Check NotFound: unknown service
}
