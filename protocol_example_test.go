package locust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golocust/locust"
)

// upper is a client of a "protocol" that upper-cases text: one user's
// client, made by PerUser.
type upper struct{ u *locust.User }

// Do is one call: Timed times it and records it as a request of type
// "upper" named name.
func (c *upper) Do(ctx context.Context, name, text string) (string, error) {
	return locust.Timed(ctx, c.u, "upper", name, func(ctx context.Context) (string, int64, error) {
		if text == "" {
			return "", 0, errors.New("empty text")
		}
		out := strings.ToUpper(text)
		return out, int64(len(out)), nil
	})
}

// ExampleTimed shows a client of a protocol of your own: PerUser gives each
// user its client, Timed records each call. A TestUser stands for a user of
// a running test.
func ExampleTimed() {
	clients := &locust.PerUser[*upper]{Open: func(ctx context.Context, u *locust.User) (*upper, error) {
		return &upper{u: u}, nil
	}}
	tu := locust.NewTestUser(context.Background(), "")
	if err := clients.OnStart(tu.Context(), tu.User); err != nil {
		panic(err)
	}
	defer clients.OnStop(tu.Context(), tu.User)

	out, err := clients.Get(tu.User).Do(tu.Context(), "shout", "hello")
	fmt.Println(out, err)
	_, err = clients.Get(tu.User).Do(tu.Context(), "shout", "")
	fmt.Println(err, locust.IsRecorded(err))
	for _, r := range tu.Requests() {
		fmt.Println(r.Type, r.Name, r.Length, r.Err)
	}
	// Output:
	// HELLO <nil>
	// empty text true
	// upper shout 5 <nil>
	// upper shout 0 empty text
}
