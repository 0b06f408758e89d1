package webui

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/report"
)

//go:embed assets
var assets embed.FS

// Handler returns the UI's HTTP handler: the page, its JSON endpoints and
// /metrics, behind --web-auth and the host check. Safe for concurrent use.
func (e *Extension) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", e.index)
	mux.HandleFunc("GET /stats/requests", e.statsRequests)
	mux.HandleFunc("GET /stats/history", e.statsHistory)
	mux.HandleFunc("GET /stats/requests/csv", e.csv("requests", report.WriteStatsCSV))
	mux.HandleFunc("GET /stats/failures/csv", e.csv("failures", report.WriteFailuresCSV))
	mux.HandleFunc("GET /exceptions/csv", e.csv("exceptions", report.WriteExceptionsCSV))
	mux.HandleFunc("GET /stats/requests_full_history/csv", e.historyCSV)
	mux.HandleFunc("GET /stats/report", e.htmlReport)
	mux.HandleFunc("GET /stats/report/json", e.jsonReport)
	mux.HandleFunc("GET /exceptions", e.exceptions)
	mux.HandleFunc("GET /config", e.config)
	mux.HandleFunc("POST /swarm", e.sameOrigin(e.swarm))
	mux.HandleFunc("/stop", e.postOnly(e.sameOrigin(e.stop)))
	mux.HandleFunc("/stats/reset", e.postOnly(e.sameOrigin(e.reset)))
	mux.Handle("GET /metrics", e.MetricsHandler())
	return e.guard(mux)
}

// guard adds --web-auth and, on a loopback listener, refuses Host headers
// that are not loopback names (DNS rebinding).
func (e *Extension) guard(next http.Handler) http.Handler {
	user, pass, _ := strings.Cut(e.auth, ":")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.auth != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user))&subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="golocust", charset="UTF-8"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if local := r.Context().Value(http.LocalAddrContextKey); local != nil {
			if ta, ok := local.(*net.TCPAddr); ok && ta.IP.IsLoopback() && !loopbackHost(r.Host) {
				http.Error(w, "this server answers only to a loopback host name", http.StatusMisdirectedRequest)
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// loopbackHost tells whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// crossSite tells whether the browser says r came from another site: a
// Sec-Fetch-Site other than same-origin or none (a typed URL), or else an
// Origin that is not this server's.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "":
	case "same-origin", "none":
		return false
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false // not from a browser page (curl, scripts)
	}
	u, err := url.Parse(o)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

// sameOrigin refuses requests that came from another site.
func (e *Extension) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{"success": false, "message": "cross-origin request refused"})
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (e *Extension) index(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	page := strings.ReplaceAll(string(b), "{{TITLE}}", html.EscapeString(e.title))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	_, _ = w.Write([]byte(page))
}

// current returns the current test's runner (nil before the first).
func (e *Extension) current() *locust.Runner {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.r
}

// running tells whether r is a test that has not ended.
func running(r *locust.Runner) bool { return r != nil && r.State() != locust.StateStopped }

// config answers the form's initial values and the page's settings.
func (e *Extension) config(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	d := e.defaults
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"title": e.title, "form": d, "interval_ms": e.interval.Milliseconds()})
}

// statRow is a row of /stats/requests, in Locust's keys.
type statRow struct {
	Method                  *string `json:"method"`
	Name                    string  `json:"name"`
	SafeName                string  `json:"safe_name"`
	NumRequests             int64   `json:"num_requests"`
	NumFailures             int64   `json:"num_failures"`
	AvgResponseTime         float64 `json:"avg_response_time"`
	MinResponseTime         float64 `json:"min_response_time"`
	MaxResponseTime         float64 `json:"max_response_time"`
	CurrentRPS              float64 `json:"current_rps"`
	CurrentFailPerSec       float64 `json:"current_fail_per_sec"`
	MedianResponseTime      float64 `json:"median_response_time"`
	NinetiethResponseTime   float64 `json:"ninetieth_response_time"`
	NinetyNinthResponseTime float64 `json:"ninety_ninth_response_time"`
	AvgContentLength        float64 `json:"avg_content_length"`
}

