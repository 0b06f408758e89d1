// Package grpc reports gRPC calls made with google.golang.org/grpc to a
// golocust test: client interceptors time each call and record it as a
// request of type "grpc" named by its full method
// ("/grpc.health.v1.Health/Check"), with the response size (the protobuf
// size of the messages received) and, for a call that ends with a non-OK
// status, a failure whose text is the status ("NotFound: unknown
// service").
//
// Import it under another name, as its name is gRPC's own:
//
//	import locustgrpc "github.com/golocust/locust/client/grpc"
//
// The quickest way is one connection per user, made on its start and
// closed on its stop, with Open and locust.PerUser:
//
//	var conns = &locust.PerUser[*grpc.ClientConn]{Open: locustgrpc.Open}
//
//	func check(ctx context.Context, u *locust.User) error {
//		_, err := healthpb.NewHealthClient(conns.Get(u)).Check(ctx, &healthpb.HealthCheckRequest{})
//		return err
//	}
//
// To share one connection between users instead, dial it with
// DialOptions() and give each call its user with WithUser(ctx, u).
//
// # Streams
//
// A stream is reported per stream by default: one request from the opening
// of the stream to its end, as the caller sees it (RecvMsg returning
// io.EOF or an error, or the response of a client stream), whose length
// is the size of every message received. With PerMessage, every message
// received is one request, timed from the later of the opening of the
// stream, the last message sent and the previous message received, and an
// error that ends the stream is one more (failed) request. A stream the
// caller abandons before seeing its end (gRPC asks that its context be
// cancelled then) is recorded when its context ends: as a failed request
// ("Canceled: context canceled", the text gRPC gives a call cancelled
// while it waits), timed from its opening (per message: from its last
// message), or cut short when the user's stop ended it.
//
// Every call that fails because the user was stopped (locust.User.StoppedBy)
// is counted as cut short, as by every golocust client. The errors returned
// keep their gRPC status (status.Code works on them) and say they were
// recorded (locust.IsRecorded), so a task can return them.
package grpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	ggrpc "google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	locust "github.com/golocust/locust"
)

// Type is the request type of every gRPC call in the statistics.
const Type = "grpc"

// Option changes how the interceptors record.
type Option func(*config)

type config struct {
	user       *locust.User
	perMessage bool
}

// ForUser records every call for u (a connection of that user alone), so
// that calls need no WithUser.
func ForUser(u *locust.User) Option { return func(c *config) { c.user = u } }

// PerMessage reports each message received on a stream as a request,
// instead of the whole stream (see the package doc).
func PerMessage() Option { return func(c *config) { c.perMessage = true } }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

type userKey struct{}

// WithUser returns a context that makes the interceptors record the calls
// made with it for u. It takes precedence over ForUser.
func WithUser(ctx context.Context, u *locust.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// userOf is the user a call records for.
func (c *config) userOf(ctx context.Context, method string) (*locust.User, error) {
	if u, _ := ctx.Value(userKey{}).(*locust.User); u != nil {
		return u, nil
	}
	if c.user != nil {
		return c.user, nil
	}
	return nil, fmt.Errorf("locust grpc: no user to record %s for: dial with ForUser(u) (or Open), or call with WithUser(ctx, u)", method)
}

// Error is the error of a failed call: it keeps the call's gRPC status
// (GRPCStatus, so status.Code and status.FromError work on it) and says it
// was recorded (locust.IsRecorded).
type Error struct {
	// Method is the call's full method.
	Method string
	// Status is the call's status.
	Status *status.Status
}

// Error returns the failure text used in the statistics: the status code
// and message ("Unavailable: connection refused").
func (e *Error) Error() string {
	if m := e.Status.Message(); m != "" {
		return e.Status.Code().String() + ": " + m
	}
	return e.Status.Code().String()
}

// GRPCStatus returns the call's status.
func (e *Error) GRPCStatus() *status.Status { return e.Status }

// RequestRecorded reports that the failure is already in the statistics.
func (e *Error) RequestRecorded() bool { return true }

// callError turns an error of a call into an *Error.
func callError(method string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Method: method, Status: status.Convert(err)}
}

func size(m any) int64 {
	if pm, ok := m.(proto.Message); ok {
		return int64(proto.Size(pm))
	}
	return 0
}

// UnaryInterceptor returns a unary client interceptor that records every
// call. It is safe for concurrent use.
func UnaryInterceptor(opts ...Option) ggrpc.UnaryClientInterceptor {
	c := newConfig(opts)
	return func(ctx context.Context, method string, req, reply any, cc *ggrpc.ClientConn, invoker ggrpc.UnaryInvoker, callOpts ...ggrpc.CallOption) error {
		u, err := c.userOf(ctx, method)
		if err != nil {
			return err
		}
		_, err = locust.Timed(ctx, u, Type, method, func(ctx context.Context) (struct{}, int64, error) {
			if err := invoker(ctx, method, req, reply, cc, callOpts...); err != nil {
				return struct{}{}, 0, callError(method, err)
			}
			return struct{}{}, size(reply), nil
		})
		return err
	}
}

