// Command cluster measures how many workers one Go master (cluster.Master)
// holds: for each size it starts the master as a child process on
// 127.0.0.1, simulates that many workers in this process over real ZeroMQ
// sockets (each heartbeating every second and sending a stats report every
// 3 s, as Locust's workers do), and prints the master's CPU over a steady
// window (from /proc, percent of one core) and whether every report sent was
// merged.
//
//	go run ./bench/cluster -workers 1000,2000,5000 -window 15s
//
// Linux only (it reads /proc/<pid>/stat). Needs about 2 file descriptors per
// simulated worker (ulimit -n).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/cluster"
	"github.com/golocust/locust/cluster/wire"
)

func main() {
	role := flag.String("role", "sim", "sim (measure) or master (the child process)")
	sizes := flag.String("workers", "1000,2000,5000", "worker counts to measure")
	window := flag.Duration("window", 15*time.Second, "steady window the master's CPU is measured over")
	port := flag.Int("port", 0, "master: port")
	n := flag.Int("n", 0, "master: workers to expect")
	runTime := flag.Duration("runtime", 0, "master: run time")
	profile := flag.String("cpuprofile", "", "write the master's CPU profile to this file")
	flag.Parse()
	if *role == "master" {
		os.Exit(runMaster(*port, *n, *runTime, *profile))
	}
	masterProfile = *profile
	fmt.Printf("%8s %14s %10s %10s %8s\n", "workers", "master CPU %", "reports", "merged", "lost")
	for _, s := range strings.Split(*sizes, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			fmt.Fprintln(os.Stderr, "bad -workers:", s)
			os.Exit(2)
		}
		if err := measure(k, *window); err != nil {
			fmt.Fprintln(os.Stderr, "workers", k, ":", err)
			os.Exit(1)
		}
	}
}

// masterProfile is handed to the master child (-cpuprofile).
var masterProfile string

