package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	locust "github.com/golocust/locust"
)

// HTTP is a user's HTTP session on net/http, like Locust's HttpUser client:
// requests go to the user's host, cookies are kept per user, and every
// request is recorded in the runner's statistics under its method and name
// (its path, or the Name option). Connections are pooled per runner.
//
// A session belongs to one user and is not safe for concurrent use; the
// *http.Client that its Client method returns is.
type HTTP struct {
	verbs
	u       *locust.User
	base    string // scheme://host[:port][/path], no trailing slash
	baseErr error
	client  *http.Client      // Client's: the session's transport, jar and redirect rule, which a program may change
	own     *http.Client      // sends the session's requests: a copy of client's fields
	tr      *http.Transport   // the runner's shared transport, when the session was made on it; else nil
	viaTr   http.RoundTripper // sharedRoundTripper{s}: own's transport while cancelsWithTransport
	replay  replayTransport   // own's transport while the Client goes on from a response (do)
	timeout time.Duration
	header  http.Header

	// the request in flight, for the trace hooks that see each attempt
	trace        httptrace.ClientTrace
	method, name string
	attempt      atomic.Uint32 // attemptOpen, attemptWritten: set by the transport's goroutines too
	conn         *countingConn // the current attempt's connection, when it counts its bytes
	connWritten  int64         // the bytes written to conn before the attempt
	fresh        bool          // attemptStart is the request's start, no connection asked for yet
	attemptStart time.Time     // when the current attempt asked for a connection
	retried      time.Duration // time spent in failed attempts
	rc           *reqCtx

	// the last request, kept for the next one to the same URL
	last struct {
		path, target string // resolve's last path and its URL
		req          *http.Request
		rc           *reqCtx
		reqTarget    string
	}
}

// reqCtx is a request context that a session reuses from request to
// request: derived once from a task's context, carrying the session's
// trace, with one timer that cancels a request that overruns its timeout.
// A context per request would cost a context and a timer each; resetting
// and stopping the timer on every request would cost two timer-heap
// operations each. Instead a request only stores its deadline: the timer
// stays armed for the earliest deadline it has to watch, and when it fires
// it cancels the request in flight if it passed its deadline, or else
// waits again until that request's deadline. Back-to-back requests far
// shorter than their timeout touch the timer about once per timeout.
//
// A request is cancelled in one of two ways. On the runner's shared
// transport while it speaks HTTP/1 only (http1Only), the context is never
// cancelled: the transport's own per-request context would otherwise
// register with it and unregister again on every request, which cost about
// as much as all of the session's own code (bench/README.md). The request
// in flight (the request the transport was handed: sharedRoundTripper) is
// cancelled with the transport's CancelRequest, once the transport has
// taken it in (its GetConn hook, which runs after the transport registers
// the request; a cancel asked for before then waits for it), and the task's
// context ending reaches it through one context.AfterFunc per reqCtx. On
// any other RoundTripper (WithTransport, or the shared transport set to
// attempt HTTP/2), the context is a cancellable one and is cancelled.
// Either way the request's error then carries the cause: the timeout
// (context.DeadlineExceeded) or the task context's cause.
type reqCtx struct {
	parent context.Context
	ctx    context.Context
	epoch  time.Time // deadlines are durations since epoch (monotonic clock)
	timer  *time.Timer

	cancel     context.CancelCauseFunc // cancels ctx; nil when tr cancels requests
	tr         *http.Transport         // cancels the request in flight; nil when ctx is cancelled
	stopParent func() bool             // unregisters the AfterFunc on parent (tr only)

	mu       sync.Mutex    // guards the fields below: the timer's and the parent's callbacks read them
	deadline time.Duration // of the request in flight; 0 when none is
	fireAt   time.Duration // when the armed timer fires; 0 when it is not armed
	req      *http.Request // tr: the hop in flight; nil when none is
	taken    bool          // tr: the transport registered req, so CancelRequest reaches it
	cause    error         // tr: why the request in flight is cancelled; nil while it is not
}

