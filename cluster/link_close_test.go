package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Closing a link twice (a reconnect closed it, then the worker's Run ends
// while it could not connect again) does not panic.
func TestLinkCloseTwice(t *testing.T) {
	m := newFakeMaster(t)
	l, err := dialLink(context.Background(), fmt.Sprintf("tcp://127.0.0.1:%d", m.port), "host_test", func(error) {})
	require.NoError(t, err)
	l.close()
	assert.NotPanics(t, l.close)
}
