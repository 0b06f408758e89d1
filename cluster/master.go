package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// Class is a user class a Master hands out to its workers: its name (a
// Python worker's User class, a Go worker's UserType.Name) and its Weight,
// or a FixedCount of users. It is plain data.
type Class struct {
	Name       string
	Weight     int
	FixedCount int
}

// MasterConfig configures a Master. It runs one headless test: it waits for
// ExpectWorkers workers, hands out Users users at once, and sends quit after
// RunTime. It is plain data, read by NewMaster.
type MasterConfig struct {
	// BindHost and BindPort: where the master listens (--master-bind-host,
	// --master-bind-port); "" means 127.0.0.1, 0 means 5557, -1 any free port.
	BindHost string
	BindPort int
	// ExpectWorkers is how many ready workers the test waits for (at least 1).
	ExpectWorkers int
	// Classes are the user classes to run; Users is the total.
	Classes []Class
	Users   int
	// SpawnRate is how many users per second the master hands out (shared
	// among the workers), as Locust's -r; 0 hands out all Users at once.
	SpawnRate float64
	// Host, StopTimeout and Tags/ExcludeTags are sent to the workers.
	Host              string
	StopTimeout       time.Duration
	Tags, ExcludeTags []string
	RunTime           time.Duration
	Logger            *slog.Logger
	// HeartbeatInterval is the master's liveness tick (default 1 s, as
	// Locust's): a worker silent for more than 3 ticks is marked missing
	// and its users go to the others; a heartbeat heals it.
	HeartbeatInterval time.Duration
	// Stats, if set, receives every worker report (Stats.Merge) and
	// exception, so that the command line's console, reports and
	// thresholds show the workers' requests.
	Stats *locust.Stats
}

// WorkerInfo is what the master knows of one worker. It is plain data.
type WorkerInfo struct {
	ID, State string
	Index     int
	CPU       float64
	Users     int
	// LastSeen is when the worker last sent a message.
	LastSeen time.Time
}

// Master is a Locust-protocol master (phase 1): Python Locust workers (also
// Debian's, whose client_ready has an empty version) and Go workers join it;
// it hands out users by class and merges their stats reports as Locust's
// master does (MasterStats), and into MasterConfig.Stats when it is set
// (the command line's --master: see Extension). Its methods are safe for
// concurrent use.
type Master struct {
	cfg  MasterConfig
	log  *slog.Logger
	sock zmq4.Socket
	addr *net.TCPAddr

	mu      sync.Mutex
	workers map[string]*masterWorker
	order   []string // node ids by arrival: the index
	stats   *MasterStats
	changed chan struct{}
	running bool // users were handed out: rebalance on changes
	target  int  // users handed out so far (the ramp's step)
	ctl     control
}

type masterWorker struct {
	id       []byte
	info     WorkerInfo
	lastSeen time.Time
	liveness int // Locust's HEARTBEAT_LIVENESS countdown
}

// heartbeatLiveness is Locust's HEARTBEAT_LIVENESS.
const heartbeatLiveness = 3