// begin watches the request req (its first hop), started at start, for
// timeout.
func (rc *reqCtx) begin(start time.Time, timeout time.Duration, req *http.Request) {
	dl := start.Sub(rc.epoch) + timeout
	rc.mu.Lock()
	rc.deadline = dl
	if rc.tr != nil {
		rc.req, rc.taken, rc.cause = req, false, nil
		if rc.parent.Err() != nil {
			rc.cause = context.Cause(rc.parent) // cancelled once the transport takes it
		}
	}
	if rc.fireAt == 0 || dl < rc.fireAt {
		rc.fireAt = dl
		rc.timer.Reset(timeout) // reset after start: it fires at dl or later
	}
	rc.mu.Unlock()
}

// hop makes req, the request the transport is handed, the request in
// flight: the session's own, a copy of it that http.Client made (to add a
// deadline or the URL's credentials), or the next hop of a redirect.
func (rc *reqCtx) hop(req *http.Request) {
	if rc.tr == nil || rc.req == req {
		return // rc.req is written on the session's goroutine only, as here
	}
	rc.mu.Lock()
	rc.req, rc.taken = req, false
	rc.mu.Unlock()
}

// took says that the transport registered the request in flight (its
// GetConn hook): from now on CancelRequest reaches it, and a cancel asked
// for before is done now.
func (rc *reqCtx) took() {
	if rc.tr == nil {
		return
	}
	rc.mu.Lock()
	if rc.req != nil {
		rc.taken = true
		if rc.cause != nil {
			rc.tr.CancelRequest(rc.req) //lint:ignore SA1019 see reqCtx: the shared transport is HTTP/1 only, and the tests check that it cancels
		}
	}
	rc.mu.Unlock()
}

// cancelLocked cancels the request in flight for cause. rc.mu must be
// held: a request that ended (end) is never cancelled, even when the next
// request reuses its *http.Request.
func (rc *reqCtx) cancelLocked(cause error) {
	if rc.cancel != nil {
		rc.cancel(cause)
		return
	}
	if rc.req == nil || rc.cause != nil {
		return
	}
	rc.cause = cause
	if rc.taken {
		rc.tr.CancelRequest(rc.req) //lint:ignore SA1019 see reqCtx
	}
}

// end stops watching the request in flight. It returns why the request
// was cancelled, or nil if it was not.
func (rc *reqCtx) end() error {
	rc.mu.Lock()
	cause := rc.cause
	rc.deadline = 0
	rc.req, rc.taken, rc.cause = nil, false, nil
	rc.mu.Unlock()
	if rc.cancel != nil && rc.ctx.Err() != nil {
		// an HTTP/2 transport says only "canceled"
		cause = context.Cause(rc.ctx)
	}
	return cause
}

// fire is the timer's callback: it cancels the request in flight when it
// passed its deadline, waits again until that deadline when it has not,
// and leaves the timer unarmed when no request is in flight.
func (rc *reqCtx) fire() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := time.Since(rc.epoch)
	switch {
	case rc.deadline == 0:
		rc.fireAt = 0
	case now >= rc.deadline:
		rc.fireAt = 0
		rc.cancelLocked(context.DeadlineExceeded)
	default:
		rc.fireAt = rc.deadline
		rc.timer.Reset(rc.deadline - now)
	}
}

// parentDone runs when the task's context ends (tr only): the request in
// flight, if any, is cancelled with the context's cause.
func (rc *reqCtx) parentDone() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.cancelLocked(context.Cause(rc.parent))
}

