package readme_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/run"
	"github.com/golocust/locust/threshold"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ---- The website user (README: "The website user, in Go") ----

var websiteTasks = locust.NewTaskSet("WebsiteTasks").
	OnStart(onStart).
	Task(4, home).
	Task(2, profile)

func onStart(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).PostForm(ctx, "/login", url.Values{
		"username": {"kubilay"},
		"password": {"******"},
	})
	return err
}

func home(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/home")
	return err
}

func profile(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/profile")
	return err
}

var websiteUser = &locust.UserType{
	Name:  "WebsiteUser",
	Tasks: websiteTasks,
	Wait:  locust.Between(5*time.Second, 15*time.Second),
}

func main() {
	run.Main(websiteUser)
}

// ---- Several user types ----

func login(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).PostForm(ctx, "/login", url.Values{
		"username": {fmt.Sprintf("user%d", u.ID())},
		"password": {"secret"},
	})
	return err
}

func frontPage(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/")
	return err
}

func item(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, fmt.Sprintf("/item/%d", u.ID()%100), client.Name("/item/{id}"))
	return err
}

func slow(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/slow")
	return err
}

// One admin whatever the user count; of the other users, three visitors
// for each shopper.
var admin = &locust.UserType{
	Name:       "Admin",
	FixedCount: 1,
	OnStart:    login,
	Tasks:      locust.NewTaskSet("admin").Task(1, home),
	Wait:       locust.Constant(time.Second),
}

var visitor = &locust.UserType{
	Name:   "Visitor",
	Weight: 3,
	Tasks:  locust.NewTaskSet("visit").Task(1, frontPage).Task(4, item),
	Wait:   locust.Between(500*time.Millisecond, 2*time.Second),
}

var shopper = &locust.UserType{
	Name:    "Shopper",
	Weight:  1,
	OnStart: login,
	Tasks:   shop, // below
	Wait:    locust.Between(time.Second, 3*time.Second),
}

// ---- Wait strategies ----

var waits = []locust.WaitTime{
	locust.Between(time.Second, 5*time.Second), // uniform in [1s, 5s]: Locust's between
	locust.Constant(2 * time.Second),           // always 2 s: constant
	locust.ConstantPacing(10 * time.Second),    // a task every 10 s, however long it took: constant_pacing
	locust.ConstantThroughput(0.5),             // at most 0.5 tasks/s per user: constant_throughput
	locust.WaitFunc(func(u *locust.User) time.Duration { // anything else
		return time.Duration(u.ID()%5) * time.Second
	}),
}

// ---- Nested and sequential task sets, tags ----

// checkout runs its steps in order, then hands control back to shop.
var checkout = locust.NewSequentialTaskSet("checkout").
	Task(1, item).
	Task(2, profile). // twice in a row
	Task(1, func(ctx context.Context, u *locust.User) error { return locust.ErrInterrupt })

// shop browses 10 times in 13, loads a slow page once and goes through
// checkout twice. -T checkout runs only checkout; -E slow skips /slow.
var shop = locust.NewTaskSet("shop").
	Task(10, item, locust.Tags("browse")).
	Task(1, slow, locust.Tags("slow")).
	TaskSet(2, checkout, locust.Tags("checkout"))

// ---- Running from code ----

// loadTest runs 50 users against host for d and prints a summary.
func loadTest(ctx context.Context, host string, d time.Duration) (*locust.Snapshot, error) {
	r, err := locust.NewRunner(locust.Config{
		Host:      host,
		Users:     50,
		SpawnRate: 25,
		RunTime:   d,
	}, admin, visitor, shopper)
	if err != nil {
		return nil, err
	}
	r.Events().SpawningComplete.Add(func(n int) { fmt.Println("all", n, "users running:", r.UserCounts()) })
	if err := r.Run(ctx); err != nil { // returns when the run time is over or ctx ends
		return nil, err
	}
	s := r.Snapshot()
	p95, _ := s.Total.Percentile(95)
	fmt.Printf("%d requests, %.2f%% failed, p95 %s\n", s.Total.Requests, 100*s.Total.FailRatio(), p95)
	return s, nil
}