// NewMaster checks cfg.
func NewMaster(cfg MasterConfig) (*Master, error) {
	if cfg.ExpectWorkers < 1 {
		cfg.ExpectWorkers = 1
	}
	if len(cfg.Classes) == 0 {
		return nil, errors.New("cluster: a master needs at least one user class")
	}
	for _, c := range cfg.Classes {
		if c.Name == "" || c.Weight < 0 || c.FixedCount < 0 {
			return nil, fmt.Errorf("cluster: bad class %+v", c)
		}
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.BindHost == "" {
		cfg.BindHost = "127.0.0.1"
	}
	if cfg.BindPort == 0 {
		cfg.BindPort = DefaultMasterPort
	}
	if cfg.BindPort == -1 {
		cfg.BindPort = 0
	}
	m := &Master{cfg: cfg, log: cfg.Logger, workers: map[string]*masterWorker{}, stats: newMasterStats(), changed: make(chan struct{}, 1)}
	m.ctl = newControl(cfg)
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// Listen binds the master's ROUTER socket and starts receiving and
// watching the workers' heartbeats, until ctx ends or Close (or Run) ends
// the master.
func (m *Master) Listen(ctx context.Context) error {
	m.sock = newRouter(context.WithoutCancel(ctx), 5*time.Second, m.log)
	if err := m.sock.Listen(listenEndpoint(m.cfg.BindHost, m.cfg.BindPort)); err != nil {
		m.sock.Close()
		return fmt.Errorf("cluster: master cannot listen: %w", err)
	}
	m.addr, _ = m.sock.Addr().(*net.TCPAddr)
	lctx, cancel := context.WithCancel(ctx)
	m.ctl.cancel = cancel
	m.ctl.loops.Add(2)
	go func() {
		defer m.ctl.loops.Done()
		m.recvLoop(lctx)
	}()
	go func() {
		defer m.ctl.loops.Done()
		m.liveness(lctx)
	}()
	return nil
}

// Port is the port the master listens on (after Listen).
func (m *Master) Port() int { return m.addr.Port }

// Stats returns the merged statistics so far.
func (m *Master) Stats() *MasterStats { return m.stats }

// Workers lists the workers, by index.
func (m *Master) Workers() []WorkerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []WorkerInfo
	for _, id := range m.order {
		if w := m.workers[id]; w != nil {
			info := w.info
			info.LastSeen = w.lastSeen
			out = append(out, info)
		}
	}
	return out
}

func (m *Master) recvLoop(ctx context.Context) {
	for {
		msg, err := m.sock.Recv()
		if err != nil {
			// zmq4 reports one peer's broken connection here; the socket
			// goes on until closed
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			time.Sleep(time.Millisecond)
			continue
		}
		if len(msg.Frames) != 2 {
			m.log.Warn("master: message with a bad frame count dropped", "frames", len(msg.Frames))
			continue
		}
		dm, err := wire.Decode(msg.Frames[1])
		if err != nil {
			m.log.Warn("master: bad message dropped", "from", string(msg.Frames[0]), "err", err)
			continue
		}
		m.handle(msg.Frames[0], dm)
	}
}

func (m *Master) send(id []byte, node, typ string, data any) {
	b, err := wire.Encode(wire.Message{Type: typ, Data: data, NodeID: node})
	if err != nil {
		m.log.Error("master: encode", "err", err)
		return
	}
	if err := m.sock.Send(zmq4.NewMsgFrom(id, b)); err != nil {
		m.log.Warn("master: send failed", "to", node, "type", typ, "err", err)
	}
}

func (m *Master) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *Master) handle(id []byte, msg wire.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.notify()
	node := string(id)
	w := m.workers[node]
	m.ctl.seen(node, id, msg.Type)
	switch msg.Type {
	case wire.TypeClientReady:
		// any version is accepted: "" (Debian's 2.12.1), -1, "2.x"
		idx := slices.Index(m.order, node)
		if idx < 0 {
			idx = len(m.order)
			m.order = append(m.order, node)
		}
		m.workers[node] = &masterWorker{id: slices.Clone(id), info: WorkerInfo{ID: node, State: "ready", Index: idx}, lastSeen: time.Now(), liveness: heartbeatLiveness}
		m.send(id, node, wire.TypeAck, map[string]any{"index": idx})
		m.log.Info("master: worker ready", "worker", node, "index", idx, "version", msg.Data)
		if m.running { // a worker joins a running test: it gets its share, as in Locust
			m.rebalanceLocked()
		}
		return
	case wire.TypeStats:
		if !m.knownLocked(node) {
			// a worker this master never registered (it ran the test of
			// a master that was restarted): its requests belong to no
			// test here. It is told to join again (wire.ReconnectUnknown).
			m.log.Warn("master: stats of an unknown worker dropped; it is asked to join again", "worker", node)
			m.send(id, node, wire.TypeReconnect, wire.ReconnectUnknown)
			return
		}
		entries, errs, cut, err := m.stats.mergeReport(msg.Data)
		if err != nil {
			m.log.Warn("master: bad stats report", "worker", node, "err", err)
		} else if m.cfg.Stats != nil {
			m.cfg.Stats.Merge(entries, errs)
			if cut > 0 {
				m.cfg.Stats.RecordCutShort(cut)
			}
		}
	case wire.TypeException:
		if d, ok := wire.Map(msg.Data); ok {
			s, _ := d["msg"].(string)
			tb, _ := d["traceback"].(string)
			m.stats.addException(s, tb, node)
			if m.cfg.Stats != nil {
				m.cfg.Stats.AddException(s, tb, node, 1)
			}
		}
	}
	if w == nil {
		if msg.Type != wire.TypeException {
			m.log.Warn("master: message from an unknown worker", "worker", node, "type", msg.Type)
		}
		if msg.Type == wire.TypeHeartbeat && !m.knownLocked(node) {
			m.send(id, node, wire.TypeReconnect, wire.ReconnectUnknown)
		}
		return
	}
	w.lastSeen = time.Now()
	switch msg.Type {
	case wire.TypeHeartbeat:
		w.liveness = heartbeatLiveness
		if d, ok := wire.Map(msg.Data); ok {
			healed := w.info.State == "missing"
			if s, ok := d["state"].(string); ok {
				w.info.State = s
			}
			if healed {
				m.log.Info("master: worker healed with a heartbeat", "worker", node)
				if m.running {
					m.rebalanceLocked()
				}
			}
			if c, ok := wire.Float(d["current_cpu_usage"]); ok {
				w.info.CPU = c
			}
		}
	case wire.TypeSpawning:
		w.info.State = "spawning"
	case wire.TypeSpawningComplete:
		w.info.State = "running"
		if d, ok := wire.Map(msg.Data); ok {
			if n, ok := wire.Int(d["user_count"]); ok {
				w.info.Users = int(n)
			}
		}
	case wire.TypeClientStopped, wire.TypeQuit:
		w.info.State = "stopped"
		delete(m.workers, node)
	}
}

