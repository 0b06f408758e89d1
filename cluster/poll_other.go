//go:build !linux

package cluster

// poller is Linux only (epoll): elsewhere each connection is read by its
// own goroutine.
type poller struct{}

type polled struct{}

func newPoller(*router) (*poller, error) { return nil, nil }

func (*poller) add(*routerPeer, []byte) bool { return false }

func (*poller) drop(*polled) {}

func (*poller) loop() {}
