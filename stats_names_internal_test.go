package locust

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The entry table finds every entry it holds, whatever their hashes:
// equal hashes (a chain), hashes equal but for their top bits (the deepest
// split), and ordinary ones; each visits every entry once.
func TestEntryTableHashes(t *testing.T) {
	tab := newEntryTable()
	type item struct {
		h uint64
		e *entry
	}
	var items []item
	add := func(h uint64, name string) {
		e := &entry{typ: "GET", name: name}
		require.Nil(t, tab.get(h, "GET", name))
		tab.insertLocked(h, e)
		items = append(items, item{h, e})
	}
	for i := range 3 {
		add(0xabcdef, "same-"+strconv.Itoa(i))
	}
	for i := range 16 {
		add(uint64(i)<<60|0x1234, "top-"+strconv.Itoa(i))
	}
	for i := range 5000 {
		add(tab.hash("GET", "/item/"+strconv.Itoa(i)), "/item/"+strconv.Itoa(i))
	}
	for _, it := range items {
		assert.Same(t, it.e, tab.get(it.h, "GET", it.e.name), it.e.name)
		assert.Nil(t, tab.get(it.h, "POST", it.e.name), "type is part of the key")
	}
	assert.Nil(t, tab.get(0xabcdef, "GET", "same-9"))
	seen := map[*entry]int{}
	tab.each(func(e *entry) { seen[e]++ })
	assert.Len(t, seen, len(items))
	for e, n := range seen {
		assert.Equal(t, 1, n, e.name)
	}
}

// Lookups run without a lock while entries are added (run with -race).
func TestEntryTableConcurrentLookups(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := NewStats(StatsOptions{Logger: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				name := "/n/" + strconv.Itoa((i*7+g*13)%2000)
				e := s.lookup("GET", name)
				if e.name != name {
					t.Errorf("lookup %q gave %q", name, e.name)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2000, s.entries.len())
}

// Merged requests go through the same forms as recorded ones: exact values,
// then a packed histogram; a full histogram only for a busy entry.
func TestMergedEntryStaysPacked(t *testing.T) {
	s := NewStats(StatsOptions{})
	for range 3 {
		s.Merge([]RemoteEntry{{Type: "GET", Name: "/a", Requests: 40, Min: time.Millisecond, Max: 3 * time.Millisecond,
			Buckets: map[int64]int64{1: 20, 2: 10, 3: 10}}}, nil)
	}
	e := s.entries.get(s.entries.hash("GET", "/a"), "GET", "/a")
	if e == nil {
		t.Fatal("no entry")
	}
	if e.lat.hist != nil || e.lat.packed == nil || e.lat.packed.TotalCount() != 120 {
		t.Fatalf("120 merged requests: want a packed histogram of 120, have exact=%d packed=%v hist=%v",
			len(e.lat.exact), e.lat.packed != nil, e.lat.hist != nil)
	}
}

// With current percentiles per entry (--csv-full-history), reading them
// does not give every entry a full histogram as scratch (about 190 KiB).
func TestCurrentPercentilesKeepEntriesSmall(t *testing.T) {
	s := NewStats(StatsOptions{CurrentPercentiles: true})
	for i := range 50 {
		s.Record(Request{Type: "GET", Name: fmt.Sprintf("/item/%d", i), Duration: time.Duration(i+1) * time.Millisecond})
	}
	snap := s.Snapshot()
	if len(snap.Entries) != 50 {
		t.Fatalf("%d entries", len(snap.Entries))
	}
	for _, es := range snap.Entries {
		e := s.entries.get(s.entries.hash(es.Type, es.Name), es.Type, es.Name)
		if e.window == nil || e.window.tmp != nil {
			t.Fatalf("%s: window %v, full scratch histogram %v", es.Name, e.window != nil, e.window != nil && e.window.tmp != nil)
		}
		if p, _ := es.CurrentPercentile(50); p <= 0 {
			t.Fatalf("%s: current p50 %s", es.Name, p)
		}
	}
}
