package client

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	locust "github.com/golocust/locust"
)

// Fast is a user's HTTP session on fasthttp, like Locust's FastHttpUser
// client: the same requests, options, failure rules and failure texts as
// HTTP, at a fraction of the CPU per request. Requests go to the user's
// host (or WithHost), every request is recorded in the runner's statistics
// under its method and name, cookies set by the user's host are kept per
// user (unless WithoutCookies), and redirects are followed (unless
// WithoutRedirects). Connections are pooled per runner and host in one
// shared fasthttp.HostClient, closed when the test stops.
//
// Unlike HTTP, a Fast session reuses its buffers: the *Response that a
// request returns, its Body and its Header belong to the session and are
// valid only until the session's next request. Copy what you keep
// (Response.Clone, or string(resp.Body)). Steady-state requests then
// allocate nothing.
//
// Cookies are kept for the session's own host only (with no regard to
// their path or domain); requests to full URLs on other hosts send none.
// WithTransport does not apply to Fast.
//
// A request cut short because its user was stopped is in no entry but
// counted as cut short (locust.Snapshot.CutShort). The cut is immediate
// once the connection is open; a connection being dialled finishes
// dialling (bounded by the request's timeout) first.
//
// A Fast session never retries (fasthttp's own Do retries idempotent
// requests up to five times): each attempt is one request in the
// statistics, and a pooled connection that the target closed is a failure,
// "connection closed before the response".
//
// A session belongs to one user and is not safe for concurrent use.
type Fast struct {
	verbs
	u         *locust.User
	hc        *fasthttp.HostClient // the base host's client
	scheme    string               // "http" or "https"
	host      string               // host[:port] as written in the Host header
	baseErr   error
	timeout   time.Duration
	header    http.Header
	follow    bool
	jar       *fastJar
	userAgent string

	req  fasthttp.Request
	resp fasthttp.Response
	out  Response
	sent bool     // some byte of the request reached a connection
	sc   sentConn // the connection in use, counting what is written to it

	lastPath, lastURL string

	// response headers, reused between requests
	hdr  http.Header
	keys map[string]string // interned header names

	// cancellation: the connection in use, cut when the user's context ends
	mu        sync.Mutex
	conn      net.Conn
	watchDone <-chan struct{}
	stopWatch func() bool
}

var _ Client = (*Fast)(nil)

type fastSessionKey struct{}

type fastHostKey struct {
	addr string
	tls  bool
}

// DefaultFastMaxBodySize bounds the size of a response body that a Fast
// session reads (fasthttp reads bodies whole): 64 MiB.
const DefaultFastMaxBodySize = 64 << 20

// SharedFastClient returns the runner's shared fasthttp client for addr
// (host:port), made on first use: unlimited connections kept alive for 90 s
// of idleness, and closed when the test stops. It is what Fast sessions
// use; call it to send requests you time yourself on the same pool. Safe
// for concurrent use.
func SharedFastClient(r *locust.Runner, addr string, tls bool) *fasthttp.HostClient {
	return r.Shared(fastHostKey{addr, tls}, func() any {
		hc := &fasthttp.HostClient{
			Addr:                   addr,
			IsTLS:                  tls,
			Name:                   "golocust/" + locust.Version,
			MaxConns:               math.MaxInt32,
			MaxIdleConnDuration:    90 * time.Second,
			MaxResponseBodySize:    DefaultFastMaxBodySize,
			DisablePathNormalizing: true,
			DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
				d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
				return d.Dial("tcp", addr)
			},
		}
		r.Events().TestStop.Add(func(*locust.Runner) { hc.CloseIdleConnections() })
		// the pool's cleaner ends on its own once the connections are closed
		r.ExpectGoroutines("github.com/valyala/fasthttp.(*HostClient).connsCleaner")
		return hc
	}).(*fasthttp.HostClient)
}

// FastFor returns the user's default Fast session, made on first use and
// kept for the user's life: client.FastFor(u).Get(ctx, "/home").
func FastFor(u *locust.User) *Fast {
	if s, ok := u.Value(fastSessionKey{}).(*Fast); ok {
		return s
	}
	s := NewFast(u)
	u.SetValue(fastSessionKey{}, s)
	return s
}