// StreamInterceptor returns a stream client interceptor that records every
// stream, per stream or per message (PerMessage). It is safe for
// concurrent use; each stream it returns is used as gRPC allows (one
// goroutine sending and one receiving).
func StreamInterceptor(opts ...Option) ggrpc.StreamClientInterceptor {
	c := newConfig(opts)
	return func(ctx context.Context, desc *ggrpc.StreamDesc, cc *ggrpc.ClientConn, method string, streamer ggrpc.Streamer, callOpts ...ggrpc.CallOption) (ggrpc.ClientStream, error) {
		u, err := c.userOf(ctx, method)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		cs, err := streamer(ctx, desc, cc, method, callOpts...)
		if err != nil {
			return nil, record(ctx, u, method, start, time.Now(), 0, callError(method, err))
		}
		s := &stream{ClientStream: cs, ctx: ctx, u: u, method: method, perMessage: c.perMessage,
			serverStreams: desc.ServerStreams, start: start, last: start}
		s.unwatch = context.AfterFunc(ctx, s.abandoned)
		return s, nil
	}
}

// DialOptions returns the dial options that install both interceptors.
func DialOptions(opts ...Option) []ggrpc.DialOption {
	return []ggrpc.DialOption{
		ggrpc.WithChainUnaryInterceptor(UnaryInterceptor(opts...)),
		ggrpc.WithChainStreamInterceptor(StreamInterceptor(opts...)),
	}
}

// Open returns a new connection of u to u.Host() that records every call
// for u: its signature is that of locust.PerUser's Open. The host is
// host:port, or grpc://host:port; the connection is in plain text (no
// TLS) and connects on its first call. For TLS or other options, call
// NewClient.
func Open(ctx context.Context, u *locust.User) (*ggrpc.ClientConn, error) {
	return NewClient(u, u.Host(), ggrpc.WithTransportCredentials(insecure.NewCredentials()))
}

// NewClient returns a connection to target (host:port, grpc://host:port,
// or any gRPC target such as dns:///host:port) whose calls are recorded
// for u; dialOpts are added to the interceptors (give it credentials).
func NewClient(u *locust.User, target string, dialOpts ...ggrpc.DialOption) (*ggrpc.ClientConn, error) {
	if target == "" {
		return nil, errors.New("locust grpc: no host: set --host/-H (host:port) or UserType.Host")
	}
	if rest, ok := strings.CutPrefix(target, "grpc://"); ok {
		p, err := url.Parse(target)
		if err != nil || p.Host == "" || strings.Trim(p.Path, "/") != "" {
			return nil, fmt.Errorf("locust grpc: host %q is not grpc://HOST:PORT", target)
		}
		target = rest
	}
	return ggrpc.NewClient(target, append(DialOptions(ForUser(u)), dialOpts...)...)
}

// stream records a client stream.
type stream struct {
	ggrpc.ClientStream
	ctx           context.Context
	u             *locust.User
	method        string
	perMessage    bool
	serverStreams bool

	unwatch func() bool // stops the watch on ctx for an abandoned stream

	mu     sync.Mutex
	start  time.Time
	last   time.Time // per message: start of the next message's time
	length int64
	done   bool
}

// abandoned records a stream whose context ended before the caller saw its
// end (called by context.AfterFunc).
func (s *stream) abandoned() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	from := s.start
	if s.perMessage {
		from = s.last
	}
	_ = s.record(from, now, s.length, callError(s.method, status.FromContextError(s.ctx.Err()).Err()))
}

// finish marks the stream's end as seen; s.mu is held.
func (s *stream) finish() {
	s.done = true
	s.unwatch()
}

func (s *stream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err == nil && s.perMessage {
		s.mu.Lock()
		s.last = time.Now()
		s.mu.Unlock()
	}
	return err // io.EOF: the error comes from RecvMsg, which records it
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return err
	}
	switch {
	case err == nil && s.perMessage:
		s.record(s.last, now, size(m), nil)
		s.last = now
		if !s.serverStreams {
			s.finish()
		}
	case err == nil:
		s.length += size(m)
		if !s.serverStreams { // a client stream ends with its one response
			s.finish()
			s.record(s.start, now, s.length, nil)
		}
	case err == io.EOF:
		s.finish()
		if !s.perMessage {
			s.record(s.start, now, s.length, nil)
		}
	default:
		s.finish()
		from := s.start
		if s.perMessage {
			from = s.last
		}
		err = s.record(from, now, s.length, callError(s.method, err))
	}
	return err
}

// record records one request of the stream; s.mu is held.
func (s *stream) record(from, now time.Time, length int64, err error) error {
	return record(s.ctx, s.u, s.method, from, now, length, err)
}

// record records one call (or message) from from to now for u, with the
// stop rule of locust.Timed, and returns err marked as recorded.
func record(ctx context.Context, u *locust.User, method string, from, now time.Time, length int64, err error) error {
	if err != nil && u.StoppedBy(ctx) {
		u.RecordCutShort()
		return locust.MarkRecorded(err)
	}
	u.Record(locust.Request{Type: Type, Name: method, Start: from, Duration: now.Sub(from), Length: length, Err: err})
	return locust.MarkRecorded(err)
}
