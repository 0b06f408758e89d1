package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExampleRuns(t *testing.T) {
	cmd, stop := command()
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	code := cmd.Run(t.Context(), []string{"-u", "4", "-r", "100", "-i", "200", "--headless", "--only-summary"})
	stop()
	assert.Equal(t, 1, code, "NotFound fails on purpose\n%s%s", &out, &errs)
	s := out.String()
	assert.Contains(t, s, "a gRPC server started by this program on 127.0.0.1")
	assert.Regexp(t, regexp.MustCompile(`grpc\s+/grpc.health.v1.Health/Check\s+200\s`), s)
	assert.Contains(t, s, "NotFound: unknown service")
	assert.NotContains(t, s, "Exceptions", "no error in user code")
}
