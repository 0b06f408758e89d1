package locust

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
)

// setting is one option value from one source: the command line, a
// LOCUST_* variable or a config file line.
type setting struct {
	name  string // the flag's name in the FlagSet
	value string
	from  string // the source for error messages: "", "LOCUST_USERS", "locust.conf line 3"
}

// boolFlag is the standard flag package's marker for options that take no
// value.
type boolFlag interface{ IsBoolFlag() bool }

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(boolFlag)
	return ok && b.IsBoolFlag()
}

func isList(f *flag.Flag) bool {
	_, ok := f.Value.(*listValue)
	return ok
}

// parseArgs reads args as Python's argparse does: options and user type
// names in any order, "--name value", "--name=value", "-u 3", "-u3",
// "-u=3", "-name value" (the standard flag package's form, for a program's
// own options), list options that take every following word ("--tags a b"),
// and "--" before names only. It returns the settings in order and the
// user type names; it sets nothing.
func (s *session) parseArgs(args []string) ([]setting, []string, error) {
	var sets []setting
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			names = append(names, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			names = append(names, a)
			continue
		}
		f, value, hasValue, err := s.lookupArg(a)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case hasValue:
		case isBool(f):
			value = "true"
		case isList(f):
			var items []string
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				items = append(items, args[i])
			}
			value = strings.Join(items, ",")
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, nil, fmt.Errorf("missing value for %s", s.display(f.Name))
		}
		sets = append(sets, setting{name: f.Name, value: value})
	}
	return sets, names, nil
}

// lookupArg finds the option an argument that starts with "-" names.
func (s *session) lookupArg(a string) (f *flag.Flag, value string, hasValue bool, err error) {
	if strings.HasPrefix(a, "--") {
		name, value, hasValue := strings.Cut(a[2:], "=")
		if f = s.fs.Lookup(name); f == nil || len(name) == 1 {
			return nil, "", false, s.unknown("--" + name)
		}
		return f, value, hasValue, nil
	}
	name, value, hasValue := strings.Cut(a[1:], "=")
	if f = s.fs.Lookup(name); f != nil { // -u 3, -H=URL, and -name (the flag package's form)
		return f, value, hasValue, nil
	}
	if f = s.fs.Lookup(a[1:2]); f != nil && !isBool(f) { // -u3
		return f, a[2:], true, nil
	}
	return nil, "", false, s.unknown("-" + name)
}

// unknown is the error for an option that does not exist, with the
// nearest existing one when there is a close one.
func (s *session) unknown(typed string) error {
	name := strings.TrimLeft(typed, "-")
	if best := s.nearest(name); best != "" {
		return fmt.Errorf("unknown option %s (did you mean %s?)", typed, dashed(best))
	}
	return fmt.Errorf("unknown option %s (see --help)", typed)
}

// nearest returns the option name closest to name, or "" when none is
// close enough to be a likely typo.
func (s *session) nearest(name string) string {
	best, bestD := "", 0
	s.fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) < 2 {
			return
		}
		d := editDistance(strings.ToLower(name), f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if best == "" || d < bestD || (d == bestD && f.Name < best) {
			best, bestD = f.Name, d
		}
	})
	if best == "" || bestD > max(2, len(name)/3) {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (with adjacent
// transpositions) between a and b.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// display names an option as the help text does: "-t/--run-time".
func (s *session) display(name string) string {
	for _, d := range s.docs {
		if slices.Contains(d.names, name) {
			parts := make([]string, len(d.names))
			for i, n := range d.names {
				parts[i] = dashed(n)
			}
			return strings.Join(parts, "/")
		}
	}
	return dashed(name)
}

// apply sets the settings of one source in order. A list option set by
// this source replaces what an earlier source gave it.
func (s *session) apply(sets []setting) error {
	cleared := map[string]bool{}
	for _, st := range sets {
		f := s.fs.Lookup(st.name)
		v := st.value
		if lv, ok := f.Value.(*listValue); ok && !cleared[s.canonical(st.name)] {
			cleared[s.canonical(st.name)] = true
			*lv = nil
		}
		if isBool(f) {
			b, ok := parseBool(v)
			if !ok {
				return s.invalid(st, errors.New("not a boolean (use true/false, yes/no or 1/0)"))
			}
			v = fmt.Sprint(b)
		}
		if err := f.Value.Set(v); err != nil {
			return s.invalid(st, err)
		}
	}
	return nil
}

// canonical returns the long name of an option with aliases.
func (s *session) canonical(name string) string {
	for _, d := range s.docs {
		if slices.Contains(d.names, name) {
			return d.long()
		}
	}
	return name
}

// invalid words a bad value the same way for every option and source.
func (s *session) invalid(st setting, err error) error {
	msg := err.Error()
	f := s.fs.Lookup(st.name)
	if msg == "parse error" || msg == "value out of range" { // the flag package's own types
		msg = describeKind(f)
	}
	where := s.display(st.name)
	if st.from != "" {
		where = st.from + " (" + where + ")"
	}
	return fmt.Errorf("invalid value %q for %s: %s", st.value, where, msg)
}

func describeKind(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "invalid"
	}
	switch g.Get().(type) {
	case int, int64, uint, uint64:
		return "not a whole number (or out of range)"
	case float64:
		return "not a number"
	case bool:
		return "not a boolean (use true/false, yes/no or 1/0)"
	}
	return "invalid"
}

// parseBool reads a boolean as Locust does for its variables and config
// files: true/yes/1/on or false/no/0/off, in any case.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1", "on", "t", "y":
		return true, true
	case "false", "no", "0", "off", "f", "n":
		return false, true
	}
	return false, false
}
