package webui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golocust/locust"
)

// Option configures an Extension; pass it to NewExtension. Options are
// plain functions, safe to share.
type Option func(*Extension)

// WithTitle sets the title of the page and of its HTML report.
func WithTitle(title string) Option { return func(e *Extension) { e.title = title } }

// WithSampleInterval sets how often the charts get a point (and the page
// polls, within 250 ms to 2 s); 0 or less means every second.
func WithSampleInterval(d time.Duration) Option { return func(e *Extension) { e.interval = d } }

// DefaultMaxNames is how many request entries get their own Prometheus
// series (and chart line) when --metrics-max-names is not given.
const DefaultMaxNames = 200

// Extension is the web UI and Prometheus endpoint of a golocust program,
// as a locust.Extension and a locust.Launcher. Its flags:
//
//	--web-host HOST          interface of the UI (default 127.0.0.1)
//	--web-port, -P PORT      port of the UI (default 8089; 0: a free port)
//	--web-auth USER:PASS     basic authentication for the UI
//	--autoquit SECONDS       quit that long after a test ends (default -1: never)
//	--metrics-addr ADDR      serve /metrics on ADDR too (also headless)
//	--metrics-max-names N    entries with their own series (default 200)
//
// Without --headless, Command.Run hands it the loop of tests: the UI
// opens, its start form (or --autostart) starts a test, its "new test"
// button the next. Every test gets a new locust.Runner; the page follows
// the current one. With --headless the UI does not open; --metrics-addr
// still serves /metrics for the test.
//
// An Extension serves one Command run at a time: Flags, Configure, Start,
// Stop, Launch and Close must not be called concurrently with each other
// (Command does not). URL and the HTTP handlers are safe for concurrent
// use.
type Extension struct {
	title    string
	interval time.Duration

	// flags
	webHost     string
	webPort     int
	auth        string
	autoquit    int
	metricsAddr string
	maxNames    int

	log      *slog.Logger
	launched bool         // Launch was called: the UI is on
	starts   chan *swarm  // start requests from the page, read by Launch
	srv      *http.Server // the UI
	url      string
	msrv     *http.Server  // --metrics-addr (mu)
	mdone    chan struct{} // closed when msrv's Serve returned (mu)
	serving  sync.WaitGroup

	mu       sync.Mutex
	r        *locust.Runner // the current or last test
	defaults form           // the form's initial values
	hist     *history
	sampler  func() // stops the current sampler
	tests    int    // tests started
	pending  *swarm // the /swarm that started the next test, until Start
	warned   bool   // the --metrics-max-names warning was logged
	reg      *prometheus.Registry
	urlReady chan struct{}
	remote   locust.Remote // a master's workers (ViewRemote), or nil
}

var (
	_ locust.Extension    = (*Extension)(nil)
	_ locust.Launcher     = (*Extension)(nil)
	_ locust.RemoteViewer = (*Extension)(nil)
)

// form is what the start form asks for.
type form struct {
	Users     int     `json:"user_count"`
	SpawnRate float64 `json:"spawn_rate"`
	Host      string  `json:"host"`
	RunTime   string  `json:"run_time"`
}

// swarm is a start request from the page, answered once the test runs.
type swarm struct {
	cfg     form
	runTime time.Duration
	started chan struct{}
}

// NewExtension returns the web UI extension. Pass it in
// locust.Command.Extensions (run.Command does); see Extension for what is
// safe for concurrent use.
func NewExtension(opts ...Option) *Extension {
	e := &Extension{
		title:    "golocust",
		webHost:  "127.0.0.1", // the flags' defaults, also when Flags is not called
		webPort:  8089,
		autoquit: -1,
		maxNames: DefaultMaxNames,
		starts:   make(chan *swarm),
		hist:     newHistory(DefaultMaxNames),
		urlReady: make(chan struct{}),
	}
	for _, o := range opts {
		o(e)
	}
	if e.interval <= 0 {
		e.interval = time.Second
	}
	e.reg = prometheus.NewRegistry()
	e.reg.MustRegister(newCollector(e))
	return e
}

