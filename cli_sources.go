package locust

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Options come from four sources, each overriding the ones before it, as
// in Locust: config files (~/.locust.conf, ./locust.conf, --config FILE),
// LOCUST_* variables, then the command line.

// ignoredLocustKey tells the Locust options that a config file shared
// with Python Locust may hold and that mean nothing to this program
// (unless an extension defines them): they are skipped with a note, not
// an error.
func ignoredLocustKey(key string) bool {
	switch key {
	case "locustfile", "f", "web-host", "web-port", "P", "web-auth", "web-login", "tls-cert", "tls-key",
		"class-picker", "autoquit", "headful", "master", "worker", "master-host", "master-port",
		"master-bind-host", "master-bind-port", "expect-workers", "expect-workers-max-wait",
		"equal-weights", "enable-rebalancing", "show-task-ratio-json", "modern-ui", "legacy-ui", "processes":
		return true
	}
	return false
}

// configFiles returns the config files to read, in order: the two
// default files when they exist and the --config file (or LOCUST_CONFIG),
// which must exist.
func (s *session) configFiles(cmdline []setting) (files []string, explicit string) {
	home := s.cmd.Home
	if home == "" {
		home = s.getenv("HOME")
	}
	if home != "" {
		files = append(files, filepath.Join(home, ".locust.conf"))
	}
	dir := s.cmd.Dir
	if dir == "" {
		dir = "."
	}
	files = append(files, filepath.Join(dir, "locust.conf"))
	explicit = s.getenv("LOCUST_CONFIG")
	for _, st := range cmdline {
		if st.name == "config" {
			explicit = st.value
		}
	}
	if explicit != "" {
		if !filepath.IsAbs(explicit) && s.cmd.Dir != "" {
			explicit = filepath.Join(s.cmd.Dir, explicit)
		}
		files = append(files, explicit)
	}
	return files, explicit
}

// readConfigs reads the config files; a default file that does not exist
// is skipped, a --config file that does not exist is an error.
func (s *session) readConfigs(cmdline []setting) ([][]setting, error) {
	files, explicit := s.configFiles(cmdline)
	var all [][]setting
	for _, name := range files {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) && name != explicit {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		sets, err := s.parseConfig(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		s.notes = append(s.notes, note{"read config file", name})
		all = append(all, sets)
	}
	return all, nil
}

// parseConfig reads a config file in Locust's (ConfigArgParse's) format:
// "key = value", "key: value" or "key value" lines, keys being long option
// names without dashes, "#" and ";" comments, "[section]" lines ignored,
// a key alone meaning true and "[a, b]" a list.
func (s *session) parseConfig(file string, r *os.File) ([]setting, error) {
	var sets []setting
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || (line[0] == '[' && strings.HasSuffix(line, "]")) {
			continue
		}
		key, value := line, "true"
		if i := strings.IndexAny(line, "=: \t"); i >= 0 {
			key, value = line[:i], strings.TrimSpace(line[i:])
			if value != "" && (value[0] == '=' || value[0] == ':') {
				value = strings.TrimSpace(value[1:])
			}
			value = unquote(stripComment(value))
		}
		key = strings.ReplaceAll(strings.TrimLeft(key, "-"), "_", "-")
		from := fmt.Sprintf("%s line %d", file, n)
		if s.fs.Lookup(key) == nil {
			if ignoredLocustKey(key) {
				s.notes = append(s.notes, note{"config option ignored (no meaning in this program)", from + ": " + key})
				continue
			}
			if best := s.nearest(key); best != "" {
				return nil, fmt.Errorf("unknown option %s in %s (did you mean %s?)", key, from, best)
			}
			return nil, fmt.Errorf("unknown option %s in %s (see --help)", key, from)
		}
		if key == "config" {
			continue // config files do not name more config files
		}
		sets = append(sets, setting{name: key, value: value, from: from})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	return sets, nil
}

// stripComment removes a trailing " # comment" or " ; comment".
func stripComment(v string) string {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return v
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// envSettings returns the LOCUST_* variables that are set: one per core
// option that has one, and one per extension option.
func (s *session) envSettings() []setting {
	var sets []setting
	for _, d := range s.docs {
		if d.env == "" {
			continue
		}
		if v := s.getenv(d.env); v != "" && d.long() != "config" {
			sets = append(sets, setting{name: d.long(), value: v, from: d.env})
		}
	}
	for _, n := range s.extFlags {
		if len(n) == 1 {
			continue // a short alias (-P): the long name has the variable
		}
		if v := s.getenv(envName(n)); v != "" {
			sets = append(sets, setting{name: n, value: v, from: envName(n)})
		}
	}
	return sets
}

func envName(flagName string) string {
	return "LOCUST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadOptions reads every source and sets the options: config files,
// then LOCUST_* variables, then the command line. It returns the user type
// names given on the command line.
func (s *session) loadOptions(args []string) ([]string, error) {
	cmdline, names, err := s.parseArgs(args)
	if err != nil {
		return nil, err
	}
	files, err := s.readConfigs(cmdline)
	if err != nil {
		return nil, err
	}
	for _, sets := range files {
		if err := s.apply(sets); err != nil {
			return nil, err
		}
	}
	if err := s.apply(s.envSettings()); err != nil {
		return nil, err
	}
	if err := s.apply(cmdline); err != nil {
		return nil, err
	}
	return names, nil
}