// requestContext returns the reusable context for requests made under
// parent, making a new one when parent changed or the last one was
// cancelled (a request timed out, on a cancellable context).
func (s *HTTP) requestContext(parent context.Context) *reqCtx {
	tr := s.tr
	if !s.cancelsWithTransport() {
		tr = nil
	}
	if rc := s.rc; rc != nil && sameContext(rc.parent, parent) && rc.tr == tr && (rc.cancel == nil || rc.ctx.Err() == nil) {
		return rc
	}
	if old := s.rc; old != nil {
		// unregister it from its parent, which may live on (a task that
		// adds a value to its context for each request)
		old.timer.Stop()
		if old.cancel != nil {
			old.cancel(context.Canceled)
		} else {
			old.stopParent()
		}
	}
	rc := &reqCtx{parent: parent, epoch: time.Now(), tr: tr}
	if rc.tr != nil {
		// the parent's values, not its cancellation: see reqCtx
		rc.ctx = httptrace.WithClientTrace(context.WithoutCancel(parent), &s.trace)
		rc.stopParent = context.AfterFunc(parent, rc.parentDone)
	} else {
		ctx, cancel := context.WithCancelCause(parent)
		rc.ctx, rc.cancel = httptrace.WithClientTrace(ctx, &s.trace), cancel
	}
	rc.timer = time.AfterFunc(time.Hour, rc.fire)
	rc.timer.Stop() // armed by the first request
	s.rc = rc
	return rc
}

// sameContext reports whether a and b are the same context, without
// panicking on a context type that cannot be compared.
func sameContext(a, b context.Context) bool {
	t := reflect.TypeOf(a)
	return t == reflect.TypeOf(b) && t.Comparable() && a == b
}

// The state of a request's current attempt, in HTTP.attempt.
const (
	attemptOpen    = 1 << iota // a connection was asked for, no response byte came yet
	attemptWritten             // the transport wrote the request
)

// getConn is the trace hook (httptrace.ClientTrace.GetConn) called each
// time the transport asks for a connection for a request: once per hop (the
// request, each redirect followed), and again when net/http retries the
// hop on a new connection after a reused one closed before any byte of the
// response. An attempt still open then got no response: if the transport
// wrote it to the wire, the target received it, and it is recorded on its
// own as a failure, as the target saw it. An attempt never written is not a
// request: the target never got it. Whether it was written is known
// exactly on a connection that counts its bytes (countingConn: the
// runner's shared transport makes them), as net/http itself decides
// whether to retry; on another transport's connection, from the
// WroteRequest hook, which net/http calls before it flushes the request,
// so that a flush that fails with nothing written still counts as written.
// Only a retry or a redirect reads the clock here; the first attempt starts
// when the request does.
func (s *HTTP) getConn(string) {
	s.rc.took()
	prev := s.attempt.Swap(attemptOpen)
	conn := s.conn
	s.conn = nil
	if s.fresh {
		s.fresh = false
		return
	}
	now := time.Now()
	written := prev == attemptOpen|attemptWritten
	if prev&attemptOpen != 0 && conn != nil {
		written = conn.written.Load() != s.connWritten
	}
	if written {
		d := now.Sub(s.attemptStart)
		s.retried += d
		s.u.Record(locust.Request{Type: s.method, Name: s.name, Start: s.attemptStart, Duration: d,
			Err: transportError(s.method, s.name, s.timeout, errClosedBeforeResponse)})
	}
	s.attemptStart = now
}

// reachedWire reports whether the request's last attempt may have reached
// the target: a connection was asked for, and it wrote to it (exactly, on a
// connection that counts its bytes), or else the transport said it wrote
// the request or a response began.
func (s *HTTP) reachedWire() bool {
	if s.fresh {
		return false // no connection asked for
	}
	if s.conn != nil {
		return s.conn.written.Load() != s.connWritten
	}
	a := s.attempt.Load()
	return a == 0 || a&attemptWritten != 0
}

// gotConn is the trace hook (httptrace.ClientTrace.GotConn) called, on the
// request's goroutine, when an attempt got its connection: a connection
// that counts its bytes is kept with its count, for getConn.
func (s *HTTP) gotConn(info httptrace.GotConnInfo) {
	c := info.Conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if cc, ok := c.(*countingConn); ok {
		s.conn, s.connWritten = cc, cc.written.Load()
	}
}

