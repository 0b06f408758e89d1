// Package client holds the Client contract of golocust and its shipped
// clients: HTTP on net/http (a per-user session with cookies, like
// Locust's HttpUser) and a fast HTTP client on fasthttp (like
// FastHttpUser).
//
// Every client times each request and reports it to the user's runner as a
// request event, so the statistics, reports and thresholds work the same
// for all of them. A client of your own protocol does the same with
// locust.User.Measure or locust.User.Record.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	locust "github.com/golocust/locust"
)

// DefaultTimeout is the per-request timeout when none is given (Locust's
// FastHttpUser network timeout).
const DefaultTimeout = 60 * time.Second

// Client is what a task needs from an HTTP client: send one request, record
// it, return the response. Both shipped clients implement it, so a task
// written against Client runs on either. Implementations are used by one
// user (one goroutine) at a time.
type Client interface {
	Do(ctx context.Context, req *Request) (*Response, error)
}

// ClientFunc adapts a function to Client.
type ClientFunc func(ctx context.Context, req *Request) (*Response, error)

// Do calls f.
func (f ClientFunc) Do(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

var _ Client = ClientFunc(nil)

// Request is one request to send. Only Method and Path are required.
type Request struct {
	// Method is the HTTP method; "" means GET.
	Method string
	// Path is a path on the user's host ("/item/7?x=1") or a full URL.
	Path string
	// Body is sent as the request body.
	Body []byte
	// Header holds extra request headers.
	Header http.Header
	// Name groups the request in the statistics instead of its path, so
	// that /item/1 and /item/2 count as "/item/{id}".
	Name string
	// Timeout bounds the request; 0 means the client's default.
	Timeout time.Duration
	// Check, if set, judges the response instead of the status rule: it
	// returns nil for a success (even a 404) or an error for a failure
	// (even a 200 whose body is wrong). Locust's catch_response.
	Check func(*Response) error
}

// RequestOption sets an optional part of a Request.
type RequestOption func(*Request)

// Name groups the request under name in the statistics.
func Name(name string) RequestOption { return func(r *Request) { r.Name = name } }

// Timeout sets the request's timeout.
func Timeout(d time.Duration) RequestOption { return func(r *Request) { r.Timeout = d } }

// Header adds a request header.
func Header(key, value string) RequestOption {
	return func(r *Request) {
		if r.Header == nil {
			r.Header = http.Header{}
		}
		r.Header.Add(key, value)
	}
}

// Check makes fn judge the response (see Request.Check).
func Check(fn func(*Response) error) RequestOption { return func(r *Request) { r.Check = fn } }

// ExpectStatus counts the request as a success exactly when the status is
// one of codes (so a 404 can be a success and a 200 a failure).
func ExpectStatus(codes ...int) RequestOption {
	return Check(func(r *Response) error {
		if slices.Contains(codes, r.StatusCode) {
			return nil
		}
		return fmt.Errorf("unexpected status %d %s (want %v)", r.StatusCode, http.StatusText(r.StatusCode), codes)
	})
}

// Response is a response read in full. It is plain data owned by the
// caller.
type Response struct {
	// StatusCode is the HTTP status (0 if no response arrived).
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the whole response body.
	Body []byte
	// Duration is the response time recorded for the request.
	Duration time.Duration
	// URL is the URL requested.
	URL string
}

// Clone returns a deep copy of r, for keeping a response of a Fast
// session beyond its next request.
func (r *Response) Clone() *Response {
	c := *r
	c.Header = r.Header.Clone()
	if r.Body != nil {
		c.Body = append([]byte(nil), r.Body...)
	}
	return &c
}

// Text returns the body as a string.
func (r *Response) Text() string { return string(r.Body) }

// JSON decodes the body into v.
func (r *Response) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Error is the error of a failed request. It says it was recorded
// (locust.IsRecorded), so a task can return it without it being counted a
// second time as an exception.
type Error struct {
	// Method and Name identify the request as in the statistics.
	Method, Name string
	// StatusCode is the response's status, or 0 when no response came.
	StatusCode int
	// Err is the cause.
	Err error
	msg string
}

// Error returns the failure text used to group failures.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// RequestRecorded reports that the failure is already in the statistics.
func (e *Error) RequestRecorded() bool { return true }

func statusError(method, name string, code int) *Error {
	return &Error{Method: method, Name: name, StatusCode: code,
		msg: fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))}
}