func runMaster(port, n int, runTime time.Duration, profile string) int {
	if profile != "" {
		// the parent sends SIGUSR1 when its measured window starts and
		// SIGUSR2 when it ends: the profile covers that window only
		f, err := os.Create(profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		sig := make(chan os.Signal, 2)
		signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sig)
		go func() {
			for s := range sig {
				if s == syscall.SIGUSR1 {
					_ = pprof.StartCPUProfile(f)
				} else {
					pprof.StopCPUProfile()
				}
			}
		}()
	}
	m, err := cluster.NewMaster(cluster.MasterConfig{
		BindPort: port, ExpectWorkers: n, Users: n, RunTime: runTime,
		Classes: []cluster.Class{{Name: "Sim"}},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// as the command line's --master: every report also goes into the
		// statistics the console and reports read
		Stats: locust.NewStats(locust.StatsOptions{}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	if err := m.Listen(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("LISTENING")
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reqs, _ := m.Stats().Totals()
	fmt.Println("MERGED", reqs)
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cpuTicks reads a process's user+system time in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc stat")
	}
	return u + st, nil
}

func measure(n int, window time.Duration) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	const warmup = 5 * time.Second
	connectBudget := time.Duration(n)*2*time.Millisecond + 10*time.Second
	runTime := warmup + window + 2*time.Second
	cmd := exec.Command(os.Args[0], "-role", "master", "-port", strconv.Itoa(port), "-n", strconv.Itoa(n), "-runtime", runTime.String(), "-cpuprofile", masterProfile)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "LISTENING" {
		return fmt.Errorf("master did not start")
	}
	merged := make(chan int64, 1)
	go func() {
		for lines.Scan() {
			if v, ok := strings.CutPrefix(lines.Text(), "MERGED "); ok {
				k, _ := strconv.ParseInt(v, 10, 64)
				merged <- k
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()

	var sent, spawned atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), connectBudget+runTime+30*time.Second)
	defer cancel()
	endpoint := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := simWorker(ctx, endpoint, i, &sent, &spawned); err != nil {
				errs <- err
			}
		})
		if i%20 == 19 {
			// do not flood the listener: zmq4 accepts and greets one
			// connection at a time
			time.Sleep(5 * time.Millisecond)
		}
	}
	// the master spawns when all joined; measure after a warm-up
	deadline := time.Now().Add(connectBudget)
	for spawned.Load() < int64(n) {
		select {
		case err := <-errs:
			return err
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d workers got users", spawned.Load(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(warmup)
	c0, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if masterProfile != "" {
		_ = cmd.Process.Signal(syscall.SIGUSR1)
	}
	time.Sleep(window)
	if masterProfile != "" {
		_ = cmd.Process.Signal(syscall.SIGUSR2)
	}
	c1, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return err
	}
	cpu := float64(c1-c0) / 100 / time.Since(t0).Seconds() * 100
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	var got int64
	select {
	case got = <-merged:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("master did not report its totals")
	}
	_ = cmd.Wait()
	fmt.Printf("%8d %14.1f %10d %10d %8d\n", n, cpu, sent.Load(), got, sent.Load()-got)
	return nil
}

// simWorker joins, answers spawn, heartbeats every second and reports one
// request every 3 s until quit (then a final report and quit).
func simWorker(ctx context.Context, endpoint string, i int, sent, spawned *atomic.Int64) error {
	id := fmt.Sprintf("sim%d_%032x", i, i)
	sock := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity(id)), zmq4.WithDialerMaxRetries(20))
	defer sock.Close()
	if err := sock.Dial(endpoint); err != nil {
		return err
	}
	enc := func(typ string, data any) []byte {
		b, err := wire.Encode(wire.Message{Type: typ, Data: data, NodeID: id})
		if err != nil {
			panic(err)
		}
		return b
	}
	entry := func() map[string]any {
		now := float64(time.Now().UnixNano()) / 1e9
		return map[string]any{
			"name": "/sim", "method": "GET", "last_request_timestamp": now, "start_time": now - 3,
			"num_requests": 1, "num_none_requests": 0, "num_failures": 0, "total_response_time": 12.5,
			"max_response_time": 12.5, "min_response_time": 12.5, "total_content_length": 100,
			"response_times": map[int64]int64{13: 1}, "num_reqs_per_sec": map[int64]int64{int64(now): 1},
			"num_fail_per_sec": map[int64]int64{},
		}
	}
	// a Go worker's entries also carry their precise times
	goEntry := func() map[string]any {
		e := entry()
		e["response_times_ns"] = map[int64]int64{12_500_000: 1}
		return e
	}
	report := func() []byte {
		e := goEntry()
		tot := entry()
		tot["name"], tot["method"] = "Aggregated", ""
		return enc(wire.TypeStats, map[string]any{"stats": []any{e}, "stats_total": tot, "errors": map[string]any{},
			"user_classes_count": map[string]int64{"Sim": 1}, "user_count": 1})
	}
	hbReady := enc(wire.TypeHeartbeat, map[string]any{"state": "ready", "current_cpu_usage": 1.0, "current_memory_usage": 1 << 20})
	hbRunning := enc(wire.TypeHeartbeat, map[string]any{"state": "running", "current_cpu_usage": 1.0, "current_memory_usage": 1 << 20})
	if err := sock.Send(zmq4.NewMsg(enc(wire.TypeClientReady, -1))); err != nil {
		return err
	}
	in := make(chan wire.Message, 8)
	go func() {
		defer close(in)
		for {
			m, err := sock.Recv()
			if err != nil {
				return
			}
			if d, err := wire.Decode(m.Frames[0]); err == nil {
				in <- d
			}
		}
	}()
	// spread the workers over the second
	time.Sleep(time.Duration(i%1000) * time.Millisecond)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	running := false
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-in:
			if !ok {
				return fmt.Errorf("worker %d: connection lost", i)
			}
			switch m.Type {
			case wire.TypeSpawn:
				_ = sock.Send(zmq4.NewMsg(enc(wire.TypeSpawning, nil)))
				_ = sock.Send(zmq4.NewMsg(enc(wire.TypeSpawningComplete, map[string]any{"user_classes_count": map[string]int{"Sim": 1}, "user_count": 1})))
				if !running {
					spawned.Add(1)
				}
				running = true
			case wire.TypeQuit:
				if err := sock.Send(zmq4.NewMsg(report())); err == nil {
					sent.Add(1)
				}
				_ = sock.Send(zmq4.NewMsg(enc(wire.TypeQuit, nil)))
				return nil
			}
		case <-tick.C:
			hb := hbReady
			if running {
				hb = hbRunning
			}
			_ = sock.Send(zmq4.NewMsg(hb))
			ticks++
			if running && ticks%3 == 0 {
				if err := sock.Send(zmq4.NewMsg(report())); err == nil {
					sent.Add(1)
				}
			}
		}
	}
}