// NewFast returns a new fast session for u. The options are those of
// NewHTTP (WithHost, WithTimeout, WithHeader, WithoutCookies,
// WithoutRedirects); WithTransport is ignored. As with NewHTTP, a session
// without a usable host aborts the test on its first request to a path.
func NewFast(u *locust.User, opts ...HTTPOption) *Fast {
	var o httpOptions
	for _, f := range opts {
		f(&o)
	}
	s := &Fast{
		u: u, timeout: o.timeout, header: o.header, follow: !o.noFollow,
		userAgent: "golocust/" + locust.Version,
		hdr:       http.Header{}, keys: map[string]string{},
	}
	s.verbs.s = s
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if !o.noCookies {
		s.jar = &fastJar{}
	}
	host := o.host
	if host == "" {
		host = u.Host()
	}
	b, err := parseHost(host)
	if err != nil {
		s.baseErr = err
		return s
	}
	s.scheme, s.host = b.Scheme, b.Host
	s.hc = SharedFastClient(u.Runner(), hostPort(b.Scheme, b.Host), b.Scheme == "https")
	return s
}

// hostPort adds the scheme's default port to host when it has none.
func hostPort(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if scheme == "https" {
		return net.JoinHostPort(host, "443")
	}
	return net.JoinHostPort(host, "80")
}

// Do sends req, reads the whole response, records it and returns it. A
// failure (no response, a timeout, a status of 400 or more, or a Check that
// returned an error) returns the response (if any) and an *Error; the
// failure is already recorded. A request cut short because the user was
// stopped is counted as cut short, in no entry. The returned Response is
// valid until the session's next request (see Fast).
func (s *Fast) Do(ctx context.Context, req *Request) (*Response, error) {
	return s.send(ctx, req, "")
}

func isAbsolute(path string) bool {
	return strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://")
}

func (s *Fast) send(ctx context.Context, req *Request, contentType string) (*Response, error) {
	if err := stoppedBeforeSend(ctx, s.u); err != nil {
		return nil, err
	}
	method, name, timeout := req.defaults(s.timeout)

	// prepare the request
	fr := &s.req
	fr.Reset()
	fr.Header.SetMethod(method)
	fr.Header.SetUserAgent(s.userAgent)
	hc, onBase := s.hc, true
	if isAbsolute(req.Path) {
		var err error
		if hc, onBase, err = s.clientFor(req.Path); err != nil {
			return nil, err
		}
		fr.SetRequestURI(req.Path)
	} else {
		if s.baseErr != nil {
			// a mistake in the test, not in the target: the test cannot go on
			s.u.Runner().Abort(s.baseErr)
			return nil, s.baseErr
		}
		fr.SetRequestURI(req.Path)
		if !strings.HasPrefix(req.Path, "/") {
			fr.SetRequestURI("/" + req.Path)
		}
		fr.Header.SetHost(s.host)
	}
	for k, vs := range s.header {
		for _, v := range vs {
			fr.Header.Add(k, v)
		}
	}
	for k, vs := range req.Header {
		fr.Header.Del(k)
		for _, v := range vs {
			fr.Header.Add(k, v)
		}
	}
	if contentType != "" && len(fr.Header.ContentType()) == 0 {
		fr.Header.SetContentType(contentType)
	}
	if req.Body != nil {
		fr.SetBodyRaw(req.Body)
	}
	if onBase && s.jar != nil {
		s.jar.addTo(&fr.Header)
	}
	s.watch(ctx)

	start := time.Now()
	deadline := start.Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	sent := method
	s.sent = false
	err := s.roundTrip(ctx, hc, deadline, sent == http.MethodHead)
	for hops := 0; err == nil && s.follow && isRedirect(s.resp.StatusCode()) && hops < 10; hops++ {
		if onBase && s.jar != nil {
			s.jar.update(&s.resp.Header)
		}
		var next bool
		if hc, onBase, sent, next, err = s.redirect(hc, onBase, sent); err != nil || !next {
			break
		}
		err = s.roundTrip(ctx, hc, deadline, sent == http.MethodHead)
	}
	out := &s.out
	*out = Response{Duration: time.Since(start), URL: s.urlOf(req.Path)}
	if err == nil {
		if onBase && s.jar != nil {
			s.jar.update(&s.resp.Header)
		}
		out.StatusCode = s.resp.StatusCode()
		out.Body = s.resp.Body()
		out.Header = s.fillHeader()
	}
	if err != nil && !s.sent && s.u.StoppedBy(ctx) {
		// stopped before the request was written: the target never saw it
		return nil, locust.MarkRecorded(context.Cause(ctx))
	}
	return finish(ctx, s.u, req, method, name, timeout, start, out, err)
}

