// Package cluster speaks Locust's master/worker protocol (ZeroMQ
// ROUTER/DEALER, msgpack [type, data, node_id]; package wire) so that a Go
// load test can run as a worker of a Locust master (a Python Locust 2.x
// master, Debian's 2.12.1 included), and as a master that Python and Go
// workers join.
//
// # Worker
//
// RunWorker (or NewWorker and Worker.Run) joins the master at
// WorkerConfig.MasterHost:MasterPort (Locust's --master-host and
// --master-port, default 127.0.0.1:5557) and runs the user types the
// master asks for: its spawn messages carry absolute user counts per class
// name, and each count goes to the Go user type of the same name (a name the
// worker does not define is logged and reported to the master as an
// exception; the other classes still run). The master's host, stop timeout
// and -T/-E tags apply. Requests are reported every 3 s in Locust's format
// (Collector), task errors and panics as exceptions; stop, quit, reconnect
// and the master's heartbeats are handled.
//
// The command line wires it as
//
//	err := cluster.RunWorker(ctx, cluster.WorkerConfig{
//		MasterHost: masterHost, // --master-host / LOCUST_MASTER_HOST
//		MasterPort: masterPort, // --master-port / LOCUST_MASTER_PORT
//		Base:       cfg,        // stats options, logger; Host and tags as fallbacks
//		Logger:     logger,
//	}, userTypes...)
//
// RunWorker returns nil when the master sent quit or ctx was cancelled (the
// users stop at once and the master gets a final report and a quit), and an
// error when the master never acknowledged the worker (60 tries of 5 s).
//
// # Lost connections
//
// The pure-Go ZeroMQ (go-zeromq/zmq4) silently drops what is sent while its
// connection is down, so the worker dials each connection itself (backoff
// from 100 ms to 2 s) and never hands a report to a dead connection: while
// the link is down requests keep accumulating and go out, merged, after the
// reconnect. A report already written when the connection breaks is kept
// until the kernel says the master's host acknowledged every byte
// (SIOCOUTQ, Linux); if the connection dies before, it is sent again. A
// worker that runs users resumes its heartbeats on the new connection (a
// Locust master heals a worker it had marked missing); an idle worker sends
// client_ready again, so that it joins a master that was restarted.
//
// # Master
//
// NewMaster, Master.Listen and Master.Run run one headless test: they wait
// for MasterConfig.ExpectWorkers workers (any client_ready version is
// accepted, Debian's empty one too), hand out the users by class (weights
// and fixed counts, Distribute) at the spawn rate, with the host, stop
// timeout and tags, mark a worker missing after Locust's heartbeat
// liveness and give its users to the others (a heartbeat heals it; a
// worker that joins a running test gets its share), and send quit after
// RunTime. Master.RunTest runs one of several tests instead: it ends with
// stop, waits for each worker's last report, and leaves the workers
// connected for the next; Master.Close sends them quit. Master.SetUsers
// changes the users while a test runs (a new ramp at its spawn rate), and
// Master.Users is the sum of the workers' users. The workers' reports are
// merged as Locust's master merges them (MasterStats) and, when
// MasterConfig.Stats (or SetStats) is set, into a locust.Stats
// (Stats.Merge).
//
// Master.Remote makes the master the locust.Remote of a Runner
// (Runner.SetRemote): the Runner runs no user itself, its SetUsers sets
// the master's users, and its UserCount and Workers read the workers'. On
// the command line, --master (with --expect-workers, --master-bind-host
// and --master-bind-port) makes Extension a locust.Driver that does so for
// each test: the console, CSV, JSON and HTML reports and the thresholds
// show the workers' requests and users; a load shape (--stages) drives the
// master as it drives a local runner; headless, -t or a stop signal sends
// quit to the workers, whose final reports are in the summary; without
// --headless the web UI starts each test on the connected workers, lists
// them (state, users, CPU) and its stop sends them stop. Not yet: the open
// model and the capacity search on a master (refused), and the workers'
// HDR histograms (percentiles come from Locust's rounded buckets).
//
// Each user type runs in a Runner of its own (the public API sets one total
// per runner), all reporting into the worker's Collector.
package cluster
