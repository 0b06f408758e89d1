package grpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	ggrpc "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	locust "github.com/golocust/locust"
	locustgrpc "github.com/golocust/locust/client/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The echo service, written by hand (no generated code):
//
//	Say(StringValue) StringValue             "fail" fails with InvalidArgument, "hang" waits for the end
//	Repeat(StringValue "N:text") stream      N messages, then "fail" fails the stream
//	Collect(stream StringValue) StringValue  the messages joined by ","
const (
	sayMethod     = "/test.Echo/Say"
	repeatMethod  = "/test.Echo/Repeat"
	collectMethod = "/test.Echo/Collect"
)

var echoDesc = ggrpc.ServiceDesc{
	ServiceName: "test.Echo",
	HandlerType: (*any)(nil),
	Methods: []ggrpc.MethodDesc{{MethodName: "Say", Handler: func(_ any, ctx context.Context, dec func(any) error, _ ggrpc.UnaryServerInterceptor) (any, error) {
		in := &wrapperspb.StringValue{}
		if err := dec(in); err != nil {
			return nil, err
		}
		switch in.Value {
		case "fail":
			return nil, status.Error(codes.InvalidArgument, "fail on purpose")
		case "hang":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return wrapperspb.String("echo " + in.Value), nil
	}}},
	Streams: []ggrpc.StreamDesc{
		{StreamName: "Repeat", ServerStreams: true, Handler: func(_ any, st ggrpc.ServerStream) error {
			in := &wrapperspb.StringValue{}
			if err := st.RecvMsg(in); err != nil {
				return err
			}
			ns, text, _ := strings.Cut(in.Value, ":")
			n, _ := strconv.Atoi(ns)
			for range n {
				if err := st.SendMsg(wrapperspb.String(text)); err != nil {
					return err
				}
			}
			if text == "fail" {
				return status.Error(codes.Aborted, "stream failed on purpose")
			}
			return nil
		}},
		{StreamName: "Collect", ClientStreams: true, Handler: func(_ any, st ggrpc.ServerStream) error {
			var parts []string
			for {
				in := &wrapperspb.StringValue{}
				err := st.RecvMsg(in)
				if err == io.EOF {
					return st.SendMsg(wrapperspb.String(strings.Join(parts, ",")))
				}
				if err != nil {
					return err
				}
				parts = append(parts, in.Value)
			}
		}},
	},
}

// startServer serves the echo service and the health service on 127.0.0.1.
func startServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := ggrpc.NewServer()
	srv.RegisterService(&echoDesc, struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func say(ctx context.Context, cc *ggrpc.ClientConn, text string) (string, error) {
	out := &wrapperspb.StringValue{}
	err := cc.Invoke(ctx, sayMethod, wrapperspb.String(text), out)
	return out.GetValue(), err
}

func openFor(t *testing.T, tu *locust.TestUser) *ggrpc.ClientConn {
	cc, err := locustgrpc.Open(tu.Context(), tu.User)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestUnaryCallsAreRecorded(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), "grpc://"+addr)
	cc := openFor(t, tu)

	reply, err := say(tu.Context(), cc, "hi")
	require.NoError(t, err)
	assert.Equal(t, "echo hi", reply)

	_, err = say(tu.Context(), cc, "fail")
	require.Error(t, err)
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "the status is kept")
	assert.True(t, locust.IsRecorded(err))
	assert.EqualError(t, err, "InvalidArgument: fail on purpose")

	h, err := healthpb.NewHealthClient(cc).Check(tu.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, h.Status)
	_, err = healthpb.NewHealthClient(cc).Check(tu.Context(), &healthpb.HealthCheckRequest{Service: "nope"})
	assert.Equal(t, codes.NotFound, status.Code(err))

	reqs := tu.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, locust.Request{Type: "grpc", Name: sayMethod, Length: int64(proto.Size(wrapperspb.String("echo hi")))},
		locust.Request{Type: reqs[0].Type, Name: reqs[0].Name, Length: reqs[0].Length})
	assert.NoError(t, reqs[0].Err)
	assert.Positive(t, reqs[0].Duration)
	assert.EqualError(t, reqs[1].Err, "InvalidArgument: fail on purpose")
	assert.Equal(t, "/grpc.health.v1.Health/Check", reqs[2].Name)
	assert.Equal(t, int64(proto.Size(h)), reqs[2].Length)
	assert.EqualError(t, reqs[3].Err, "NotFound: unknown service")
}

func TestUnaryCallCutShortByTheStop(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	time.AfterFunc(50*time.Millisecond, tu.Stop)
	_, err := say(tu.Context(), cc, "hang")
	assert.Equal(t, codes.Canceled, status.Code(err))
	assert.Empty(t, tu.Requests())
	assert.Equal(t, int64(1), tu.CutShort())
}