// workerRow is a worker in /stats/requests' "workers", in Locust's keys
// (a master's); last_heartbeat, seconds since the worker was last heard
// from, is golocust's.
type workerRow struct {
	ID            string  `json:"id"`
	State         string  `json:"state"`
	UserCount     int     `json:"user_count"`
	CPUUsage      float64 `json:"cpu_usage"`
	LastHeartbeat float64 `json:"last_heartbeat"`
}

// maxRows is Locust's cap on the rows of /stats/requests (the Aggregated
// row is always kept).
const maxRows = 500

func newRow(es locust.EntryStats, aggregated bool) statRow {
	pct := func(p float64) float64 {
		d, _ := es.Percentile(p)
		return ms(d)
	}
	row := statRow{
		Name: es.Name, SafeName: html.EscapeString(es.Name),
		NumRequests: es.Requests, NumFailures: es.Failures,
		AvgResponseTime: ms(es.Avg()), MinResponseTime: ms(es.Min), MaxResponseTime: ms(es.Max),
		CurrentRPS: es.CurrentRPS, CurrentFailPerSec: es.CurrentFailPerSec,
		MedianResponseTime: ms(es.Median()), NinetiethResponseTime: pct(90), NinetyNinthResponseTime: pct(99),
		AvgContentLength: es.AvgContentLength(),
	}
	if !aggregated {
		m := es.Type
		row.Method = &m
	}
	return row
}

// statsRequests is Locust's /stats/requests: the table the page polls.
func (e *Extension) statsRequests(w http.ResponseWriter, r *http.Request) {
	run := e.current()
	out := map[string]any{"state": "ready", "user_count": 0, "stats": []statRow{}, "errors": []any{}}
	e.mu.Lock()
	rem := e.remote
	e.mu.Unlock()
	if rem == nil && run != nil {
		rem = run.Remote()
	}
	if rem != nil { // a master: Locust's workers list
		ws := rem.Workers()
		rows := make([]workerRow, len(ws))
		for i, w := range ws {
			rows[i] = workerRow{ID: w.ID, State: w.State, UserCount: w.Users, CPUUsage: w.CPU}
			if !w.LastHeartbeat.IsZero() {
				rows[i].LastHeartbeat = time.Since(w.LastHeartbeat).Seconds()
			}
		}
		out["workers"], out["worker_count"] = rows, len(rows)
		out["user_count"] = rem.Users()
	}
	if run == nil {
		out["total_rps"], out["fail_ratio"] = 0.0, 0.0
		out["current_response_time_percentile_50"], out["current_response_time_percentile_95"] = 0.0, 0.0
		writeJSON(w, http.StatusOK, out)
		return
	}
	s := run.Snapshot()
	rows := make([]statRow, 0, len(s.Entries)+1)
	for _, es := range s.Entries {
		if len(rows) == maxRows {
			break
		}
		rows = append(rows, newRow(es, false))
	}
	rows = append(rows, newRow(s.Total, true))
	errs := make([]map[string]any, 0, len(s.Errors))
	for i, er := range s.Errors {
		if i == maxRows {
			break
		}
		errs = append(errs, map[string]any{"method": er.Method, "name": er.Name, "error": er.Error, "occurrences": er.Occurrences})
	}
	p50, ok := s.Total.CurrentPercentile(50)
	if !ok {
		p50 = s.Total.Median()
	}
	p95, ok := s.Total.CurrentPercentile(95)
	if !ok {
		p95, _ = s.Total.Percentile(95)
	}
	out["stats"], out["errors"] = rows, errs
	out["total_rps"] = s.Total.CurrentRPS
	out["fail_ratio"] = s.Total.FailRatio()
	out["current_response_time_percentile_50"] = ms(p50)
	out["current_response_time_percentile_95"] = ms(p95)
	out["state"] = run.State().String()
	out["user_count"] = run.UserCount()
	// golocust's additions
	out["host"] = run.Config().Host
	out["stop_reason"] = run.StopReason()
	out["cut_short"] = s.CutShort
	writeJSON(w, http.StatusOK, out)
}