// knownLocked reports whether node is a worker of this master: registered,
// or stopped (client_stopped) and not registered again yet, whose last
// report may still come. m.mu is held.
func (m *Master) knownLocked(node string) bool {
	if m.workers[node] != nil {
		return true
	}
	_, stopped := m.ctl.gone[node]
	return stopped
}

// Distribute (a pure function, safe for concurrent use) splits users among classes (fixed counts first, then by weight,
// largest remainders) and then among n workers (even shares; the
// remainders go round the workers, class after class, so that the
// workers' totals differ by one at most, as Locust's dispatcher keeps
// them). The result is indexed by worker.
func Distribute(classes []Class, users, n int) []map[string]int {
	perClass := map[string]int{}
	left := users
	for _, c := range classes {
		if c.FixedCount > 0 {
			k := min(c.FixedCount, left)
			perClass[c.Name] = k
			left -= k
		}
	}
	var weighted []Class
	total := 0
	for _, c := range classes {
		if c.FixedCount == 0 {
			w := max(c.Weight, 1)
			weighted = append(weighted, Class{Name: c.Name, Weight: w})
			total += w
		}
	}
	if total > 0 && left > 0 {
		type rem struct {
			name string
			frac float64
		}
		var rems []rem
		given := 0
		for _, c := range weighted {
			exact := float64(left) * float64(c.Weight) / float64(total)
			k := int(math.Floor(exact))
			perClass[c.Name] = k
			given += k
			rems = append(rems, rem{c.Name, exact - float64(k)})
		}
		slices.SortStableFunc(rems, func(a, b rem) int {
			switch {
			case a.frac > b.frac:
				return -1
			case a.frac < b.frac:
				return 1
			}
			return 0
		})
		for i := 0; given < left; i++ {
			perClass[rems[i%len(rems)].name]++
			given++
		}
	}
	out := make([]map[string]int, n)
	for i := range out {
		out[i] = map[string]int{}
	}
	// each class's remainder goes on round the workers where the previous
	// class's stopped, so that the workers' totals differ by one at most
	next := 0
	for _, c := range classes {
		k := perClass[c.Name]
		for i := range n {
			out[i][c.Name] = k / n
		}
		for range k % n {
			out[next][c.Name]++
			next = (next + 1) % n
		}
	}
	return out
}