// urlOf returns the full URL of a path, cached for the last path.
func (s *Fast) urlOf(path string) string {
	if isAbsolute(path) || s.baseErr != nil {
		return path
	}
	if path != s.lastPath {
		p := path
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		s.lastPath, s.lastURL = path, s.scheme+"://"+s.host+p
	}
	return s.lastURL
}

// clientFor returns the shared client for a full URL and whether it is
// the session's own host.
func (s *Fast) clientFor(rawURL string) (*fasthttp.HostClient, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, false, errors.New("invalid URL " + rawURL)
	}
	if u.Scheme == s.scheme && u.Host == s.host && s.hc != nil {
		return s.hc, true, nil
	}
	return SharedFastClient(s.u.Runner(), hostPort(u.Scheme, u.Host), u.Scheme == "https"), false, nil
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// redirect points the session's request at the response's Location. It
// returns next=false when there is nowhere to go.
func (s *Fast) redirect(hc *fasthttp.HostClient, onBase bool, method string) (*fasthttp.HostClient, bool, string, bool, error) {
	loc := s.resp.Header.Peek("Location")
	if len(loc) == 0 {
		return hc, onBase, method, false, nil
	}
	fr := &s.req
	scheme := "http"
	if hc.IsTLS {
		scheme = "https"
	}
	cur := &url.URL{Scheme: scheme, Host: string(fr.Header.Host())}
	ref, err := url.Parse(string(loc))
	if err != nil {
		return hc, onBase, method, false, err
	}
	next := cur.ResolveReference(ref)
	if rel, err := url.Parse(string(fr.Header.RequestURI())); err == nil {
		next = cur.ResolveReference(rel).ResolveReference(ref)
	}
	code := s.resp.StatusCode()
	if code == 303 || ((code == 301 || code == 302) && method == http.MethodPost) {
		method = http.MethodGet
		fr.ResetBody()
		fr.Header.Del("Content-Type")
		fr.Header.SetContentLength(0)
	}
	fr.Header.SetMethod(method)
	if next.Scheme == s.scheme && next.Host == s.host && s.hc != nil {
		hc, onBase = s.hc, true
	} else {
		hc, onBase = SharedFastClient(s.u.Runner(), hostPort(next.Scheme, next.Host), next.Scheme == "https"), false
	}
	fr.Header.DelAllCookies()
	if onBase && s.jar != nil {
		s.jar.addTo(&fr.Header)
	}
	fr.SetRequestURI(next.RequestURI())
	fr.Header.SetHost(next.Host)
	return hc, onBase, method, true, nil
}

// fillHeader copies the response headers into the session's reused
// http.Header, allocating only for names and values not seen before.
func (s *Fast) fillHeader() http.Header {
	h := s.hdr
	for k, vs := range h {
		h[k] = vs[:0]
	}
	for k, v := range s.resp.Header.All() {
		key, ok := s.keys[string(k)]
		if !ok {
			key = http.CanonicalHeaderKey(string(k))
			if len(s.keys) < 256 {
				s.keys[string(k)] = key
			}
		}
		vs := h[key]
		if n := len(vs); n < cap(vs) && vs[:n+1][n] == string(v) {
			vs = vs[:n+1]
		} else {
			vs = append(vs, string(v))
		}
		h[key] = vs
	}
	for k, vs := range h {
		if len(vs) == 0 {
			delete(h, k)
		}
	}
	return h
}

// watch arranges for the session's open connection to be cut when ctx
// ends. It registers once per context (per Done channel).
func (s *Fast) watch(ctx context.Context) {
	done := ctx.Done()
	if done == s.watchDone {
		return
	}
	if s.stopWatch != nil {
		s.stopWatch()
		s.stopWatch = nil
	}
	s.watchDone = done
	if done != nil {
		s.stopWatch = context.AfterFunc(ctx, func() { s.abort(done) })
	}
}

