// Package webui is the live web UI and the Prometheus endpoint of a
// golocust program: a locust.Extension (and locust.Launcher) that
// run.Command adds, so that a program run without --headless opens, as
// Locust does, a page on --web-host:--web-port (127.0.0.1:8089 by default)
// with a start form, the live statistics, charts, failures, exceptions and
// downloads.
//
// The page is plain HTML, CSS and JavaScript embedded in the program (no
// CDN, no network access beyond the program's own server); its charts are
// SVG drawn by its own small script, redrawn each second from
// /stats/history.
//
// The JSON endpoints keep Locust's shapes, so scripts and dashboards
// written for Locust work:
//
//	GET  /stats/requests         the live table (Locust 2.12.1's keys; see README)
//	POST /swarm                  start a test: user_count, spawn_rate, host, run_time;
//	                             while one runs: change its user count and spawn rate
//	GET|POST /stop               stop the test
//	GET|POST /stats/reset        reset the statistics ("ok")
//	GET  /stats/requests/csv     PREFIX_stats.csv's content
//	GET  /stats/failures/csv     PREFIX_failures.csv's content
//	GET  /exceptions/csv         PREFIX_exceptions.csv's content
//	GET  /stats/requests_full_history/csv  the aggregated stats history
//	GET  /stats/report           the HTML report (?download=1 to save it)
//	GET  /stats/report/json      the JSON document (--json-file's format)
//	GET  /exceptions             {"exceptions": [{count, msg, traceback, nodes}]}
//	GET  /stats/history          the chart points (golocust's own)
//	GET  /metrics                Prometheus metrics
//
// Safety: the server listens on 127.0.0.1 unless --web-host says
// otherwise; a POST (and /stop, /stats/reset) whose Sec-Fetch-Site or
// Origin says it came from another site is refused with 403, so that a web
// page open in the same browser cannot start a load test; on a loopback
// listener a Host header that is not a loopback name is refused (DNS
// rebinding); --web-auth USER:PASSWORD asks for basic authentication and is
// never logged.
//
// Prometheus: locust_requests_total, locust_failures_total,
// locust_response_time_seconds (classic buckets, see Buckets),
// locust_current_rps and locust_current_fail_per_sec, labelled by type and
// name; locust_users, locust_test_running, locust_exceptions_total and
// locust_entries_over_limit. Only the first --metrics-max-names entries (by
// name, default 200) get series; the rest are summed into name="(other)"
// and a warning is logged once per test. --metrics-addr serves /metrics on
// its own address, also with --headless.
package webui