// countingConn is a connection that counts the bytes written to it, so that
// a session knows whether an attempt that net/http retries reached the
// wire. Its methods are safe for concurrent use as the wrapped
// connection's are.
type countingConn struct {
	net.Conn
	written atomic.Int64
}

// Write writes to the connection and counts the bytes written.
func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

// countingDial returns dial with its connections wrapped in countingConn.
func countingDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c}, nil
	}
}

// wroteRequest is the trace hook (httptrace.ClientTrace.WroteRequest)
// called, on the transport's writing goroutine, once the transport wrote an
// attempt's request. A request the transport failed to write is retried
// only when nothing of it went out, so an error means not written.
func (s *HTTP) wroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		s.attempt.Or(attemptWritten)
	}
}

// gotFirstResponseByte is the trace hook
// (httptrace.ClientTrace.GotFirstResponseByte) called, on the transport's
// reading goroutine, when a response starts: the attempt is over.
func (s *HTTP) gotFirstResponseByte() { s.attempt.Store(0) }

var _ Client = (*HTTP)(nil)

// HTTPOption configures an HTTP session.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	host      string
	timeout   time.Duration
	transport http.RoundTripper
	header    http.Header
	noCookies bool
	noFollow  bool
}

// WithHost sends requests to host instead of the user's host.
func WithHost(host string) HTTPOption { return func(o *httpOptions) { o.host = host } }

// WithTimeout sets the default per-request timeout (DefaultTimeout if not
// set).
func WithTimeout(d time.Duration) HTTPOption { return func(o *httpOptions) { o.timeout = d } }

// WithTransport uses rt instead of the runner's shared transport.
func WithTransport(rt http.RoundTripper) HTTPOption {
	return func(o *httpOptions) { o.transport = rt }
}

// WithHeader adds a header to every request of the session.
func WithHeader(key, value string) HTTPOption {
	return func(o *httpOptions) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(key, value)
	}
}

// WithoutCookies disables the session's cookie jar.
func WithoutCookies() HTTPOption { return func(o *httpOptions) { o.noCookies = true } }

// WithoutRedirects returns redirect responses instead of following them.
func WithoutRedirects() HTTPOption { return func(o *httpOptions) { o.noFollow = true } }

// sharedRoundTripper sends a session's requests on the shared transport
// and makes each request the transport is handed the request in flight,
// for a cancel (see reqCtx): http.Client hands the transport a copy of the
// session's request when it adds a deadline (Client.Timeout) or the URL's
// credentials, and a new request for each hop of a redirect.
type sharedRoundTripper struct{ s *HTTP }

// RoundTrip makes req the request in flight and sends it on the shared
// transport.
func (t sharedRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t.s.rc.hop(req)
	return t.s.tr.RoundTrip(req)
}

// cancelsWithTransport reports whether the session's next request is
// cancelled with the shared transport's CancelRequest (see reqCtx): its
// Client still sends on the shared transport, which speaks HTTP/1 only.
func (s *HTTP) cancelsWithTransport() bool {
	return s.tr != nil && s.client.Transport == http.RoundTripper(s.tr) && http1Only(s.tr)
}

// http1Only reports whether t speaks only HTTP/1, as the shared transport
// does unless a program set it to attempt HTTP/2: CancelRequest cannot
// cancel an HTTP/2 request.
func http1Only(t *http.Transport) bool {
	return !t.ForceAttemptHTTP2 && t.Protocols == nil && t.DialContext != nil
}

type sessionKey struct{}
type transportKey struct{}

