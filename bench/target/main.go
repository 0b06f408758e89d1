// Command target is the minimal HTTP target of the benchmarks: a net/http
// server on a loopback address answering every request with the 2-byte
// body "ok", optionally after a fixed delay.
//
//	target -addr 127.0.0.1:18080 [-delay 20ms]
//
// It refuses non-loopback addresses, so that benchmarks never send load
// anywhere else. It runs until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "loopback address to listen on")
	delay := flag.Duration("delay", 0, "fixed delay before every answer")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "target: %q is not a loopback address\n", *addr)
		os.Exit(2)
	}
	ok := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(ok)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}