// statsHistory answers the chart points from index "from" on; a client
// whose "gen" differs gets every point again.
func (e *Extension) statsHistory(w http.ResponseWriter, r *http.Request) {
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	gen, genErr := strconv.Atoi(r.URL.Query().Get("gen"))
	e.mu.Lock()
	h := e.hist
	// the generation changes with each test and whenever points were dropped
	cur := e.tests*1_000_000 + h.gen
	if genErr != nil || gen != cur || from < 0 || from > len(h.points) {
		from = 0
	}
	names := make([]map[string]string, len(h.names))
	for i, k := range h.names {
		names[i] = map[string]string{"method": k.typ, "name": k.name}
	}
	out := map[string]any{
		"gen": cur, "from": from, "names": names,
		"points": append([]point{}, h.points[from:]...),
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// snapshot returns the current test's statistics, or an empty snapshot.
func (e *Extension) snapshot() (*locust.Runner, *locust.Snapshot) {
	run := e.current()
	if run == nil {
		return nil, &locust.Snapshot{Time: time.Now(), Total: locust.EntryStats{Name: locust.AggregatedName}}
	}
	return run, run.Snapshot()
}

func download(w http.ResponseWriter, name, typ string) {
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
}

func fileStamp() string { return time.Now().UTC().Format("20060102T150405") }

func (e *Extension) csv(kind string, write func(io.Writer, *locust.Snapshot) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, s := e.snapshot()
		download(w, fmt.Sprintf("%s_%s.csv", kind, fileStamp()), "text/csv; charset=utf-8")
		_ = write(w, s)
	}
}

func (e *Extension) historyCSV(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	b := slices.Clone(e.hist.csv.Bytes())
	e.mu.Unlock()
	download(w, fmt.Sprintf("stats_history_%s.csv", fileStamp()), "text/csv; charset=utf-8")
	_, _ = w.Write(b)
}

// reportInput is the report of the current test.
func (e *Extension) reportInput() report.ReportInput {
	run, s := e.snapshot()
	in := report.ReportInput{Title: e.title, Snapshot: s}
	if run != nil {
		in.Start, in.Host, in.Stats = run.StartTime(), run.Config().Host, run.Stats()
		if end := run.EndTime(); !end.IsZero() {
			in.End = end
		}
	}
	e.mu.Lock()
	in.History = slices.Clone(e.hist.samples)
	e.mu.Unlock()
	return in
}

func (e *Extension) htmlReport(w http.ResponseWriter, r *http.Request) {
	in := e.reportInput()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.URL.Query().Has("download") {
		download(w, fmt.Sprintf("report_%s.html", fileStamp()), "text/html; charset=utf-8")
	}
	if err := report.WriteHTML(w, in); err != nil {
		e.log.Warn("web UI: HTML report", "error", err)
	}
}

func (e *Extension) jsonReport(w http.ResponseWriter, r *http.Request) {
	in := e.reportInput()
	download(w, fmt.Sprintf("report_%s.json", fileStamp()), "application/json")
	if err := report.WriteJSON(w, in); err != nil {
		e.log.Warn("web UI: JSON report", "error", err)
	}
}

// exceptions is Locust's /exceptions.
func (e *Extension) exceptions(w http.ResponseWriter, r *http.Request) {
	_, s := e.snapshot()
	rows := make([]map[string]any, 0, len(s.Exceptions))
	for _, x := range s.Exceptions {
		rows = append(rows, map[string]any{"count": x.Count, "msg": x.Message, "traceback": x.Traceback, "nodes": strings.Join(x.Nodes, ", ")})
	}
	writeJSON(w, http.StatusOK, map[string]any{"exceptions": rows})
}

// swarm is Locust's POST /swarm: it starts a test (from the form) or, while
// one runs, changes its user count and spawn rate.
func (e *Extension) swarm(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		writeJSON(w, code, map[string]any{"success": false, "message": msg})
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	var f form
	var err error
	if f.Users, err = strconv.Atoi(strings.TrimSpace(r.PostForm.Get("user_count"))); err != nil || f.Users < 0 {
		fail(http.StatusBadRequest, "user_count must be a whole number of at least 0")
		return
	}
	rate := strings.TrimSpace(r.PostForm.Get("spawn_rate"))
	if rate == "" {
		f.SpawnRate = 1
	} else if f.SpawnRate, err = strconv.ParseFloat(rate, 64); err != nil || !(f.SpawnRate > 0) || f.SpawnRate > 1e9 {
		fail(http.StatusBadRequest, "spawn_rate must be a number of users per second above 0")
		return
	}
	f.Host = strings.TrimSpace(r.PostForm.Get("host"))
	if f.Host != "" {
		if u, err := url.Parse(f.Host); err != nil || u.Scheme == "" || u.Host == "" {
			fail(http.StatusBadRequest, fmt.Sprintf("host %q is not a URL like http://127.0.0.1:8080", f.Host))
			return
		}
	}
	f.RunTime = strings.TrimSpace(r.PostForm.Get("run_time"))
	var runTime time.Duration
	if f.RunTime != "" {
		if runTime, err = locust.ParseTimespan(f.RunTime); err != nil {
			fail(http.StatusBadRequest, "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.")
			return
		}
	}
	change := func(cur *locust.Runner) {
		if err := cur.SetUsers(f.Users, f.SpawnRate); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Swarming started", "host": cur.Config().Host})
	}
	prev := e.current()
	if running(prev) {
		change(prev)
		return
	}
	e.mu.Lock()
	rem := e.remote
	e.mu.Unlock()
	if rem != nil && len(rem.Workers()) == 0 { // as Locust's master
		fail(http.StatusBadRequest, "You can't start a distributed test before at least one worker processes has connected")
		return
	}
	s := &swarm{cfg: f, runTime: runTime, started: make(chan struct{})}
	giveUp := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for sent := false; !sent; {
		select {
		case e.starts <- s:
			sent = true
		case <-tick.C:
			// another /swarm started a test meanwhile: change that one
			if cur := e.current(); cur != prev && running(cur) {
				change(cur)
				return
			}
		case <-giveUp:
			fail(http.StatusServiceUnavailable, "the program is not ready to start a test (it may be quitting)")
			return
		case <-r.Context().Done():
			return
		}
	}
	<-s.started
	host := f.Host
	if host == "" {
		e.mu.Lock()
		host = e.defaults.Host
		e.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Swarming started", "host": host})
}

// postOnly refuses every method but POST on an endpoint that changes the
// state. Locust 2.12 also took GET on /stop and /stats/reset; a GET can be
// sent by any page a browser shows (an image of another site pointing
// here), and old browsers say nothing of where it came from, so the answer
// says what to send instead.
func (e *Extension) postOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, fmt.Sprintf("%s changes the test: send it as POST (curl -X POST http://HOST:PORT%s); unlike Locust 2.12, GET is refused so that another site's page cannot send it", r.URL.Path, r.URL.Path), http.StatusMethodNotAllowed)
			return
		}
		next(w, r)
	}
}

// stop is Locust's /stop, by POST only (see postOnly).
func (e *Extension) stop(w http.ResponseWriter, r *http.Request) {
	if cur := e.current(); cur != nil {
		cur.Stop()
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Test stopped"})
}

// reset is Locust's /stats/reset, by POST only (see postOnly): it answers
// "ok".
func (e *Extension) reset(w http.ResponseWriter, r *http.Request) {
	if cur := e.current(); cur != nil {
		cur.Stats().Reset()
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}