func TestUnaryTimeoutIsAFailure(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	ctx, cancel := context.WithTimeout(tu.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := say(ctx, cc, "hang")
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	reqs := tu.Requests()
	require.Len(t, reqs, 1)
	assert.ErrorContains(t, reqs[0].Err, "DeadlineExceeded")
	assert.Zero(t, tu.CutShort())
}

func TestConnectionRefusedIsAFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	_, err = say(tu.Context(), cc, "hi")
	assert.Equal(t, codes.Unavailable, status.Code(err))
	reqs := tu.Requests()
	require.Len(t, reqs, 1)
	assert.ErrorContains(t, reqs[0].Err, "Unavailable: ")
}

func repeat(ctx context.Context, cc *ggrpc.ClientConn, n int, text string) ([]string, error) {
	st, err := cc.NewStream(ctx, &ggrpc.StreamDesc{ServerStreams: true}, repeatMethod)
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(wrapperspb.String(strconv.Itoa(n) + ":" + text)); err != nil {
		return nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		m := &wrapperspb.StringValue{}
		err := st.RecvMsg(m)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.Value)
	}
}

func TestServerStreamPerStream(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)

	got, err := repeat(tu.Context(), cc, 3, "abc")
	require.NoError(t, err)
	assert.Equal(t, []string{"abc", "abc", "abc"}, got)
	_, err = repeat(tu.Context(), cc, 2, "fail")
	assert.Equal(t, codes.Aborted, status.Code(err))
	assert.True(t, locust.IsRecorded(err))

	reqs := tu.Requests()
	require.Len(t, reqs, 2, "one request per stream")
	assert.Equal(t, repeatMethod, reqs[0].Name)
	assert.Equal(t, 3*int64(proto.Size(wrapperspb.String("abc"))), reqs[0].Length, "every message received")
	assert.NoError(t, reqs[0].Err)
	assert.EqualError(t, reqs[1].Err, "Aborted: stream failed on purpose")
}

func TestServerStreamPerMessage(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc2, err := ggrpc.NewClient(addr, ggrpc.WithTransportCredentials(insecure.NewCredentials()),
		ggrpc.WithChainStreamInterceptor(locustgrpc.StreamInterceptor(locustgrpc.PerMessage(), locustgrpc.ForUser(tu.User))))
	require.NoError(t, err)
	defer cc2.Close()

	_, err = repeat(tu.Context(), cc2, 4, "xy")
	require.NoError(t, err)
	_, err = repeat(tu.Context(), cc2, 2, "fail")
	require.Error(t, err)
	reqs := tu.Requests()
	require.Len(t, reqs, 4+2+1, "one request per message, one for the failed end")
	for _, r := range reqs[:6] {
		assert.NoError(t, r.Err)
		assert.Equal(t, repeatMethod, r.Name)
	}
	assert.Equal(t, int64(proto.Size(wrapperspb.String("xy"))), reqs[0].Length)
	assert.EqualError(t, reqs[6].Err, "Aborted: stream failed on purpose")
}

func TestClientStream(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	st, err := cc.NewStream(tu.Context(), &ggrpc.StreamDesc{ClientStreams: true}, collectMethod)
	require.NoError(t, err)
	for _, p := range []string{"a", "b", "c"} {
		require.NoError(t, st.SendMsg(wrapperspb.String(p)))
	}
	require.NoError(t, st.CloseSend())
	out := &wrapperspb.StringValue{}
	require.NoError(t, st.RecvMsg(out)) // what CloseAndRecv does
	assert.Equal(t, "a,b,c", out.Value)
	reqs := tu.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, collectMethod, reqs[0].Name)
	assert.Equal(t, int64(proto.Size(out)), reqs[0].Length)
}

func TestSharedConnectionWithUserInContext(t *testing.T) {
	addr := startServer(t)
	cc, err := ggrpc.NewClient(addr, append(locustgrpc.DialOptions(), ggrpc.WithTransportCredentials(insecure.NewCredentials()))...)
	require.NoError(t, err)
	defer cc.Close()

	a := locust.NewTestUser(t.Context(), addr)
	b := locust.NewTestUser(t.Context(), addr)
	_, err = say(locustgrpc.WithUser(a.Context(), a.User), cc, "1")
	require.NoError(t, err)
	_, err = say(locustgrpc.WithUser(b.Context(), b.User), cc, "2")
	require.NoError(t, err)
	assert.Len(t, a.Requests(), 1)
	assert.Len(t, b.Requests(), 1)

	_, err = say(t.Context(), cc, "3")
	require.Error(t, err, "no user: a clear error, not a lost request")
	assert.ErrorContains(t, err, "no user to record /test.Echo/Say for")
}

func TestOpenRejectsABadHost(t *testing.T) {
	for _, host := range []string{"", "grpc://", "grpc://h:1/path"} {
		tu := locust.NewTestUser(t.Context(), host)
		_, err := locustgrpc.Open(tu.Context(), tu.User)
		assert.Error(t, err, host)
	}
}