// Flags registers the extension's flags on fs. Not safe for concurrent use
// (see Extension).
func (e *Extension) Flags(fs *flag.FlagSet) {
	fs.StringVar(&e.webHost, "web-host", "127.0.0.1", "the interface (`HOST`) the web UI listens on (\"*\" or \"\": every interface)")
	fs.IntVar(&e.webPort, "web-port", 8089, "`PORT` of the web UI (0: a free one)")
	fs.IntVar(&e.webPort, "P", 8089, "short for --web-port `PORT`")
	fs.StringVar(&e.auth, "web-auth", "", "require basic authentication `USER:PASSWORD` for the web UI")
	fs.IntVar(&e.autoquit, "autoquit", -1, "with the web UI, quit `SECONDS` after a test ends (-1: never)")
	fs.StringVar(&e.metricsAddr, "metrics-addr", "", "also serve Prometheus /metrics on `ADDR` (e.g. 127.0.0.1:9646), with or without --headless")
	fs.IntVar(&e.maxNames, "metrics-max-names", DefaultMaxNames, "at most `N` request names get their own /metrics series (the first by name; the rest are summed into name=\"(other)\") and chart line")
}

// check validates the flags.
func (e *Extension) check() error {
	if e.auth != "" && !strings.Contains(e.auth, ":") {
		return errors.New("--web-auth must be USER:PASSWORD")
	}
	if e.webPort < 0 || e.webPort > 65535 {
		return fmt.Errorf("--web-port %d is not a port", e.webPort)
	}
	if e.maxNames < 1 {
		return fmt.Errorf("--metrics-max-names must be at least 1, not %d", e.maxNames)
	}
	return nil
}

// ViewRemote makes the page show rem's workers (a cluster master's: id,
// state, users, CPU) and user count, also before the first test; the
// command line calls it with --master. Safe for concurrent use.
func (e *Extension) ViewRemote(rem locust.Remote) {
	e.mu.Lock()
	e.remote = rem
	e.mu.Unlock()
}

// URL returns the address of the UI once it listens ("" before, or with
// --headless). Safe for concurrent use.
func (e *Extension) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

// Ready is closed once the UI listens. Safe for concurrent use.
func (e *Extension) Ready() <-chan struct{} { return e.urlReady }

// Start registers r as the current test: the page and /metrics show it
// from now on. Headless, it starts the --metrics-addr server. Not safe for
// concurrent use (see Extension).
func (e *Extension) Start(ctx context.Context, r *locust.Runner, out io.Writer) error {
	if err := e.check(); err != nil {
		return err
	}
	e.log = r.Config().Logger
	if e.log == nil {
		e.log = slog.Default()
	}
	if err := e.startMetrics(); err != nil {
		return err
	}
	e.mu.Lock()
	served := e.mdone
	e.mu.Unlock()
	if !e.launched && served != nil {
		// headless: the server ends with the test, also when Stop is not
		// called (an aborted test); ctx ends when the command's run does
		go func() {
			select {
			case <-ctx.Done():
				_ = e.closeMetrics()
			case <-served:
			}
		}()
	}
	e.mu.Lock()
	e.r = r
	e.tests++
	e.warned = false
	e.hist = newHistory(e.maxNames)
	e.mu.Unlock()
	e.answerPending() // the page's /swarm answers once the new test is the current one
	if e.launched {
		e.startSampler(r)
	}
	return nil
}

// Stop takes the final sample of the test. Headless, it closes the
// --metrics-addr server. It never decides the exit code. Not safe for
// concurrent use (see Extension).
func (e *Extension) Stop(ctx context.Context, r *locust.Runner, final *locust.Snapshot, out io.Writer) (locust.Verdict, error) {
	e.stopSampler()
	e.mu.Lock()
	if e.r == r {
		e.hist.add(final, true)
	}
	e.mu.Unlock()
	if !e.launched {
		return locust.Verdict{}, e.closeMetrics()
	}
	return locust.Verdict{}, nil
}