// abort cuts the connection in use, if the request belongs to the context
// whose Done channel is done.
func (s *Fast) abort(done <-chan struct{}) {
	s.mu.Lock()
	if s.conn != nil && s.watchDone == done {
		_ = s.conn.SetDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
}

// roundTrip sends the session's request on one pooled connection and reads
// the response. The connection is registered for abort while in use. It
// never retries: a pooled connection that the target closed is one failed
// request, as the target saw it, not a hidden second attempt (fasthttp's
// own Do retries idempotent requests).
func (s *Fast) roundTrip(ctx context.Context, hc *fasthttp.HostClient, deadline time.Time, head bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(wait, false)
	if err != nil {
		return err
	}
	conn := cc.Conn()
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	// finish unregisters the connection and returns or closes it; a
	// connection whose context ended may carry an abort deadline, so it is
	// closed.
	finish := func(closeIt bool) {
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		if closeIt || ctx.Err() != nil {
			hc.CloseConn(cc)
		} else {
			hc.ReleaseConn(cc)
		}
	}
	if ctx.Err() != nil { // ended before abort could see the connection
		finish(true)
		return ctx.Err()
	}
	if err = conn.SetDeadline(deadline); err != nil {
		finish(true)
		return err
	}
	s.sc = sentConn{Conn: conn}
	bw := hc.AcquireWriter(&s.sc)
	err = s.req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	s.sent = s.sent || s.sc.n > 0
	s.sc.Conn = nil
	if err != nil {
		finish(true)
		return err
	}
	s.resp.Reset()
	s.resp.SkipBody = head
	br := hc.AcquireReader(conn)
	err = s.resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		finish(true)
		return err
	}
	finish(s.resp.ConnectionClose() || s.req.ConnectionClose())
	return nil
}

// sentConn counts the bytes written to a connection, to tell a request
// that the target may have seen from one that never left.
type sentConn struct {
	net.Conn
	n int
}

func (c *sentConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n += n
	return n, err
}

// fastJar is a Fast session's cookie jar: the cookies its host set, by
// name, sent back on every request to that host. Path, domain and the
// Secure flag are not considered; expiry (Max-Age, Expires) is.
type fastJar struct {
	names, values []string
	expires       []time.Time // zero: a session cookie
}

// addTo adds the live cookies to a request.
func (j *fastJar) addTo(h *fasthttp.RequestHeader) {
	if len(j.names) == 0 {
		return
	}
	var now time.Time
	for i, name := range j.names {
		if !j.expires[i].IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if !now.Before(j.expires[i]) {
				continue
			}
		}
		h.SetCookie(name, j.values[i])
	}
}

// update stores the cookies a response set, and drops those it expired.
func (j *fastJar) update(h *fasthttp.ResponseHeader) {
	var c *fasthttp.Cookie
	for _, raw := range h.Cookies() {
		if c == nil {
			c = fasthttp.AcquireCookie()
		}
		c.Reset()
		if c.ParseBytes(raw) != nil || len(c.Key()) == 0 {
			continue
		}
		var exp time.Time
		remove := false
		switch {
		case c.MaxAge() < 0:
			remove = true
		case c.MaxAge() > 0:
			exp = time.Now().Add(time.Duration(c.MaxAge()) * time.Second)
		case !c.Expire().Equal(fasthttp.CookieExpireUnlimited):
			exp = c.Expire()
			remove = !time.Now().Before(exp)
		}
		j.set(string(c.Key()), string(c.Value()), exp, remove)
	}
	if c != nil {
		fasthttp.ReleaseCookie(c)
	}
}

func (j *fastJar) set(name, value string, exp time.Time, remove bool) {
	for i, n := range j.names {
		if n != name {
			continue
		}
		if remove {
			j.names = append(j.names[:i], j.names[i+1:]...)
			j.values = append(j.values[:i], j.values[i+1:]...)
			j.expires = append(j.expires[:i], j.expires[i+1:]...)
			return
		}
		j.values[i], j.expires[i] = value, exp
		return
	}
	if !remove {
		j.names = append(j.names, name)
		j.values = append(j.values, value)
		j.expires = append(j.expires, exp)
	}
}