// SharedTransport returns the runner's shared net/http transport, made on
// first use: keep-alive connections without a per-host limit, no proxy from
// the environment (as Locust), closed when the test stops. Its connections
// count the bytes written to them, so that a session knows exactly whether
// an attempt that net/http retries reached the target. It speaks HTTP/1
// only, and a session cancels its requests on it (a timeout, the task's
// context ending) with its CancelRequest, which is cheaper than a
// cancellable context per request; while a program has set it to attempt
// HTTP/2 (ForceAttemptHTTP2, Protocols), a session's requests use a
// cancellable context instead. Safe for concurrent use.
func SharedTransport(r *locust.Runner) *http.Transport {
	return r.Shared(transportKey{}, func() any {
		t := &http.Transport{
			Proxy:               nil,
			DialContext:         countingDial((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext),
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 100_000,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}
		r.Events().TestStop.Add(func(*locust.Runner) { t.CloseIdleConnections() })
		return t
	}).(*http.Transport)
}

// HTTPFor returns the user's default HTTP session, made on first use and
// kept for the user's life. It is the usual way for a task to get its
// client: client.HTTPFor(u).Get(ctx, "/home").
func HTTPFor(u *locust.User) *HTTP {
	if s, ok := u.Value(sessionKey{}).(*HTTP); ok {
		return s
	}
	s := NewHTTP(u)
	u.SetValue(sessionKey{}, s)
	return s
}

// NewHTTP returns a new session for u. Its host is WithHost's, or else the
// user's; it must be an http or https URL. A session without a usable host
// can still send requests to full URLs, but its first request to a path
// aborts the test (locust.Runner.Abort) with one line naming the mistake,
// such as "no host: set --host/-H or UserType.Host".
func NewHTTP(u *locust.User, opts ...HTTPOption) *HTTP {
	var o httpOptions
	for _, f := range opts {
		f(&o)
	}
	for k, vs := range o.header {
		o.header[k] = slices.Clip(vs)
	}
	s := &HTTP{u: u, timeout: o.timeout, header: o.header}
	s.verbs.s = s
	s.trace.GetConn = s.getConn
	s.trace.GotConn = s.gotConn
	s.trace.WroteRequest = s.wroteRequest
	s.trace.GotFirstResponseByte = s.gotFirstResponseByte
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	host := o.host
	if host == "" {
		host = u.Host()
	}
	if b, err := parseHost(host); err != nil {
		s.baseErr = err
	} else {
		s.base = b.String()
	}
	rt := o.transport
	if rt == nil {
		s.tr = SharedTransport(u.Runner())
		rt = s.tr
	}
	s.client = &http.Client{Transport: rt}
	if !o.noCookies {
		s.client.Jar = &lazyJar{}
	}
	if o.noFollow {
		s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	s.own = &http.Client{}
	s.viaTr = sharedRoundTripper{s}
	s.replay.next = s.viaTr
	return s
}

// Client returns the underlying *http.Client (with the session's cookie
// jar), for requests you time yourself: they are not recorded. Its
// Transport is the session's RoundTripper (SharedTransport or
// WithTransport's). The returned client is safe for concurrent use, also
// while the session sends its own requests; cookies set through it go
// to the session's jar. A change to its Transport, Jar, CheckRedirect or
// Timeout applies to the session's next request too (of its Timeout and
// the request's own, the shorter holds); make it from the user's own
// goroutine (its OnStart or a task).
func (s *HTTP) Client() *http.Client { return s.client }

// resolve turns a path into a URL on the session's host.
func (s *HTTP) resolve(path string) (string, error) {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path, nil
	}
	if s.baseErr != nil {
		// a mistake in the test, not in the target: the test cannot go on
		s.u.Runner().Abort(s.baseErr)
		return "", s.baseErr
	}
	if path == s.last.path && s.last.target != "" {
		return s.last.target, nil
	}
	target := path
	if !strings.HasPrefix(path, "/") {
		target = "/" + path
	}
	target = s.base + target
	s.last.path, s.last.target = path, target
	return target, nil
}

// request returns the request to send. A request without a body to the
// same URL with the same method and context as the last one, which
// succeeded, is that request again, its headers cleared: net/http lets a
// request be reused once its response body is closed, and this saves
// parsing the URL and building the request each time.
func (s *HTTP) request(rc *reqCtx, method, target string, body io.Reader) (*http.Request, error) {
	l := &s.last
	if r := l.req; r != nil && body == nil && l.rc == rc && r.Method == method && l.reqTarget == target {
		l.req = nil // in use; put back when it succeeds
		clear(r.Header)
		return r, nil
	}
	l.req = nil
	r, err := http.NewRequestWithContext(rc.ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	// The URL's host is the Host header all the same; an empty Host spares
	// http.Client a copy of the URL on every request (for the cookie jar).
	r.Host = ""
	l.rc, l.reqTarget = rc, target
	return r, nil
}

// lazyJar is a cookie jar made on the first cookie a server sets: until
// then a request pays nothing for cookies. It is safe for concurrent use,
// as the session's *http.Client (HTTP.Client) is.
type lazyJar struct{ jar atomic.Pointer[cookiejar.Jar] }

func (j *lazyJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	jar := j.jar.Load()
	if jar == nil {
		jar, _ = cookiejar.New(nil)
		if !j.jar.CompareAndSwap(nil, jar) {
			jar = j.jar.Load() // another goroutine made it first
		}
	}
	jar.SetCookies(u, cookies)
}

func (j *lazyJar) Cookies(u *url.URL) []*http.Cookie {
	if jar := j.jar.Load(); jar != nil {
		return jar.Cookies(u)
	}
	return nil
}

// readBody reads a whole body, in one allocation when its length is known:
// the buffer has one spare byte for the read that finds the body's end.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.Body == http.NoBody || resp.Request != nil && resp.Request.Method == http.MethodHead {
		return nil, nil
	}
	if n := resp.ContentLength; n >= 0 && n <= 64<<20 {
		buf := make([]byte, n, n+1)
		if k, err := io.ReadFull(resp.Body, buf); err != nil {
			return buf[:k], err
		}
		if m, _ := resp.Body.Read(buf[n : n+1]); m == 0 {
			return buf, nil
		}
		// a body longer than announced is an error of the server; read on
		// to find out, as io.ReadAll would
		rest, err := io.ReadAll(resp.Body)
		return append(buf[:n+1], rest...), err
	}
	return io.ReadAll(resp.Body)
}

