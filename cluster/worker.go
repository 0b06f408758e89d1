package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// Defaults of WorkerConfig, as Locust's.
const (
	DefaultMasterPort        = 5557
	DefaultHeartbeatInterval = time.Second
	DefaultReportInterval    = 3 * time.Second
	DefaultAckTimeout        = 5 * time.Second
	DefaultAckRetries        = 60
	// MasterHeartbeatTimeout: a worker that has seen a master heartbeat
	// (Locust 2.19+ masters send them) quits when none came for this long.
	MasterHeartbeatTimeout = 60 * time.Second
)

// WorkerConfig configures a worker that joins a Locust master (Python
// Locust 2.x, or a master speaking its protocol). The zero value joins
// 127.0.0.1:5557 with Locust's timings. It is plain data, read by NewWorker.
type WorkerConfig struct {
	// MasterHost and MasterPort locate the master (--master-host,
	// --master-port); "" means 127.0.0.1 and 0 means 5557.
	MasterHost string
	MasterPort int
	// NodeID is the worker's id, used as its ZeroMQ identity and in every
	// message; "" means "<hostname>_<32 hex digits>" as Locust makes it.
	NodeID string
	// Version is sent in client_ready; "" sends -1, which every Locust 2.x
	// master accepts without a version check.
	Version string
	// Base is the configuration of the runners the worker starts. The
	// master's spawn message overrides Host (when it sends one),
	// StopTimeout, Tags and ExcludeTags; Users and SpawnRate are set by
	// the master's counts; RunTime, Iterations and MaxRequests should be
	// left zero (the master decides when the test ends).
	Base locust.Config
	// Logger receives the worker's log; nil means slog.Default().
	Logger *slog.Logger
	// HeartbeatInterval and ReportInterval default to Locust's 1 s and 3 s.
	HeartbeatInterval, ReportInterval time.Duration
	// AckTimeout and AckRetries bound the wait for the master's ack at
	// start-up (default 5 s × 60, Locust's).
	AckTimeout time.Duration
	AckRetries int
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reach a master that went away (default 100 ms doubling to 2 s).
	ReconnectMin, ReconnectMax time.Duration
	// MasterTimeout: once the master sent a heartbeat (Locust 2.19+
	// masters do), the worker quits when none came for this long (default
	// 60 s, Locust's).
	MasterTimeout time.Duration
	// OnReport, if set, is called with every stats report the worker
	// sends (for tests and logs); it must not keep or change the report.
	OnReport func(*StatsReport)
}