// TestUnderLoad runs users with one connection each (locust.PerUser) for a
// fixed number of calls.
func TestUnderLoad(t *testing.T) {
	addr := startServer(t)
	conns := &locust.PerUser[*ggrpc.ClientConn]{Open: locustgrpc.Open}
	typ := &locust.UserType{
		Name:    "GRPC",
		OnStart: conns.OnStart,
		OnStop:  conns.OnStop,
		Tasks: locust.NewTaskSet("g").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := say(ctx, conns.Get(u), "x")
			return err
		}),
	}
	r, err := locust.NewRunner(locust.Config{Host: addr, Users: 4, Iterations: 200, Logger: slog.New(slog.DiscardHandler)}, typ)
	require.NoError(t, err)
	require.NoError(t, r.Run(t.Context()))
	s := r.Snapshot()
	e, ok := s.Entry("grpc", sayMethod)
	require.True(t, ok)
	assert.Equal(t, int64(200), e.Requests)
	assert.Zero(t, e.Failures)
	assert.Empty(t, s.Exceptions)
}

func TestStreamThatCannotOpenIsAFailure(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	// an inner interceptor stands for a stream that takes 30 ms to fail
	slowFail := func(ctx context.Context, desc *ggrpc.StreamDesc, cc *ggrpc.ClientConn, method string, streamer ggrpc.Streamer, opts ...ggrpc.CallOption) (ggrpc.ClientStream, error) {
		time.Sleep(30 * time.Millisecond)
		return nil, status.Error(codes.Unavailable, "no stream today")
	}
	cc, err := ggrpc.NewClient(addr, append(locustgrpc.DialOptions(locustgrpc.ForUser(tu.User)),
		ggrpc.WithTransportCredentials(insecure.NewCredentials()), ggrpc.WithChainStreamInterceptor(slowFail))...)
	require.NoError(t, err)
	defer cc.Close()

	_, err = repeat(tu.Context(), cc, 1, "x")
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.True(t, locust.IsRecorded(err))
	reqs := tu.Requests()
	require.Len(t, reqs, 1, "recorded once")
	assert.Equal(t, repeatMethod, reqs[0].Name)
	assert.EqualError(t, reqs[0].Err, "Unavailable: no stream today")
	assert.GreaterOrEqual(t, reqs[0].Duration, 30*time.Millisecond, "timed from the call, not from the error")
}

func TestStreamCutShortByTheStop(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	st, err := cc.NewStream(tu.Context(), &ggrpc.StreamDesc{ServerStreams: true, ClientStreams: true}, collectMethod)
	require.NoError(t, err)
	time.AfterFunc(50*time.Millisecond, tu.Stop)
	err = st.RecvMsg(&wrapperspb.StringValue{}) // Collect answers only after CloseSend
	assert.Equal(t, codes.Canceled, status.Code(err))
	assert.Empty(t, tu.Requests())
	assert.Equal(t, int64(1), tu.CutShort())
}

// A stream the caller leaves before its end, cancelling its context as
// gRPC asks, is one failed request, never lost: per stream and per message.
func TestAbandonedStreamIsRecorded(t *testing.T) {
	addr := startServer(t)
	for _, perMessage := range []bool{false, true} {
		tu := locust.NewTestUser(t.Context(), addr)
		opts := []locustgrpc.Option{locustgrpc.ForUser(tu.User)}
		if perMessage {
			opts = append(opts, locustgrpc.PerMessage())
		}
		cc, err := ggrpc.NewClient(addr, ggrpc.WithTransportCredentials(insecure.NewCredentials()),
			ggrpc.WithChainStreamInterceptor(locustgrpc.StreamInterceptor(opts...)))
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(tu.Context())
		st, err := cc.NewStream(ctx, &ggrpc.StreamDesc{ServerStreams: true}, repeatMethod)
		require.NoError(t, err)
		require.NoError(t, st.SendMsg(wrapperspb.String("5:ab")))
		require.NoError(t, st.CloseSend())
		require.NoError(t, st.RecvMsg(&wrapperspb.StringValue{})) // one of five, then the caller leaves
		cancel()

		want := 1
		if perMessage {
			want = 2 // the message received, and the abandoned rest
		}
		require.Eventually(t, func() bool { return len(tu.Requests()) == want }, 5*time.Second, 5*time.Millisecond,
			"perMessage=%v: %+v", perMessage, tu.Requests())
		last := tu.Requests()[want-1]
		assert.EqualError(t, last.Err, "Canceled: context canceled", "perMessage=%v", perMessage)
		assert.Equal(t, repeatMethod, last.Name)
		assert.Zero(t, tu.CutShort())
		require.NoError(t, cc.Close())
	}
}

// A stream read to its end is recorded once, and its context ending later
// adds nothing.
func TestFinishedStreamIsRecordedOnce(t *testing.T) {
	addr := startServer(t)
	tu := locust.NewTestUser(t.Context(), addr)
	cc := openFor(t, tu)
	ctx, cancel := context.WithCancel(tu.Context())
	_, err := repeat(ctx, cc, 2, "ok")
	require.NoError(t, err)
	cancel()
	time.Sleep(20 * time.Millisecond)
	reqs := tu.Requests()
	require.Len(t, reqs, 1)
	assert.NoError(t, reqs[0].Err)
}