// checkError wraps an error returned by a Check function.
func checkError(method, name string, code int, err error) *Error {
	return &Error{Method: method, Name: name, StatusCode: code, Err: err, msg: err.Error()}
}

// transportError describes a failure to get a response in words that group
// well: no ephemeral ports or object addresses, the cause named first.
func transportError(method, name string, timeout time.Duration, err error) *Error {
	return &Error{Method: method, Name: name, Err: err, msg: describe(timeout, err)}
}

// parseHost checks a session's host: an http or https URL with a host
// ("http://127.0.0.1:8080", a trailing slash or a base path allowed). The
// error is one line naming the mistake and its fix.
func parseHost(host string) (*url.URL, error) {
	if host == "" {
		return nil, errors.New("no host: set --host/-H or UserType.Host")
	}
	b, err := url.Parse(strings.TrimSuffix(host, "/"))
	switch {
	case !strings.Contains(host, "://"):
		return nil, fmt.Errorf("host %q is not a URL: use http://%s", host, host)
	case err != nil || b.Host == "":
		return nil, fmt.Errorf("host %q is not a URL: use one like http://127.0.0.1:8080", host)
	case b.Scheme != "http" && b.Scheme != "https":
		return nil, fmt.Errorf("host %q is not an http or https URL", host)
	}
	return b, nil
}

// errClosedBeforeResponse is the failure of an attempt whose connection
// the target closed before any byte of a response.
var errClosedBeforeResponse = errors.New("connection closed before the response")

func describe(timeout time.Duration, err error) string {
	var ne interface{ Timeout() bool } // net.Error, or fasthttp's timeout
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("timeout after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused" + remote(err)
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer" + remote(err)
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe" + remote(err)
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections to host"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the full response"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF), errors.Is(err, errClosedBeforeResponse),
		err.Error() == "http: server closed idle connection":
		return errClosedBeforeResponse.Error()
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "response body too large"
	case strings.Contains(err.Error(), "malformed HTTP "), strings.Contains(err.Error(), "error when reading response headers"):
		// net/http and fasthttp quote the bytes they got: one row per
		// distinct garbage, unless the quote is left out
		return "malformed HTTP response"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "DNS lookup failed: " + dns.Err + " (" + dns.Name + ")"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		inner := op.Err
		for {
			u := errors.Unwrap(inner)
			if u == nil {
				break
			}
			inner = u
		}
		return fmt.Sprintf("%s %s: %v%s", op.Op, op.Net, inner, remote(err))
	}
	msg := err.Error()
	// net/http prefixes `Get "http://...": `; keep only the cause
	if i := strings.Index(msg, "\": "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

func remote(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return " (" + op.Addr.String() + ")"
	}
	return ""
}

// taskContextEnded reports whether the context a task handed to a request
// ended (or reached its deadline) before the request could finish.
func taskContextEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// sender is a session's own way to send a request; verbs builds the
// convenience methods on it. contentType, when not empty, is the request's
// Content-Type unless req.Header sets one.
type sender interface {
	send(ctx context.Context, req *Request, contentType string) (*Response, error)
}

// verbs gives a session its convenience methods (Get, Post, PostForm...):
// HTTP and Fast both embed it, so they offer the same methods with the
// same meaning. It reuses one Request, as a session serves one user at a
// time.
type verbs struct {
	s  sender
	rq Request
}

// build fills the reused Request.
func (v *verbs) build(method, path string, body []byte, opts []RequestOption) *Request {
	r := &v.rq
	*r = Request{Method: method, Path: path, Body: body}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Get sends a GET request.
func (v *verbs) Get(ctx context.Context, path string, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodGet, path, nil, opts), "")
}