// RunWorker (safe for concurrent use: each call runs its own worker) runs a
// worker until the master sends quit, ctx is cancelled
// (then the users stop at once and the master is told the worker quits), or
// the master cannot be joined. It returns nil after a quit or a cancel.
func RunWorker(ctx context.Context, cfg WorkerConfig, types ...*locust.UserType) error {
	w, err := NewWorker(cfg, types...)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Worker is a Locust-protocol worker: it joins a master, runs the user types
// the master asks for (by class name), and reports their statistics in
// Locust's format. Run it once. Its methods are safe for concurrent use.
type Worker struct {
	cfg      WorkerConfig
	types    map[string]*locust.UserType
	names    []string
	log      *slog.Logger
	coll     *Collector
	endpoint string

	excs     chan wire.Message
	cutShort atomic.Int64
	ran      atomic.Bool

	// owned by Run's goroutine
	link         *link
	state        string
	acked        bool
	lastSpawn    float64
	runners      map[string]*typeRunner
	runCtx       context.Context
	runCancel    context.CancelFunc
	stopTimeout  time.Duration
	host         *string
	tags         []string
	exclude      []string
	inDoubt      []*StatsReport // sent on the link, not acknowledged yet
	seenMasterHB time.Time
	cpu          cpuMeter
}

type typeRunner struct {
	r       *locust.Runner
	done    chan struct{}
	cutSeen int64 // r's cut-short count already passed to the Collector
}

// NewWorker checks the configuration and the user types (names must be
// unique: they are matched with the master's class names).
func NewWorker(cfg WorkerConfig, types ...*locust.UserType) (*Worker, error) {
	if len(types) == 0 {
		return nil, errors.New("cluster: a worker needs at least one user type")
	}
	w := &Worker{cfg: cfg, types: map[string]*locust.UserType{}, excs: make(chan wire.Message, 256)}
	for _, t := range types {
		if t == nil || t.Name == "" {
			return nil, errors.New("cluster: a user type has no name")
		}
		if _, dup := w.types[t.Name]; dup {
			return nil, fmt.Errorf("cluster: two user types are named %q", t.Name)
		}
		w.types[t.Name] = t
		w.names = append(w.names, t.Name)
	}
	if w.cfg.MasterHost == "" {
		w.cfg.MasterHost = "127.0.0.1"
	}
	if w.cfg.MasterPort == 0 {
		w.cfg.MasterPort = DefaultMasterPort
	}
	if w.cfg.MasterPort < 0 || w.cfg.MasterPort > 65535 {
		return nil, fmt.Errorf("cluster: master port %d out of range", w.cfg.MasterPort)
	}
	if w.cfg.NodeID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		var b [16]byte
		_, _ = crand.Read(b[:])
		w.cfg.NodeID = strings.ReplaceAll(host, "_", "-") + "_" + hex.EncodeToString(b[:])
	}
	if w.cfg.HeartbeatInterval <= 0 {
		w.cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if w.cfg.ReportInterval <= 0 {
		w.cfg.ReportInterval = DefaultReportInterval
	}
	if w.cfg.AckTimeout <= 0 {
		w.cfg.AckTimeout = DefaultAckTimeout
	}
	if w.cfg.AckRetries <= 0 {
		w.cfg.AckRetries = DefaultAckRetries
	}
	if w.cfg.MasterTimeout <= 0 {
		w.cfg.MasterTimeout = MasterHeartbeatTimeout
	}
	if w.cfg.ReconnectMin <= 0 {
		w.cfg.ReconnectMin = 100 * time.Millisecond
	}
	if w.cfg.ReconnectMax < w.cfg.ReconnectMin {
		w.cfg.ReconnectMax = max(2*time.Second, w.cfg.ReconnectMin)
	}
	w.log = cfg.Logger
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("node", w.cfg.NodeID)
	w.endpoint = "tcp://" + net.JoinHostPort(w.cfg.MasterHost, strconv.Itoa(w.cfg.MasterPort))
	w.coll = NewCollector(nil)
	return w, nil
}

// NodeID is the worker's node id.
func (w *Worker) NodeID() string { return w.cfg.NodeID }

// CutShort is the number of requests cut short by the stops of the users
// so far: the target may have received them, but they are in no report (as
// in Locust).
func (w *Worker) CutShort() int64 { return w.cutShort.Load() }

// errQuit ends Run normally.
var errQuit = errors.New("quit")

// Run joins the master and serves it until quit or ctx ends. See RunWorker.
func (w *Worker) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return errors.New("cluster: Worker.Run called twice")
	}
	w.state = "ready"
	w.runners = map[string]*typeRunner{}
	w.cpu.sample()
	defer func() {
		w.stopUsers(false)
		if w.link != nil {
			w.link.close()
		}
	}()
	if err := w.connect(ctx); err != nil {
		return err
	}
	if err := w.join(ctx); err != nil {
		if errors.Is(err, errQuit) || ctx.Err() != nil {
			return nil
		}
		return err
	}
	hb := time.NewTicker(w.cfg.HeartbeatInterval)
	defer hb.Stop()
	rep := time.NewTicker(w.cfg.ReportInterval)
	defer rep.Stop()
	for {
		select {
		case <-ctx.Done():
			w.log.Info("worker stopping: context ended")
			w.stopUsers(false)
			w.report()
			w.send(wire.TypeQuit, nil)
			return nil
		case <-w.link.dead:
			if err := w.reconnect(ctx); err != nil {
				return nil // ctx ended
			}
		case m := <-w.link.msgs:
			if err := w.handle(ctx, m); err != nil {
				if errors.Is(err, errQuit) {
					return nil
				}
				return err
			}
		case e := <-w.excs:
			w.sendMsg(e)
		case <-hb.C:
			w.confirm(0)
			w.heartbeat()
			if !w.seenMasterHB.IsZero() && time.Since(w.seenMasterHB) > w.cfg.MasterTimeout {
				w.log.Error("no heartbeat from the master for too long: quitting", "timeout", w.cfg.MasterTimeout)
				w.stopUsers(false)
				w.report()
				w.send(wire.TypeQuit, nil)
				return nil
			}
		case <-rep.C:
			if w.acked {
				w.report()
			}
		}
	}
}

