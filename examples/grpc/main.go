// Command grpc load tests a gRPC service with the interceptors of
// client/grpc: every call is a request of type "grpc" named by its full
// method, and a call that ends with a non-OK status is a failure with the
// status as its text. With no --host it starts a gRPC server (the
// standard health service) on 127.0.0.1 and load tests it.
//
//	go run ./examples/grpc -u 20 -r 10 -t 30s --headless
//
// With --host HOST:PORT (or grpc://HOST:PORT) it load tests that server's
// health service instead. Asking for the health of an unknown service
// fails on purpose (NotFound), so a run exits with 1.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	locust "github.com/golocust/locust"
	locustgrpc "github.com/golocust/locust/client/grpc"
	"github.com/golocust/locust/run"
)

// conns gives each user its own connection, made on its start and closed
// on its stop; every call on it is recorded for that user.
var conns = &locust.PerUser[*grpc.ClientConn]{Open: locustgrpc.Open}

func healthOf(u *locust.User) healthpb.HealthClient { return healthpb.NewHealthClient(conns.Get(u)) }

var healthUser = &locust.UserType{
	Name:    "HealthUser",
	Wait:    locust.Between(10*time.Millisecond, 50*time.Millisecond),
	OnStart: conns.OnStart,
	OnStop:  conns.OnStop,
	Tasks: locust.NewTaskSet("health").
		Task(10, checkServer).
		Task(5, checkShop).
		Task(1, checkMissing),
}

// checkServer asks for the server's overall health.
func checkServer(ctx context.Context, u *locust.User) error {
	_, err := healthOf(u).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// checkShop asks for the health of one service.
func checkShop(ctx context.Context, u *locust.User) error {
	_, err := healthOf(u).Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
	return err
}

// checkMissing asks for a service the server does not know: NotFound, a
// failure on purpose.
func checkMissing(ctx context.Context, u *locust.User) error {
	_, err := healthOf(u).Check(ctx, &healthpb.HealthCheckRequest{Service: "missing"})
	return err
}

// startServer serves the health service on 127.0.0.1 (a free port) until
// stop is called.
func startServer() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(ln)
	return ln.Addr().String(), srv.Stop, nil
}

// command is run.Command with one addition: with no --host, Prepare
// starts the server and targets it. stop stops that server.
func command() (cmd *locust.Command, stop func()) {
	stop = func() {}
	cmd = run.Command(healthUser)
	cmd.Name = "grpc"
	cmd.Prepare = func(ctx context.Context, cfg *locust.Config, types []*locust.UserType) ([]*locust.UserType, error) {
		if cfg.Host != "" {
			fmt.Fprintf(cmd.Stdout, "grpc: load testing %s (no local server started)\n", cfg.Host)
			return types, nil
		}
		addr, stopServer, err := startServer()
		if err != nil {
			return nil, err
		}
		stop = stopServer
		cfg.Host = "grpc://" + addr
		fmt.Fprintf(cmd.Stdout, "grpc: load testing %s, a gRPC server started by this program on 127.0.0.1\n", cfg.Host)
		return types, nil
	}
	return cmd, func() { stop() }
}

func main() {
	cmd, stop := command()
	cmd.Stdout = os.Stdout
	code := cmd.Run(context.Background(), os.Args[1:])
	stop()
	os.Exit(code)
}