// Head sends a HEAD request.
func (v *verbs) Head(ctx context.Context, path string, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodHead, path, nil, opts), "")
}

// Delete sends a DELETE request.
func (v *verbs) Delete(ctx context.Context, path string, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodDelete, path, nil, opts), "")
}

// Options sends an OPTIONS request.
func (v *verbs) Options(ctx context.Context, path string, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodOptions, path, nil, opts), "")
}

// Post sends a POST request with the given content type (unless a Header
// option sets one) and body. The body is sent as is, not copied: do not
// change it until Post returns.
func (v *verbs) Post(ctx context.Context, path, contentType string, body []byte, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodPost, path, body, opts), contentType)
}

// Put sends a PUT request with the given content type and body, like Post.
func (v *verbs) Put(ctx context.Context, path, contentType string, body []byte, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodPut, path, body, opts), contentType)
}

// Patch sends a PATCH request with the given content type and body, like
// Post.
func (v *verbs) Patch(ctx context.Context, path, contentType string, body []byte, opts ...RequestOption) (*Response, error) {
	return v.s.send(ctx, v.build(http.MethodPatch, path, body, opts), contentType)
}

// PostForm sends a POST request with a URL-encoded form, like a browser's
// login form.
func (v *verbs) PostForm(ctx context.Context, path string, form url.Values, opts ...RequestOption) (*Response, error) {
	return v.Post(ctx, path, "application/x-www-form-urlencoded", []byte(form.Encode()), opts...)
}

// PostJSON sends v encoded as JSON in a POST request.
func (v *verbs) PostJSON(ctx context.Context, path string, body any, opts ...RequestOption) (*Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return v.Post(ctx, path, "application/json", b, opts...)
}

// defaults returns the request's method, statistics name and timeout,
// with the defaults filled in.
func (req *Request) defaults(timeout time.Duration) (method, name string, d time.Duration) {
	method, name, d = req.Method, req.Name, req.Timeout
	if method == "" {
		method = http.MethodGet
	}
	if name == "" {
		name = req.Path
	}
	if d <= 0 {
		d = timeout
	}
	return method, name, d
}

// stoppedBeforeSend returns a recorded error when ctx already ended
// because the user was stopped: nothing is sent then, so the request is
// neither in the statistics nor cut short (the target never saw it).
func stoppedBeforeSend(ctx context.Context, u *locust.User) error {
	if ctx.Err() != nil && u.StoppedBy(ctx) {
		return locust.MarkRecorded(context.Cause(ctx))
	}
	return nil
}

// finish applies the failure rules to a request that got out's response
// (or the transport error err), records it for u, and returns what Do
// returns. Only the user's stop hides a failed request: when ctx ended
// because the user was stopped (locust.User.StoppedBy), the request is in
// no entry but counted as cut short. A context that ended for another
// reason (a task's own timeout, even during a graceful stop) makes a
// failure.
func finish(ctx context.Context, u *locust.User, req *Request, method, name string, timeout time.Duration,
	start time.Time, out *Response, err error) (*Response, error) {
	if err != nil && u.StoppedBy(ctx) {
		u.RecordCutShort()
		return out, locust.MarkRecorded(err)
	}
	var fail error
	switch {
	case err != nil && taskContextEnded(ctx):
		cause := context.Cause(ctx)
		if cause == nil { // the deadline passed, its timer not yet run
			cause = context.DeadlineExceeded
		}
		fail = &Error{Method: method, Name: name, Err: err, msg: "the task's context ended: " + cause.Error()}
	case err != nil:
		fail = transportError(method, name, timeout, err)
	case req.Check != nil:
		if cerr := req.Check(out); cerr != nil {
			fail = checkError(method, name, out.StatusCode, cerr)
		}
	case out.StatusCode >= 400:
		fail = statusError(method, name, out.StatusCode)
	}
	u.Record(locust.Request{Type: method, Name: name, Start: start, Duration: out.Duration, Length: int64(len(out.Body)), Err: fail})
	return out, fail
}