// connect dials the master, retrying with backoff until ctx ends.
func (w *Worker) connect(ctx context.Context) error {
	delay := w.cfg.ReconnectMin
	for attempt := 1; ; attempt++ {
		// the link outlives ctx: after a cancel it still carries the final
		// report and the quit; Run closes it
		l, err := dialLink(context.WithoutCancel(ctx), w.endpoint, w.cfg.NodeID, func(err error) {
			w.log.Warn("dropped a bad message from the master", "err", err)
		})
		if err == nil {
			w.link = l
			if attempt > 1 {
				w.log.Info("connected to the master", "endpoint", w.endpoint, "attempts", attempt)
			}
			return nil
		}
		if attempt == 1 || attempt%10 == 0 {
			w.log.Warn("cannot reach the master, retrying", "endpoint", w.endpoint, "err", err)
		}
		jitter := time.Duration(rand.Int64N(int64(delay)/4 + 1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay + jitter):
		}
		delay = min(2*delay, w.cfg.ReconnectMax)
	}
}

// reconnect replaces a dead link. A report sent shortly before the link
// died, or after, may not have arrived: it is put back to be sent again.
func (w *Worker) reconnect(ctx context.Context) error {
	old := w.link
	w.log.Warn("lost the connection to the master, reconnecting", "err", old.err)
	w.restoreInDoubt()
	old.close()
	if err := w.connect(ctx); err != nil {
		return err
	}
	// a worker that runs users goes on: its heartbeats heal it on the
	// master (Locust marks it missing meanwhile). An idle one registers
	// again, in case the master is a new one.
	if w.state == "ready" {
		w.acked = false
		w.send(wire.TypeClientReady, w.version())
	}
	w.heartbeat()
	return nil
}

// restoreInDoubt puts back the reports whose bytes the master's host had not
// acknowledged when their connection died: they are sent again.
func (w *Worker) restoreInDoubt() {
	for _, r := range w.inDoubt {
		w.coll.Restore(r)
		w.log.Info("sending a report again: the connection died before the master's host acknowledged it", "requests", r.Requests())
	}
	w.inDoubt = nil
}

