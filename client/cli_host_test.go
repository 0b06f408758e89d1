package client_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	locust "github.com/golocust/locust"
)

// From the command line, a bad host ends the test at once with exit code 2
// and one line naming the problem.
func TestCommandBadHostExitsAtOnce(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := k.forU(u).Get(ctx, "/")
			return err
		})}
		var out, errOut bytes.Buffer
		cmd := &locust.Command{Name: "lt", Users: []*locust.UserType{ut}, Stdout: &out, Stderr: &errOut,
			Getenv: func(string) string { return "" }}
		begin := time.Now()
		code := cmd.Run(context.Background(), []string{"--headless", "-u", "3", "-t", "1m", "-H", "localhost:8080"})
		assert.Equal(t, locust.ExitUsage, code)
		assert.Less(t, time.Since(begin), 2*time.Second)
		all := out.String() + errOut.String()
		assert.Contains(t, all, `host "localhost:8080" is not a URL: use http://localhost:8080`)
		assert.Equal(t, 1, strings.Count(all, "is not a URL"), "one line:\n%s", all)
	})
}