// ---- Reports and thresholds on the command line ----

func mainWithReports() {
	th := threshold.NewExtension()
	cmd := &locust.Command{
		Users:      []*locust.UserType{websiteUser},
		Extensions: []locust.Extension{th, report.NewExtension(report.WithThresholds(th))},
	}
	os.Exit(cmd.Run(context.Background(), os.Args[1:]))
}

var (
	_ = main
	_ = mainWithReports
)

// ---- Tests that run the code above ----

func startDemo(t *testing.T) *demo.Server {
	t.Helper()
	srv, err := demo.Start(demo.Options{SlowDelay: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

var quiet = slog.New(slog.DiscardHandler)

func TestLoadTestFromCode(t *testing.T) {
	srv := startDemo(t)
	s, err := loadTest(t.Context(), srv.URL, 1500*time.Millisecond)
	require.NoError(t, err)
	assert.Positive(t, s.Total.Requests)
	assert.Zero(t, s.Total.Failures, "%v", s.Errors)
	assert.Empty(t, s.Exceptions)
	for _, name := range []string{"/", "/item/{id}", "/login", "/home"} {
		assert.True(t, hasEntry(s, name), name)
	}
}

func hasEntry(s *locust.Snapshot, name string) bool {
	for _, e := range s.Entries {
		if e.Name == name && e.Requests > 0 {
			return true
		}
	}
	return false
}

func TestUserTypesWeightsAndFixedCounts(t *testing.T) {
	srv := startDemo(t)
	r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 9, RunTime: 300 * time.Millisecond, Logger: quiet},
		admin, visitor, shopper)
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		counts map[string]int
	)
	r.Events().SpawningComplete.Add(func(int) {
		mu.Lock()
		defer mu.Unlock()
		counts = r.UserCounts()
	})
	require.NoError(t, r.Run(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"Admin": 1, "Visitor": 6, "Shopper": 2}, counts)
}

func TestTagsSelectTheCheckout(t *testing.T) {
	srv := startDemo(t)
	fast := *shopper
	fast.Wait = locust.Constant(time.Millisecond)
	r, err := locust.NewRunner(locust.Config{Host: srv.URL, Users: 2, Iterations: 40, Tags: []string{"checkout"}, Logger: quiet}, &fast)
	require.NoError(t, err)
	require.NoError(t, r.Run(t.Context()))
	s := r.Snapshot()
	assert.True(t, hasEntry(s, "/item/{id}"))
	assert.True(t, hasEntry(s, "/profile"))
	assert.False(t, hasEntry(s, "/slow"), "only the checkout's tasks run")
	assert.Empty(t, s.Exceptions)
	item, _ := s.Entry("GET", "/item/{id}")
	prof, _ := s.Entry("GET", "/profile")
	assert.InDelta(t, 2*item.Requests, prof.Requests, 2, "profile runs twice per item in the sequence")

	ratios := r.TaskRatios()["Shopper"]
	assert.Len(t, ratios, 3)
}

func TestWaitStrategies(t *testing.T) {
	for _, w := range waits[:4] {
		d := w.Wait(nil)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, 10*time.Second)
	}
}

// ---- The README cannot drift from the code ----

var goBlock = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

func TestReadmeGoBlocksAreCompiled(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks, "README.md has no ```go blocks")

	// every .go file under examples/ is compiled by go vet and go test
	var sources []string
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		sources = append(sources, normalize(string(b)))
		return err
	})
	require.NoError(t, err)
	for i, b := range blocks {
		code := normalize(b[1])
		found := false
		for _, src := range sources {
			if strings.Contains(src, code) {
				found = true
				break
			}
		}
		assert.True(t, found, "README.md Go block %d is not in any compiled file under examples/ (copy it into examples/readme/readme_test.go):\n%s", i+1, b[1])
	}
}

// normalize collapses all white space, so that indentation does not matter.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