// Run runs one headless test: it waits for the expected workers, hands
// out the users (MasterConfig.Users at SpawnRate, or what SetUsers asked
// for since), follows SetUsers while the test runs, and after RunTime (or
// when ctx ends) sends quit and waits (up to 3 s) for the workers' final
// reports; then it closes the master. Call Listen first. RunTest runs a
// test that leaves the workers connected for the next.
func (m *Master) Run(ctx context.Context) error {
	if m.sock == nil {
		return errors.New("cluster: Master.Run before Listen")
	}
	defer m.Close()
	return m.runTest(ctx, m.cfg.RunTime, m.cfg.ExpectWorkers, true)
}

// RunTest runs one test of a master that runs several (the web UI's): it
// waits for the expected workers, hands out the users SetUsers asked for
// (at its spawn rate), follows SetUsers while the test runs, and after
// runTime (0: no limit) or when ctx ends sends stop to the workers and
// waits (up to the stop timeout and 5 s more) until each has stopped its
// users and sent its last report. The workers stay connected (they send
// client_ready again) for the next test; Close sends them quit. It returns
// ctx's error when ctx ended before the workers were there. Call Listen
// first; one test runs at a time.
func (m *Master) RunTest(ctx context.Context, runTime time.Duration) error {
	if m.sock == nil {
		return errors.New("cluster: Master.RunTest before Listen")
	}
	return m.runTest(ctx, runTime, m.cfg.ExpectWorkers, false)
}

// runTest runs one test once expect workers are ready; quit ends it with
// quit rather than stop.
func (m *Master) runTest(ctx context.Context, runTime time.Duration, expect int, quit bool) error {
	m.log.Info("master: waiting for workers", "expect", expect)
	for {
		m.mu.Lock()
		ready := 0
		for _, w := range m.workers {
			if w.info.State == "ready" {
				ready++
			}
		}
		m.mu.Unlock()
		if ready >= expect {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.changed:
		case <-time.After(time.Second):
		}
	}
	m.mu.Lock()
	m.running = true
	m.target = 0
	m.ctl.restartRamp(0, time.Now())
	m.target = m.ctl.rampTarget(time.Now())
	m.rebalanceLocked()
	m.mu.Unlock()
	var timer <-chan time.Time
	if runTime > 0 {
		t := time.NewTimer(runTime)
		defer t.Stop()
		timer = t.C
	}
	ramp := time.NewTimer(time.Hour)
	defer ramp.Stop()
wait:
	for {
		m.mu.Lock()
		next, ramping := m.ctl.nextStep(m.target, time.Now())
		m.mu.Unlock()
		var rampC <-chan time.Time
		if ramping {
			ramp.Reset(next)
			rampC = ramp.C
		}
		select {
		case <-ctx.Done():
			break wait
		case <-timer:
			break wait
		case <-m.ctl.wake:
		case <-rampC:
			m.mu.Lock()
			if t := m.ctl.rampTarget(time.Now()); t != m.target {
				m.target = t
				m.rebalanceLocked()
				if m.target == m.ctl.want {
					m.log.Info("master: all users handed out", "users", m.target)
				}
			}
			m.mu.Unlock()
		}
		ramp.Stop()
	}
	if quit {
		return m.quitWorkers(3 * time.Second)
	}
	return m.stopWorkers(m.cfg.StopTimeout + 5*time.Second)
}

// rebalanceLocked hands the users out again among the workers that are not
// missing (a new spawn message to each, with a new timestamp), as Locust's
// master does when a worker joins, goes missing or heals. m.mu is held.
func (m *Master) rebalanceLocked() {
	var ids []string
	for _, id := range m.order {
		if w := m.workers[id]; w != nil && w.info.State != "missing" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		m.log.Warn("master: no worker left to run the users")
		return
	}
	shares := Distribute(m.cfg.Classes, m.target, len(ids))
	var host any
	if m.cfg.Host != "" {
		host = m.cfg.Host
	}
	var stopTimeout any
	if m.cfg.StopTimeout > 0 {
		stopTimeout = m.cfg.StopTimeout.Seconds()
	}
	opts := map[string]any{"tags": listOrNil(m.cfg.Tags), "exclude_tags": listOrNil(m.cfg.ExcludeTags)}
	ts := float64(time.Now().UnixNano()) / 1e9
	for i, id := range ids {
		counts := map[string]any{}
		for name, k := range shares[i] {
			counts[name] = k
		}
		m.send(m.workers[id].id, id, wire.TypeSpawn, map[string]any{
			"timestamp": ts, "user_classes_count": counts, "host": host,
			"stop_timeout": stopTimeout, "parsed_options": opts,
		})
	}
	m.log.Info("master: users handed out", "users", m.target, "workers", len(ids))
}