// confirm forgets the reports in doubt once the kernel says that every byte
// sent on the link was acknowledged. Where it cannot tell (not Linux), a
// report counts as delivered once sent.
func (w *Worker) confirm(wait time.Duration) {
	if len(w.inDoubt) == 0 {
		return
	}
	if _, ok := unsentBytes(w.link.tcp); !ok && w.link.alive() {
		w.inDoubt = nil
		return
	}
	deadline := time.Now().Add(wait)
	for {
		if w.link.delivered() {
			w.inDoubt = nil
			return
		}
		if !time.Now().Before(deadline) || !w.link.alive() {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *Worker) version() any {
	if w.cfg.Version == "" {
		return -1
	}
	return w.cfg.Version
}

// join sends client_ready and waits for the ack, resending it every
// AckTimeout, as Locust's worker does.
func (w *Worker) join(ctx context.Context) error {
	for try := 1; try <= w.cfg.AckRetries; try++ {
		w.send(wire.TypeClientReady, w.version())
		deadline := time.After(w.cfg.AckTimeout)
	wait:
		for !w.acked {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.link.dead:
				if err := w.reconnect(ctx); err != nil {
					return err
				}
			case m := <-w.link.msgs:
				switch m.Type {
				case wire.TypeAck, wire.TypeQuit, wire.TypeReconnect, wire.TypeHeartbeat:
					if err := w.handle(ctx, m); err != nil {
						return err
					}
				default:
					w.log.Warn("message before the ack ignored", "type", m.Type)
				}
			case <-deadline:
				w.log.Warn("no ack from the master yet, sending client_ready again", "try", try, "of", w.cfg.AckRetries)
				break wait
			}
		}
		if w.acked {
			return nil
		}
	}
	return fmt.Errorf("cluster: no ack from the master at %s after %d tries", w.endpoint, w.cfg.AckRetries)
}

func (w *Worker) send(typ string, data any) {
	w.sendMsg(wire.Message{Type: typ, Data: data, NodeID: w.cfg.NodeID})
}

func (w *Worker) sendMsg(m wire.Message) bool {
	m.NodeID = w.cfg.NodeID
	if err := w.link.send(m); err != nil {
		w.log.Warn("could not send to the master", "type", m.Type, "err", err)
		return false
	}
	return true
}

// report sends the requests made since the last report. It takes them only
// while the link is up, so that what is made while it is down goes out,
// merged, after the reconnect.
func (w *Worker) report() {
	if !w.link.alive() {
		return
	}
	w.collectCutShort()
	users := map[string]int64{}
	for name, tr := range w.runners {
		if n := tr.r.UserCounts()[name]; n > 0 {
			users[name] = int64(n)
		}
	}
	r := w.coll.Take(users)
	if w.cfg.OnReport != nil {
		w.cfg.OnReport(r)
	}
	if !w.sendMsg(wire.Message{Type: wire.TypeStats, Data: r}) {
		w.coll.Restore(r)
		return
	}
	w.inDoubt = append(w.inDoubt, r)
	w.confirm(100 * time.Millisecond)
}

func (w *Worker) heartbeat() {
	w.send(wire.TypeHeartbeat, map[string]any{
		"state":                w.state,
		"current_cpu_usage":    w.cpu.sample(),
		"current_memory_usage": memoryUsage(),
	})
}

// handle acts on one message from the master.
func (w *Worker) handle(ctx context.Context, m wire.Message) error {
	if m.NodeID != w.cfg.NodeID {
		w.log.Debug("message for another node dropped", "type", m.Type, "to", m.NodeID)
		return nil
	}
	switch m.Type {
	case wire.TypeAck:
		w.acked = true
		idx := int64(-1)
		if d, ok := wire.Map(m.Data); ok {
			if i, ok := wire.Int(d["index"]); ok {
				idx = i
			}
		}
		w.log.Info("joined the master", "endpoint", w.endpoint, "index", idx)
	case wire.TypeSpawn:
		w.send(wire.TypeSpawning, nil)
		if err := w.spawn(ctx, m.Data); err != nil {
			w.log.Error("bad spawn message", "err", err)
			w.sendException("bad spawn message: "+err.Error(), "")
		}
	case wire.TypeStop:
		w.log.Info("stop from the master")
		w.stopUsers(true)
		w.report()
		w.send(wire.TypeClientStopped, nil)
		w.state, w.acked, w.lastSpawn = "ready", false, 0
		w.send(wire.TypeClientReady, w.version())
	case wire.TypeQuit:
		w.log.Info("quit from the master")
		// a Locust master waits only 0.5 s for the final reports: send
		// what is there at once, then the rest after the users stopped
		start := time.Now()
		w.report()
		w.stopUsers(true)
		w.report()
		w.send(wire.TypeQuit, nil)
		w.log.Info("final report sent", "after", time.Since(start))
		return errQuit
	case wire.TypeReconnect:
		w.log.Warn("the master asked for a new connection")
		w.confirm(100 * time.Millisecond)
		w.restoreInDoubt()
		if m.Data == wire.ReconnectUnknown {
			w.leaveLostTest()
		}
		w.link.close()
		if err := w.connect(ctx); err != nil {
			return errQuit
		}
		w.acked = false
		w.send(wire.TypeClientReady, w.version())
	case wire.TypeHeartbeat:
		w.seenMasterHB = time.Now()
	case wire.TypeSpawningComplete:
		w.log.Debug("the master finished spawning")
	default:
		w.log.Warn("unknown message type from the master ignored", "type", m.Type)
	}
	return nil
}

// spawn applies a spawn message: absolute user counts per class name.
func (w *Worker) spawn(ctx context.Context, data any) error {
	d, ok := wire.Map(data)
	if !ok {
		return fmt.Errorf("data is %T, not a map", data)
	}
	ts, ok := wire.Float(d["timestamp"])
	if !ok {
		return errors.New("no timestamp")
	}
	if ts <= w.lastSpawn {
		w.log.Warn("spawn message older than the last one ignored", "timestamp", ts)
		return nil
	}
	w.lastSpawn = ts
	counts, ok := wire.Map(d["user_classes_count"])
	if !ok {
		return fmt.Errorf("user_classes_count is %T, not a map", d["user_classes_count"])
	}
	want := map[string]int{}
	var unknown []string
	for name, v := range counts {
		n, ok := wire.Int(v)
		if !ok || n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("count of %q is %v", name, v)
		}
		if _, known := w.types[name]; !known {
			if n > 0 {
				unknown = append(unknown, name)
			}
			continue
		}
		want[name] = int(n)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		msg := fmt.Sprintf("this worker has no user type %s (it has %s): their users are not run here",
			strings.Join(unknown, ", "), strings.Join(w.names, ", "))
		w.log.Error(msg)
		w.sendException(msg, "")
	}
	if len(w.runners) == 0 {
		if err := w.options(d); err != nil {
			return err
		}
		w.runCtx, w.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	w.state = "spawning"
	for _, name := range slices.Sorted(maps.Keys(want)) {
		n := want[name]
		tr := w.runners[name]
		if tr == nil {
			if n == 0 {
				continue
			}
			var err error
			if tr, err = w.startRunner(name, n); err != nil {
				w.log.Error("cannot run user type", "type", name, "err", err)
				w.sendException(fmt.Sprintf("cannot run user type %s: %v", name, err), "")
				continue
			}
		}
		if err := tr.r.SetUsers(n, 0); err != nil {
			return err
		}
	}
	for name, tr := range w.runners {
		if _, ok := want[name]; !ok {
			_ = tr.r.SetUsers(0, 0)
		}
	}
	// the master paces the ramp: users start at once; wait until they run
	deadline := time.Now().Add(2 * time.Second)
	for !w.reached(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	running := map[string]int64{}
	var total int64
	for name, tr := range w.runners {
		n := int64(tr.r.UserCounts()[name])
		running[name] = n
		total += n
	}
	w.state = "running"
	w.send(wire.TypeSpawningComplete, map[string]any{"user_classes_count": running, "user_count": total})
	return nil
}

func (w *Worker) reached(want map[string]int) bool {
	for name, tr := range w.runners {
		if tr.r.UserCounts()[name] != want[name] {
			return false
		}
	}
	return true
}

// options reads host, stop_timeout and the tags of a test's first spawn.
func (w *Worker) options(d map[string]any) error {
	w.host = nil
	if h, ok := d["host"].(string); ok && h != "" {
		w.host = &h
	}
	w.stopTimeout = w.cfg.Base.StopTimeout
	if v, present := d["stop_timeout"]; present && v != nil {
		s, ok := wire.Float(v)
		if !ok || s < 0 || s > 1e9 {
			return fmt.Errorf("stop_timeout is %v", v)
		}
		w.stopTimeout = time.Duration(s * float64(time.Second))
	}
	w.tags, w.exclude = w.cfg.Base.Tags, w.cfg.Base.ExcludeTags
	if po, ok := wire.Map(d["parsed_options"]); ok {
		if v, present := po["tags"]; present && v != nil {
			t, err := wire.Strings(v)
			if err != nil {
				return fmt.Errorf("parsed_options tags: %w", err)
			}
			w.tags = t
		}
		if v, present := po["exclude_tags"]; present && v != nil {
			t, err := wire.Strings(v)
			if err != nil {
				return fmt.Errorf("parsed_options exclude_tags: %w", err)
			}
			w.exclude = t
		}
	}
	return nil
}

func (w *Worker) startRunner(name string, n int) (*typeRunner, error) {
	cfg := w.cfg.Base
	if w.host != nil {
		cfg.Host = *w.host
	}
	cfg.StopTimeout = w.stopTimeout
	cfg.Tags, cfg.ExcludeTags = w.tags, w.exclude
	cfg.Users, cfg.SpawnRate = n, 0
	cfg.Node = w.cfg.NodeID
	if cfg.Logger == nil {
		cfg.Logger = w.log
	}
	r, err := locust.NewRunner(cfg, w.types[name])
	if err != nil {
		return nil, err
	}
	r.Events().Request.Add(w.coll.Record)
	r.Events().UserError.Add(w.userError)
	tr := &typeRunner{r: r, done: make(chan struct{})}
	w.runners[name] = tr
	go func() {
		defer close(tr.done)
		if err := r.Run(w.runCtx); err != nil {
			w.log.Error("user type stopped", "type", name, "err", err)
		}
	}()
	return tr, nil
}

// userError runs on a user's goroutine: it queues an exception message
// without blocking.
func (w *Worker) userError(e locust.UserError) {
	msg := strings.ToValidUTF8(e.Err.Error(), "\uFFFD")
	tb := e.Stack
	if tb == "" {
		tb = msg
	}
	select {
	case w.excs <- wire.Message{Type: wire.TypeException, Data: map[string]any{"msg": msg, "traceback": strings.ToValidUTF8(tb, "\uFFFD")}}:
	default:
		w.log.Warn("too many user errors at once: one not sent to the master", "err", msg)
	}
}

func (w *Worker) sendException(msg, tb string) {
	if tb == "" {
		tb = msg
	}
	w.send(wire.TypeException, map[string]any{"msg": msg, "traceback": tb})
}

// leaveLostTest ends the test of a master that does not know this worker
// any more (it was restarted): the users stop at once, and what they did
// since the last report is dropped, with a warning: it belongs to no test
// the master runs. The worker then joins as a new one.
func (w *Worker) leaveLostTest() {
	if len(w.runners) == 0 && w.state == "ready" {
		return
	}
	w.stopUsers(false)
	r := w.coll.Take(nil)
	w.inDoubt = nil
	w.state, w.lastSpawn = "ready", 0
	w.log.Warn("the master does not know this worker (a new master?): the users of its test stopped, their last report dropped",
		"requests", r.Requests(), "cut_short", r.CutShort)
}

// collectCutShort passes the requests the runners cut short since the last
// call to the Collector, for the next report.
func (w *Worker) collectCutShort() {
	for _, tr := range w.runners {
		if n := tr.r.Stats().CutShort(); n > tr.cutSeen {
			w.cutShort.Add(n - tr.cutSeen)
			w.coll.AddCutShort(n - tr.cutSeen)
			tr.cutSeen = n
		}
	}
}

// stopUsers stops every runner of the test and waits for them; graceful
// lets tasks finish for the stop timeout.
func (w *Worker) stopUsers(graceful bool) {
	if len(w.runners) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, tr := range w.runners {
		wg.Go(func() {
			tr.r.Stop()
			if !graceful {
				w.runCancel()
			}
			<-tr.done
		})
	}
	wg.Wait()
	w.collectCutShort()
	w.runCancel()
	// deliver the exceptions of the last moments before the final report
	for {
		select {
		case e := <-w.excs:
			w.sendMsg(e)
			continue
		default:
		}
		break
	}
	w.runners = map[string]*typeRunner{}
	w.state = "ready"
}
