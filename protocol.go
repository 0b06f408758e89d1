package locust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// PerUser holds one client of type C per user: opened by OnStart when the
// user starts, handed to its tasks by Get with its own type (no key, no
// type assertion), and closed by OnStop when the user stops. It is how a
// custom protocol client keeps one connection per simulated user, like a
// Locust User's self.client:
//
//	var kv = &locust.PerUser[*Client]{Open: NewClient}
//
//	var kvUser = &locust.UserType{
//		Name:    "KVUser",
//		OnStart: kv.OnStart,
//		OnStop:  kv.OnStop,
//		Tasks:   locust.NewTaskSet("kv").Task(1, func(ctx context.Context, u *locust.User) error {
//			_, err := kv.Get(u).Send(ctx, "PING", "PING")
//			return err
//		}),
//	}
//
// A PerUser is safe for concurrent use by many users (each user's client is
// kept in the user itself); it must not be copied after first use, and its
// fields must not change while a test runs. Each client C belongs to its
// user and is used by that user's tasks only, one at a time.
type PerUser[C any] struct {
	// Open makes the client of a user (it may connect, or leave that to
	// the first call). Required. An error stops nothing: like any error of
	// OnStart it is recorded and the user goes on with no client, so that
	// Get fails its tasks with a clear message.
	Open func(ctx context.Context, u *User) (C, error)
	// Close closes a user's client when the user stops; nil means the
	// client's own Close method when it has one (io.Closer, or a Close()
	// with no result), and nothing otherwise.
	Close func(C) error
}

// perUserSlot is what a PerUser stores in a User.
type perUserSlot[C any] struct {
	c      C
	opened bool
}

// OnStart opens the user's client with Open; use it as UserType.OnStart,
// or call it first from your own OnStart. Calling it again for a user
// that has a client closes that one first.
func (p *PerUser[C]) OnStart(ctx context.Context, u *User) error {
	if p.Open == nil {
		return errors.New("locust: PerUser with no Open function")
	}
	if err := p.OnStop(ctx, u); err != nil {
		return err
	}
	c, err := p.Open(ctx, u)
	if err != nil {
		return err
	}
	u.SetValue(p, &perUserSlot[C]{c: c, opened: true})
	return nil
}

// OnStop closes the user's client (Close, or the client's own Close) and
// forgets it; use it as UserType.OnStop, or call it from your own OnStop.
// It does nothing for a user with no open client.
func (p *PerUser[C]) OnStop(_ context.Context, u *User) error {
	s, _ := u.Value(p).(*perUserSlot[C])
	if s == nil || !s.opened {
		return nil
	}
	c := s.c
	*s = perUserSlot[C]{}
	switch {
	case p.Close != nil:
		return p.Close(c)
	default:
		switch cl := any(c).(type) {
		case io.Closer:
			return cl.Close()
		case interface{ Close() }:
			cl.Close()
		}
	}
	return nil
}

// Get returns the user's client. It panics, with a message naming the
// mistake, when the user has none (OnStart was not set, or Open failed):
// a panic in a task is recorded as an exception of the test and the user
// goes on.
func (p *PerUser[C]) Get(u *User) C {
	c, ok := p.Lookup(u)
	if !ok {
		panic(fmt.Sprintf("locust: user %d has no %T client: set UserType.OnStart to the PerUser's OnStart (or its Open failed)", u.ID(), c))
	}
	return c
}

// Lookup returns the user's client and true, or the zero C and false when
// the user has none.
func (p *PerUser[C]) Lookup(u *User) (C, bool) {
	s, _ := u.Value(p).(*perUserSlot[C])
	if s == nil || !s.opened {
		var zero C
		return zero, false
	}
	return s.c, true
}

// Timed runs fn, one operation of a custom protocol, times it and records
// it for u as a request of the given type and name: a success with the
// length fn returns (the response size in bytes), or a failure with its
// error. It applies the stop rule of every shipped client: an operation
// that failed because the user was stopped (User.StoppedBy(ctx)) is in no
// entry but counted as cut short (User.RecordCutShort), as Locust drops
// such requests. The error is returned marked as recorded (MarkRecorded),
// so a task can return it without it being counted again as an exception.
//
// It is the one call a custom client needs:
//
//	func (c *Client) Send(ctx context.Context, name, line string) (string, error) {
//		return locust.Timed(ctx, c.u, "tcp", name, func(ctx context.Context) (string, int64, error) {
//			reply, err := c.roundTrip(ctx, line)
//			return reply, int64(len(reply)), err
//		})
//	}
//
// Timed is called from the user's own goroutine, like the user's other
// methods; the recording itself is safe for concurrent use.
func Timed[T any](ctx context.Context, u *User, typ, name string, fn func(ctx context.Context) (T, int64, error)) (T, error) {
	start := time.Now()
	v, n, err := fn(ctx)
	return v, u.recordTimed(ctx, typ, name, start, n, err)
}