// liveness marks workers missing after Locust's heartbeat liveness (3
// silent ticks) and, while a test runs, gives their users to the others;
// it ends with ctx.
func (m *Master) liveness(ctx context.Context) {
	t := time.NewTicker(m.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		lost := false
		for id, w := range m.workers {
			if w.info.State == "missing" {
				continue
			}
			w.liveness--
			if w.liveness < 0 {
				w.info.State = "missing"
				lost = true
				m.log.Info("master: worker failed to send heartbeats, marked missing", "worker", id)
			}
		}
		if lost && m.running {
			m.rebalanceLocked()
		}
		m.mu.Unlock()
	}
}

func listOrNil(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

// MasterStats is the merge of the workers' reports, as Locust's master
// keeps it: entries by (method, name), the total from the workers'
// stats_total, errors by key, exceptions by message and traceback. Safe for
// concurrent use.
type MasterStats struct {
	mu         sync.Mutex
	entries    map[entryKey]*acc
	total      *acc
	errors     map[string]ErrorReport
	exceptions map[[2]string]int64
	cutShort   int64
}

func newMasterStats() *MasterStats {
	return &MasterStats{entries: map[entryKey]*acc{}, total: newAcc(), errors: map[string]ErrorReport{}, exceptions: map[[2]string]int64{}}
}

// Totals returns the requests and failures of the merged total.
func (s *MasterStats) Totals() (requests, failures int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total.requests, s.total.failures
}

// CutShort returns the requests the workers reported cut short by the stop
// of their users (a Go worker's cut_short key; Python workers send none).
func (s *MasterStats) CutShort() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cutShort
}

// Entry returns the requests and failures of one entry.
func (s *MasterStats) Entry(method, name string) (requests, failures int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.entries[entryKey{method, name}]; a != nil {
		return a.requests, a.failures
	}
	return 0, 0
}

// Errors returns the merged error rows.
func (s *MasterStats) Errors() []ErrorReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ErrorReport
	for _, e := range s.errors {
		out = append(out, e)
	}
	return out
}

// Exceptions returns the number of exceptions reported.
func (s *MasterStats) Exceptions() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, k := range s.exceptions {
		n += k
	}
	return n
}

func (s *MasterStats) addException(msg, tb, node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exceptions[[2]string{msg, tb}]++
}

// mergeReport is merge, plus the report's cut_short count (0 when it has
// none, as a Python worker's).
func (s *MasterStats) mergeReport(data any) ([]locust.RemoteEntry, []locust.RemoteError, int64, error) {
	entries, errs, err := s.merge(data)
	if err != nil {
		return nil, nil, 0, err
	}
	d, _ := wire.Map(data)
	cut, _ := wire.Int(d["cut_short"])
	if cut <= 0 {
		return entries, errs, 0, nil
	}
	s.mu.Lock()
	s.cutShort += cut
	s.mu.Unlock()
	return entries, errs, cut, nil
}