// Launch opens the UI (the first time) and waits for the start form, or
// returns at once with autostart. After a test, with --autoquit N, it
// returns false N seconds after the test ended unless the page starts a
// new test first. Not safe for concurrent use (see Extension).
func (e *Extension) Launch(ctx context.Context, cfg *locust.Config, autostart bool) (bool, error) {
	if !e.launched {
		if err := e.check(); err != nil {
			return false, err
		}
		e.launched = true
		e.log = cfg.Logger
		if e.log == nil {
			e.log = slog.Default()
		}
		e.mu.Lock()
		e.defaults = form{Users: cfg.Users, SpawnRate: cfg.SpawnRate, Host: cfg.Host}
		if cfg.RunTime > 0 {
			e.defaults.RunTime = cfg.RunTime.String()
		}
		e.mu.Unlock()
		if err := e.listen(); err != nil {
			return false, err
		}
		if err := e.startMetrics(); err != nil {
			return false, err
		}
	}
	e.answerPending()
	if autostart {
		return true, nil
	}
	var quit <-chan time.Time
	e.mu.Lock()
	ran := e.tests > 0
	e.mu.Unlock()
	if ran && e.autoquit >= 0 {
		e.log.Info("quitting after --autoquit unless a new test starts", "seconds", e.autoquit)
		t := time.NewTimer(time.Duration(e.autoquit) * time.Second)
		defer t.Stop()
		quit = t.C
	}
	select {
	case <-ctx.Done():
		return false, nil
	case <-quit:
		return false, nil
	case s := <-e.starts:
		cfg.Users, cfg.SpawnRate, cfg.RunTime = s.cfg.Users, s.cfg.SpawnRate, s.runTime
		if s.cfg.Host != "" {
			cfg.Host = s.cfg.Host
		}
		d := s.cfg
		d.Host = cfg.Host // the host the test runs against
		e.mu.Lock()
		e.defaults = d
		e.pending = s // answered by Start (or Close, if the test cannot start)
		e.mu.Unlock()
		return true, nil
	}
}

// listen starts the UI server and logs its URL.
func (e *Extension) listen() error {
	host := e.webHost
	if host == "*" {
		host = ""
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(e.webPort)))
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	e.srv = srv
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		_ = srv.Serve(ln)
	}()
	u := "http://" + displayAddr(ln.Addr())
	e.mu.Lock()
	e.url = u
	e.mu.Unlock()
	e.log.Info("web UI: open "+u+" in a browser to start the test", "url", u)
	close(e.urlReady)
	return nil
}

// displayAddr is a listen address a browser can open.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return ta.String()
}

// startMetrics starts the --metrics-addr server once.
func (e *Extension) startMetrics() error {
	e.mu.Lock()
	running := e.msrv != nil
	e.mu.Unlock()
	if e.metricsAddr == "" || running {
		return nil
	}
	ln, err := net.Listen("tcp", e.metricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.MetricsHandler())
	srv := &http.Server{Handler: e.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	e.mu.Lock()
	e.msrv, e.mdone = srv, done
	e.mu.Unlock()
	e.log.Info("Prometheus metrics", "url", "http://"+displayAddr(ln.Addr())+"/metrics")
	return nil
}

// closeMetrics stops the --metrics-addr server, if it runs. Safe for
// concurrent use.
func (e *Extension) closeMetrics() error {
	e.mu.Lock()
	srv, done := e.msrv, e.mdone
	e.msrv, e.mdone = nil, nil
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// answerPending lets a waiting /swarm answer.
func (e *Extension) answerPending() {
	e.mu.Lock()
	s := e.pending
	e.pending = nil
	e.mu.Unlock()
	if s != nil {
		close(s.started)
	}
}

// Close stops the servers and the sampler. Not safe for concurrent use
// (see Extension).
func (e *Extension) Close() error {
	e.answerPending()
	e.stopSampler()
	var err error
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err = e.srv.Shutdown(ctx); err != nil {
			err = e.srv.Close()
		}
		cancel()
		e.srv = nil
	}
	_ = e.closeMetrics()
	e.serving.Wait()
	return err
}

// startSampler takes a history point every interval until the test stops.
func (e *Extension) startSampler(r *locust.Runner) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				s := r.Snapshot()
				e.mu.Lock()
				if e.r == r {
					e.hist.add(s, false)
				}
				e.mu.Unlock()
				if r.State() == locust.StateStopped {
					return
				}
			}
		}
	}()
	var once sync.Once
	e.mu.Lock()
	e.sampler = func() { once.Do(func() { close(quit); <-done }) }
	e.mu.Unlock()
}

func (e *Extension) stopSampler() {
	e.mu.Lock()
	stop := e.sampler
	e.sampler = nil
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
}
