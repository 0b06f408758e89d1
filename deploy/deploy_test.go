// Package deploy holds example deployments of a golocust program (docker
// compose and Kubernetes, see README.md). This test only checks that the
// files parse and agree with each other; CI does not run the deployments.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

// flag returns the value of --name=value in args, and whether it is there.
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// defaultOf resolves compose's ${VAR:-default} to the default.
func defaultOf(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var c struct {
		Services map[string]struct {
			Build struct {
				Context, Dockerfile string
			}
			Image   string
			Command []string
			Deploy  struct{ Replicas string }
		}
	}
	require.NoError(t, yaml.Unmarshal(b, &c))
	master, worker := c.Services["master"], c.Services["worker"]
	require.Contains(t, master.Command, "--master")
	require.Contains(t, worker.Command, "--worker")
	host, _ := flag(worker.Command, "master-host")
	assert.Equal(t, "master", host, "workers reach the master by its service name")
	bind, _ := flag(master.Command, "master-bind-port")
	port, _ := flag(worker.Command, "master-port")
	assert.Equal(t, bind, port)
	expect, _ := flag(master.Command, "expect-workers")
	assert.Equal(t, defaultOf(expect), defaultOf(worker.Deploy.Replicas), "the master waits for the workers started")
	for _, s := range []string{"master", "worker"} {
		svc := c.Services[s]
		assert.Equal(t, "golocust-loadtest", svc.Image, s)
		assert.FileExists(t, filepath.Join(svc.Build.Context, svc.Build.Dockerfile), s)
	}
}

type object struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		Replicas int
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				Containers []struct {
					Args  []string
					Ports []struct {
						Name          string
						ContainerPort int `yaml:"containerPort"`
					}
				}
			}
		}
		// Service
		Ports []struct {
			Port       int
			TargetPort string `yaml:"targetPort"`
		}
	}
}

func objects(t *testing.T, name string) []object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kubernetes", name))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err, name)
		out = append(out, o)
	}
}

func TestKubernetesManifests(t *testing.T) {
	byName := map[string]object{}
	for _, f := range []string{"master.yaml", "worker.yaml"} {
		for _, o := range objects(t, f) {
			byName[o.Kind+"/"+o.Metadata.Name] = o
			if o.Kind == "Deployment" {
				for k, v := range o.Spec.Selector.MatchLabels {
					assert.Equal(t, v, o.Spec.Template.Metadata.Labels[k], "%s: the selector matches the pods", o.Metadata.Name)
				}
			}
		}
	}
	master, ok := byName["Deployment/golocust-master"]
	require.True(t, ok)
	svc, ok := byName["Service/golocust-master"]
	require.True(t, ok)
	worker, ok := byName["Deployment/golocust-worker"]
	require.True(t, ok)
	margs := master.Spec.Template.Spec.Containers[0].Args
	wargs := worker.Spec.Template.Spec.Containers[0].Args
	require.Contains(t, margs, "--master")
	require.Contains(t, wargs, "--worker")
	host, _ := flag(wargs, "master-host")
	assert.Equal(t, svc.Metadata.Name, host, "workers reach the master through its Service")
	port, _ := flag(wargs, "master-port")
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, strconv.Itoa(svc.Spec.Ports[0].Port), port)
	bind, _ := flag(margs, "master-bind-port")
	assert.Equal(t, port, bind)
	named := slices.IndexFunc(master.Spec.Template.Spec.Containers[0].Ports, func(p struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}) bool {
		return p.Name == svc.Spec.Ports[0].TargetPort && strconv.Itoa(p.ContainerPort) == bind
	})
	assert.GreaterOrEqual(t, named, 0, "the Service's target port is the master's port")
	expect, _ := flag(margs, "expect-workers")
	assert.Equal(t, strconv.Itoa(worker.Spec.Replicas), expect, "the master waits for the workers started")
}

// The Dockerfile builds a package of this repository by default.
func TestDockerfileProgram(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^ARG PROGRAM=(\S+)$`).FindSubmatch(b)
	require.NotNil(t, m)
	assert.DirExists(t, filepath.Join("..", string(m[1])))
}
