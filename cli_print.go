package locust

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// usage writes the help text.
func (s *session) usage(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [options] [UserType ...]\n\nA load test written with golocust %s (Locust-compatible options).\n\nOptions:\n", s.name, Version)
	line := func(names []string, arg, usage, env string) {
		ns := make([]string, len(names))
		for i, n := range names {
			ns[i] = dashed(n)
		}
		left := strings.Join(ns, ", ")
		if arg != "" {
			left += " " + arg
		}
		if env != "" {
			usage += " [env " + env + "]"
		}
		fmt.Fprintf(&b, "  %-28s %s\n", left, usage)
	}
	own := map[string]bool{}
	for _, d := range s.docs {
		line(d.names, d.arg, d.usage, d.env)
		for _, n := range d.names {
			own[n] = true
		}
	}
	var rest []*flag.Flag
	s.fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] {
			rest = append(rest, f)
		}
	})
	if len(rest) > 0 {
		b.WriteString("\nMore options:\n")
		for _, f := range rest {
			arg, u := flag.UnquoteUsage(f)
			env := ""
			if slices.Contains(s.extFlags, f.Name) && len(f.Name) > 1 {
				env = envName(f.Name)
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				u += " (default " + f.DefValue + ")"
			}
			line([]string{f.Name}, arg, u, env)
		}
	}
	b.WriteString(`
Options are read from ~/.locust.conf, ./locust.conf and --config FILE
("key = value" lines, names without dashes), then from the LOCUST_*
variables, then from the command line, each overriding the ones before.
Options may come before or after the user type names.

Exit codes: 0 ok; 1 a request failed or user code raised an error
(--exit-code-on-error); 2 bad options or an aborted test; 3 a threshold
failed; 130/143 a second SIGINT/SIGTERM (exit at once with what there is).
`)
	io.WriteString(w, b.String())
}

// printList writes Locust's -l layout.
func printList(w io.Writer, types []*UserType) {
	var b strings.Builder
	b.WriteString("Available Users:\n")
	for _, t := range types {
		if t != nil {
			b.WriteString("    " + t.Name + "\n")
		}
	}
	io.WriteString(w, b.String())
}

// printRatios writes Locust's --show-task-ratio layout: per user type,
// then in total, each task set and task under its parent, named as the
// program named them (TaskName, the set's name, or the function's name).
func printRatios(w io.Writer, r *Runner) {
	shares := typeShares(r.types)
	var b strings.Builder
	for _, total := range []bool{false, true} {
		if total {
			b.WriteString("\n Total task ratio\n")
		} else {
			b.WriteString("\n Task ratio per User class\n")
		}
		b.WriteString(strings.Repeat("-", 80) + "\n")
		for i, t := range r.types {
			ratioLine(&b, 0, shares[i], t.Name)
			c := r.plans[t].root
			name := t.Tasks.Name()
			if name == "" {
				printSetRatios(&b, c, 1, shares[i], total)
				continue
			}
			set := 1.0
			if total {
				set = shares[i]
			}
			ratioLine(&b, 1, set, name)
			printSetRatios(&b, c, 2, set, total)
		}
	}
	io.WriteString(w, b.String())
}

// typeShares is each type's share of the users, as Locust computes it
// from the weights (fixed counts count as weights here).
func typeShares(types []*UserType) []float64 {
	weights := make([]float64, len(types))
	sum := 0.0
	for i, t := range types {
		switch {
		case t.FixedCount > 0:
			weights[i] = float64(t.FixedCount)
		case t.Weight > 0:
			weights[i] = float64(t.Weight)
		default:
			weights[i] = 1
		}
		sum += weights[i]
	}
	for i := range weights {
		weights[i] /= sum
	}
	return weights
}

func printSetRatios(b *strings.Builder, c *compiledSet, level int, parent float64, total bool) {
	all := float64(c.cum[len(c.cum)-1])
	prev := 0
	for i, t := range c.tasks {
		ratio := float64(c.cum[i]-prev) / all
		prev = c.cum[i]
		if total {
			ratio *= parent
		}
		ratioLine(b, level, ratio, t.name)
		if t.set != nil {
			printSetRatios(b, t.set, level+1, ratio, total)
		}
	}
}

// ratioLine is Locust's " %-10s %-50s" with two spaces per level.
func ratioLine(b *strings.Builder, level int, ratio float64, name string) {
	pad := strings.Repeat("  ", level)
	fmt.Fprintf(b, " %-10s %-50s\n", pad+fmt.Sprintf("%-6.1f", ratio*100), pad+name)
}

// setupLog makes the log: stderr at --loglevel, or --logfile, or the
// program's own slog.Default() with --skip-log-setup. It then says which
// config files were read.
func (s *session) setupLog() error {
	switch {
	case s.o.skipLogSetup:
		s.logger = slog.Default()
	case s.o.logfile != "":
		name := s.o.logfile
		if !filepath.IsAbs(name) && s.cmd.Dir != "" {
			name = filepath.Join(s.cmd.Dir, name)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--logfile: %w", err)
		}
		s.logger = slog.New(slog.NewTextHandler(&syncWriter{w: f}, &slog.HandlerOptions{Level: s.o.loglevel}))
		s.logClose = f.Close
	default:
		s.logger = slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: s.o.loglevel}))
	}
	for _, n := range s.notes {
		s.logger.Info(n.msg, "file", n.value)
	}
	return nil
}

func (s *session) closeLog() {
	if s.logClose != nil {
		_ = s.logClose()
	}
}
