package main

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
)

// runNames is the most common Locust mistake at scale: a URL with an id in
// it and no name, so that every request makes a new entry. workers
// goroutines (each with its own Recorder, as users have) record names
// distinct names per times each, in rounds over all the names, while a
// snapshot is taken every second as the runner does for the console. It
// prints the entries of the final snapshot, peak RSS (VmHWM) and time.
func runNames(names, per, workers int) {
	s := locust.NewStats(locust.StatsOptions{Logger: quiet()})
	start := time.Now()
	done := make(chan struct{})
	var snaps sync.WaitGroup
	var snapshots int
	var snapMax time.Duration
	snaps.Add(1)
	go func() {
		defer snaps.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				t0 := time.Now()
				_ = s.Snapshot()
				snapMax = max(snapMax, time.Since(t0))
				snapshots++
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := s.Recorder()
			for round := range per {
				for i := w; i < names; i += workers {
					d := time.Duration(1+(i*7+round*13)%500) * time.Millisecond
					rc.Record(locust.Request{Type: "GET", Name: "/item/" + strconv.Itoa(i), Duration: d, Length: 100})
				}
			}
		}()
	}
	wg.Wait()
	recorded := time.Since(start)
	close(done)
	snaps.Wait()
	t0 := time.Now()
	snap := s.Snapshot()
	last := time.Since(t0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(s) // its entries are part of the heap figure
	fmt.Printf("mode=names names=%d per_name=%d workers=%d entries=%d requests=%d record_s=%.2f final_snapshot_ms=%.0f snapshot_max_ms=%.0f snapshots=%d total_s=%.2f heap_inuse_mib=%s peak_rss_mib=%s\n",
		names, per, workers, len(snap.Entries), snap.Total.Requests, recorded.Seconds(),
		float64(last.Microseconds())/1000, float64(snapMax.Microseconds())/1000, snapshots,
		time.Since(start).Seconds(), measure.MiB(int64(ms.HeapInuse)), measure.MiB(measure.Status("VmHWM")))
}
