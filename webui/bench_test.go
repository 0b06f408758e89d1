package webui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/webui"
)

// benchUI returns the UI handler showing a test with names entries of
// 1000 requests each (the test is made, not run).
func benchUI(b *testing.B, names int) http.Handler {
	b.Helper()
	r, err := locust.NewRunner(locust.Config{Users: 0}, fastUser())
	if err != nil {
		b.Fatal(err)
	}
	for i := range names {
		for j := range 1000 {
			r.Stats().Record(locust.Request{Type: "GET", Name: fmt.Sprintf("/n%04d", i), Duration: time.Duration(j+1) * 37 * time.Microsecond, Length: 100})
		}
	}
	ext := webui.NewExtension()
	if err := ext.Start(context.Background(), r, io.Discard); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = ext.Stop(context.Background(), r, r.Snapshot(), io.Discard) })
	return ext.Handler()
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8089"+path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, w.Code)
		}
	}
}

// BenchmarkStatsRequests is what the page costs the program each second.
func BenchmarkStatsRequests(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) { benchGet(b, benchUI(b, n), "/stats/requests") })
	}
}

// BenchmarkMetrics is what a Prometheus scrape costs.
func BenchmarkMetrics(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) { benchGet(b, benchUI(b, n), "/metrics") })
	}
}