// merge adds one worker report, accepting what Python sends (float keys
// and numbers, None).
func (s *MasterStats) merge(data any) ([]locust.RemoteEntry, []locust.RemoteError, error) {
	d, ok := wire.Map(data)
	if !ok {
		return nil, nil, fmt.Errorf("data is %T", data)
	}
	list, ok := d["stats"].([]any)
	if !ok && d["stats"] != nil {
		return nil, nil, fmt.Errorf("stats is %T", d["stats"])
	}
	var entries []struct {
		k entryKey
		a *acc
	}
	for _, e := range list {
		em, ok := wire.Map(e)
		if !ok {
			return nil, nil, fmt.Errorf("entry is %T", e)
		}
		a, k, err := parseEntry(em)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, struct {
			k entryKey
			a *acc
		}{k, a})
	}
	tm, ok := wire.Map(d["stats_total"])
	if !ok {
		return nil, nil, errors.New("no stats_total")
	}
	total, _, err := parseEntry(tm)
	if err != nil {
		return nil, nil, err
	}
	var remote []locust.RemoteEntry
	var remoteErrs []locust.RemoteError
	errs, _ := wire.Map(d["errors"])
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		cur := s.entries[e.k]
		if cur == nil {
			cur = newAcc()
			s.entries[e.k] = cur
		}
		cur.merge(e.a)
		remote = append(remote, e.a.remote(e.k))
	}
	s.total.merge(total)
	for key, v := range errs {
		em, ok := wire.Map(v)
		if !ok {
			continue
		}
		n, _ := wire.Int(em["occurrences"])
		{
			name, _ := em["name"].(string)
			method, _ := em["method"].(string)
			text, _ := em["error"].(string)
			remoteErrs = append(remoteErrs, locust.RemoteError{Method: method, Name: name, Text: text, Count: n})
		}
		if cur, ok := s.errors[key]; ok {
			cur.Occurrences += n
			s.errors[key] = cur
			continue
		}
		name, _ := em["name"].(string)
		method, _ := em["method"].(string)
		text, _ := em["error"].(string)
		s.errors[key] = ErrorReport{Name: name, Method: method, Error: text, Occurrences: n}
	}
	return remote, remoteErrs, nil
}

// remote is the accumulator as a report for locust.Stats.Merge.
func (a *acc) remote(k entryKey) locust.RemoteEntry {
	return locust.RemoteEntry{
		Type: k.method, Name: k.name, Requests: a.requests, Failures: a.failures,
		TotalTime: time.Duration(a.totalNs), Min: time.Duration(max(a.minNs, 0)), Max: time.Duration(a.maxNs),
		ContentLength: a.length, Buckets: a.rt, RequestsPerSec: a.reqs, FailuresPerSec: a.fails,
		Times: a.recvNs,
	}
}

func parseEntry(m map[string]any) (*acc, entryKey, error) {
	name, _ := m["name"].(string)
	method, _ := m["method"].(string) // None for a 2.12 total
	num := func(k string) float64 {
		f, _ := wire.Float(m[k])
		return f
	}
	a := &acc{
		requests: int64(num("num_requests")), failures: int64(num("num_failures")),
		length: int64(num("total_content_length")), totalNs: msToNs(num("total_response_time")),
		maxNs: msToNs(num("max_response_time")), minNs: -1,
	}
	if f, ok := wire.Float(m["min_response_time"]); ok {
		a.minNs = msToNs(f)
	}
	if f, ok := wire.Float(m["last_request_timestamp"]); ok {
		a.last = time.Unix(0, int64(f*1e9))
	}
	// the maps stay nil when empty (a report's are read, never written)
	for _, f := range [...]struct {
		key string
		dst *map[int64]int64
	}{{"response_times", &a.rt}, {"num_reqs_per_sec", &a.reqs}, {"num_fail_per_sec", &a.fails}} {
		src, ok := m[f.key].(map[any]any)
		if !ok {
			continue // empty maps decode with string keys
		}
		*f.dst = make(map[int64]int64, len(src))
		for k, v := range src {
			kf, ok1 := wire.Float(k)
			n, ok2 := wire.Int(v)
			if !ok1 || !ok2 {
				return nil, entryKey{}, fmt.Errorf("%s: %v: %v", f.key, k, v)
			}
			(*f.dst)[int64(math.Round(kf))] += n
		}
	}
	if v, present := m["response_times_ns"]; present {
		// a Go worker's precise times (see EntryReport.ResponseTimesNs)
		a.recvNs = map[int64]int64{}
		src, _ := v.(map[any]any)
		for k, v := range src {
			ns, ok1 := wire.Int(k)
			n, ok2 := wire.Int(v)
			if !ok1 || !ok2 || ns < 0 || n < 0 {
				return nil, entryKey{}, fmt.Errorf("response_times_ns: %v: %v", k, v)
			}
			a.recvNs[ns] += n
		}
	}
	if a.requests < 0 || a.failures < 0 {
		return nil, entryKey{}, errors.New("negative counts")
	}
	return a, entryKey{method, name}, nil
}
