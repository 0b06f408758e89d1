// Package demo is a small web application to load test: the target that
// the examples and benchmarks start for themselves on 127.0.0.1, so that a
// first run needs no setup and never sends load anywhere else.
//
// Routes:
//
//	GET  /             "ok" (2 bytes)
//	POST /login        form username, password; sets a session cookie
//	GET  /home         needs the session cookie (401 without)
//	GET  /profile      needs the session cookie (401 without)
//	GET  /item/{id}    a small JSON document
//	GET  /slow         waits Options.SlowDelay (or ?ms=N), then "slow"
//	GET  /error        always 500
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Options configures a demo server. The zero value is ready to use.
type Options struct {
	// Addr is the listen address; "" means 127.0.0.1 on a free port. Only
	// loopback addresses are accepted.
	Addr string
	// SlowDelay is how long /slow waits; 0 means 100 ms.
	SlowDelay time.Duration
	// Delay is added to every route (to model a slower service).
	Delay time.Duration
	// MaxInFlight serves at most this many requests at once and queues the
	// rest (0: no limit), so that the server has a known capacity:
	// MaxInFlight / Delay requests per second.
	MaxInFlight int
}

// Server is a running demo target. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, like http://127.0.0.1:40123.
	URL string

	srv      *http.Server
	ln       net.Listener
	slow     atomic.Int64
	delay    atomic.Int64
	requests atomic.Int64
	slots    chan struct{} // nil: no limit
	done     chan struct{}
}

// Start starts a demo server. Stop it with Close.
func Start(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demo: bad address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("demo: address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln, done: make(chan struct{})}
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = 100 * time.Millisecond
	}
	s.slow.Store(int64(opts.SlowDelay))
	s.delay.Store(int64(opts.Delay))
	if opts.MaxInFlight > 0 {
		s.slots = make(chan struct{}, opts.MaxInFlight)
	}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// SetSlowDelay changes how long /slow waits.
func (s *Server) SetSlowDelay(d time.Duration) { s.slow.Store(int64(d)) }

// SetDelay changes the delay added to every route.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Requests is the number of requests served so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close stops the server at once and waits for it.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

func (s *Server) wait(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	ok := []byte("ok")
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(ok)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("username")
		if user == "" || r.FormValue("password") == "" {
			http.Error(w, "username and password required", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: user, Path: "/", HttpOnly: true})
		fmt.Fprintf(w, "welcome %s", user)
	})
	page := func(title string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("session")
			if err != nil {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><body><h1>%s</h1><p>Hello %s</p></body></html>", title, c.Value)
		}
	}
	mux.HandleFunc("GET /home", page("Home"))
	mux.HandleFunc("GET /profile", page("Profile"))
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%d,"name":"item %d","price":%d.99}`, id, id, id%100)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d := time.Duration(s.slow.Load())
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms >= 0 && ms <= 60_000 {
			d = time.Duration(ms) * time.Millisecond
		}
		s.wait(r, d)
		w.Write([]byte("slow"))
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "something broke", http.StatusInternalServerError)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-r.Context().Done():
				return
			}
			defer func() { <-s.slots }()
		}
		s.wait(r, time.Duration(s.delay.Load()))
		mux.ServeHTTP(w, r)
	})
}