// do sends hr as the session's Client would. On the shared transport
// (rc.tr set), with no Client.Timeout and no credentials in the URL, it
// hands hr to the transport itself, without http.Client's work for each
// request (a copy of the headers for a redirect, a list of hops): it adds
// the jar's cookies and keeps the response's, as the Client does, and gives
// a redirect response to the Client to go on from, as if the Client had
// sent hr (replayTransport). Otherwise it sends hr with a copy of the
// session's Client.
func (s *HTTP) do(rc *reqCtx, hr *http.Request) (*http.Response, error) {
	c := s.client
	if rc.tr == nil || c.Timeout > 0 || hr.URL.User != nil {
		*s.own = *c
		if rc.tr != nil {
			s.own.Transport = s.viaTr
		}
		return s.own.Do(hr)
	}
	var mine []string // hr's Cookie header before the jar's cookies
	jarred := false
	if c.Jar != nil {
		if cookies := c.Jar.Cookies(hr.URL); len(cookies) > 0 {
			mine, jarred = hr.Header["Cookie"], true
			for _, ck := range cookies {
				hr.AddCookie(ck) // sets a new slice: mine is left as it was
			}
		}
	}
	resp, err := s.viaTr.RoundTrip(hr)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch // as http.Client says it
		}
		return nil, &url.Error{Op: urlErrorOp(hr.Method), URL: hr.URL.String(), Err: err}
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		if c.Jar != nil {
			if set := resp.Cookies(); len(set) > 0 {
				c.Jar.SetCookies(hr.URL, set)
			}
		}
		return resp, nil
	}
	// a redirect to follow or not (CheckRedirect): the Client's work, from
	// the response hr got, which it keeps the cookies of. The Client is
	// given a copy of hr as it was before the jar's cookies (it adds them
	// itself, and carries the headers it starts from to the next hop),
	// which it may change while the transport may still read hr.
	*s.own = *c
	s.replay.resp = resp
	s.own.Transport = &s.replay
	first := *hr
	first.Header = hr.Header.Clone()
	if jarred {
		if mine == nil {
			delete(first.Header, "Cookie")
		} else {
			first.Header["Cookie"] = mine
		}
	}
	resp, err = s.own.Do(&first)
	s.replay.resp = nil // taken already, unless the Client failed before it sent
	return resp, err
}

// replayTransport answers its first request with a response already
// received, and sends the next ones on: a Client then goes on from a
// request that the session sent itself. It is not safe for concurrent use.
type replayTransport struct {
	resp *http.Response    // the response to answer with; nil once taken
	next http.RoundTripper // sends the later requests (the session's sharedRoundTripper)
}

// RoundTrip returns the response held, once, and sends later requests on.
func (t *replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if r := t.resp; r != nil {
		t.resp = nil
		return r, nil
	}
	return t.next.RoundTrip(req)
}

// urlErrorOp is the Op of the *url.Error that http.Client returns for a
// request with this method ("Get" for GET).
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	for i := 0; i < len(method); i++ {
		if method[i] >= 0x80 {
			return method
		}
	}
	return method[:1] + strings.ToLower(method[1:])
}

// withCause returns the error of a request that its reqCtx cancelled for
// cause (CancelRequest's error says only "canceled"): the same *url.Error
// with cause inside, or cause.
func withCause(err, cause error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: ue.URL, Err: cause}
	}
	return cause
}

// Do sends req, reads the whole response, records it and returns it. A
// failure (no response, a timeout, a status of 400 or more, or a Check that
// returned an error) returns the response (if any) and an *Error; the
// failure is already recorded. A request cut short because the user was
// stopped is in no entry but counted as cut short (locust.Snapshot.CutShort).
// If net/http retries the request on a new connection after a reused one
// was closed before the response, a failed attempt that the transport
// wrote is recorded on its own ("connection closed before the response"),
// so that each attempt the target saw is one request; an attempt it never
// wrote (the connection was found closed first) is not a request, and its
// time counts in the request's response time.
func (s *HTTP) Do(ctx context.Context, req *Request) (*Response, error) {
	return s.send(ctx, req, "")
}

func (s *HTTP) send(ctx context.Context, req *Request, contentType string) (*Response, error) {
	if err := stoppedBeforeSend(ctx, s.u); err != nil {
		return nil, err
	}
	method, name, timeout := req.defaults(s.timeout)
	target, err := s.resolve(req.Path)
	if err != nil {
		return nil, err
	}
	// the session's Client, as a program may have changed it; the shorter
	// of its Timeout and the request's bounds the request
	if ct := s.client.Timeout; ct > 0 && ct < timeout {
		timeout = ct
	}
	rc := s.requestContext(ctx)
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := s.request(rc, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range s.header {
		// the session's own values, clipped: an Add to the request's
		// header copies them instead of writing into the session's
		hr.Header[k] = vs
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	if contentType != "" && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", contentType)
	}
	start := time.Now()
	s.method, s.name, s.retried = method, name, 0
	s.attempt.Store(0)
	s.fresh, s.attemptStart, s.conn = true, start, nil
	rc.begin(start, timeout, hr)
	resp, err := s.do(rc, hr)
	if err != nil && !s.reachedWire() && s.u.StoppedBy(ctx) {
		// stopped before a byte of the request left (while dialling): the
		// target never saw it, so it is not cut short either
		rc.end()
		return nil, locust.MarkRecorded(context.Cause(ctx))
	}
	var data []byte
	if err == nil {
		data, err = readBody(resp)
		resp.Body.Close()
	}
	if cause := rc.end(); cause != nil && err != nil {
		err = withCause(err, cause)
	}
	if err == nil && body == nil {
		s.last.req = hr // done with: the next request may reuse it
	}
	// failed attempts before a retry are recorded on their own
	start = start.Add(s.retried)
	out := &Response{Duration: time.Since(start), URL: target}
	if resp != nil {
		out.StatusCode, out.Header, out.Body = resp.StatusCode, resp.Header, data
	}
	return finish(ctx, s.u, req, method, name, timeout, start, out, err)
}
