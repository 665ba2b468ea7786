package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// A run without --out writes to a folder of its own under runsDir, named
// by its start time and command, and runs/latest names the newest: the same
// command run twice just works, nothing lands in the user's module, and
// --resume without --out continues the newest run.

// latestLink names the newest run's folder in runsDir.
const latestLink = "latest"

// planFile, in an output directory, records the run's plan as it was asked
// for, so that --resume continues that run and no other.
const planFile = "plan.json"

// runsDir is where runs without --out write: $XDG_STATE_HOME/runmatrix/runs,
// by default ~/.local/state/runmatrix/runs.
func runsDir() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", usage("no home directory to keep runs in (%v): give --out DIR", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "runmatrix", "runs"), nil
}

// chooseOut settles an output directory left empty: with resume, the
// newest run's; else a new folder for a run of kind, which runs/latest then
// names. It says which on stderr.
func chooseOut(out *string, resume bool, kind string, stderr io.Writer) error {
	if *out != "" {
		return nil
	}
	dir, err := runsDir()
	if err != nil {
		return err
	}
	latest := filepath.Join(dir, latestLink)
	if resume {
		newest := newestOf(dir, kind)
		if newest == "" {
			return usage("--resume without --out continues the newest %s, and there is none in %s: give --out DIR", kind, dir)
		}
		*out = filepath.Join(dir, newest)
		fmt.Fprintf(stderr, "resuming the newest %s: %s\n", kind, *out)
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usage("runs folder %s cannot be created (%v): give --out DIR", dir, unwrapPathErr(err))
	}
	stamp := time.Now().Format("20060102-150405") + "-" + kind
	name := stamp
	for i := 2; ; i++ {
		err := os.Mkdir(filepath.Join(dir, name), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return usage("run folder %s cannot be created (%v): give --out DIR", filepath.Join(dir, name), unwrapPathErr(err))
		}
		name = fmt.Sprintf("%s-%d", stamp, i)
	}
	*out = filepath.Join(dir, name)
	// A new link renamed over the old one: readers see one or the other.
	tmp := filepath.Join(dir, fmt.Sprintf(".latest-%d", os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(name, tmp); err == nil {
		if err := os.Rename(tmp, latest); err != nil {
			os.Remove(tmp)
		}
	}
	fmt.Fprintf(stderr, "results: %s (also %s)\n", *out, latest)
	return nil
}

// newestOf is the newest run folder of kind in dir (STAMP-KIND or
// STAMP-KIND-N; stamps sort in time order), or "".
func newestOf(dir, kind string) string {
	ents, _ := os.ReadDir(dir)
	newest := ""
	for _, e := range ents {
		name := e.Name()
		stamp, rest, ok := strings.Cut(name, "-"+kind)
		if !ok || !e.IsDir() || len(stamp) != len("20060102-150405") || rest != "" && !isSuffixNumber(rest) {
			continue
		}
		if name > newest {
			newest = name
		}
	}
	return newest
}

// isSuffixNumber reports whether s is "-N".
func isSuffixNumber(s string) bool {
	n, ok := strings.CutPrefix(s, "-")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// recordedPlan is plan.json: the command and the flags that decide what a
// run measures, as it was started.
type recordedPlan struct {
	Command string `json:"command"`
	// Flags are the plan flags given, each with the values it took.
	Flags map[string][]string `json:"flags"`
	// Args are the positional arguments (a program and its arguments,
	// a go test package and its flags).
	Args []string `json:"args,omitempty"`
	// Dir is the directory the run was started in (go test patterns are
	// relative to it).
	Dir string `json:"dir,omitempty"`
}

// pathFlags hold paths, recorded absolute so that a resume from another
// directory reads the same files.
var pathFlags = map[string]bool{"file": true, "cases": true, "program-build": true}

// planOf reads the plan flags set on fl and args into a recordedPlan.
func planOf(command string, fl *pflag.FlagSet, planFlags []string, args []string) recordedPlan {
	p := recordedPlan{Command: command, Flags: map[string][]string{}, Args: absProgram(args)}
	p.Dir, _ = os.Getwd()
	fl.Visit(func(f *pflag.Flag) {
		if !slices.Contains(planFlags, f.Name) {
			return
		}
		var vals []string
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		} else {
			vals = []string{f.Value.String()}
		}
		if pathFlags[f.Name] {
			for i, v := range vals {
				if a, err := filepath.Abs(v); err == nil {
					vals[i] = a
				}
			}
		}
		p.Flags[f.Name] = vals
	})
	return p
}

// absProgram makes a program path among args absolute (its first word,
// when it names a file by a path).
func absProgram(args []string) []string {
	out := append([]string(nil), args...)
	if len(out) > 0 && strings.ContainsRune(out[0], '/') {
		if a, err := filepath.Abs(out[0]); err == nil {
			out[0] = a
		}
	}
	return out
}

// writePlan records p in dir.
func writePlan(dir string, p recordedPlan) error {
	return store.WriteAtomic(filepath.Join(dir, planFile), 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	})
}

// readPlan reads dir's plan.json; ok is false when the run recorded none
// (an older runmatrix's).
func readPlan(dir string) (p recordedPlan, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, planFile))
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, false, usage("%s is damaged (%v): start a new run without --resume", filepath.Join(dir, planFile), err)
	}
	return p, true, nil
}

// resumePlan makes cmd's flags and args the plan recorded in dir: a plan
// flag or argument given now that differs from the recorded one is refused
// in one line saying what differs. It returns the plan to continue.
func resumePlan(cmd *cobra.Command, dir string, planFlags []string, args []string, stderr io.Writer) (recordedPlan, error) {
	rec, ok, err := readPlan(dir)
	if err == nil && !ok {
		if _, serr := os.Stat(filepath.Join(dir, journalFile)); serr != nil {
			return rec, usage("--resume: %s holds no run to continue (no %s, no %s): start one there without --resume", dir, planFile, journalFile)
		}
	}
	if err != nil || !ok {
		if err == nil {
			fmt.Fprintf(stderr, "%s records no plan (an older runmatrix's run): continuing with the flags given\n", dir)
			rec = planOf(cmd.Name(), cmd.Flags(), planFlags, args)
		}
		return rec, err
	}
	now := planOf(rec.Command, cmd.Flags(), planFlags, args)
	if rec.Command != cmd.Name() {
		return rec, usage("%s holds a %s run: continue it with runmatrix %s --resume", dir, rec.Command, rec.Command)
	}
	for _, name := range slices.Sorted(maps.Keys(now.Flags)) {
		if vals := now.Flags[name]; !slices.Equal(vals, rec.Flags[name]) {
			was := "not given"
			if r, ok := rec.Flags[name]; ok {
				was = strings.Join(r, ", ")
			}
			return rec, usage("--resume continues the run in %s as it was started, whose --%s was %s, not %s: leave --%s out, or start a new run without --resume",
				dir, name, was, strings.Join(vals, ", "), name)
		}
	}
	if len(args) > 0 && !slices.Equal(now.Args, rec.Args) {
		return rec, usage("--resume continues the run in %s as it was started, with arguments %q, not %q: leave them out, or start a new run without --resume",
			dir, strings.Join(rec.Args, " "), strings.Join(now.Args, " "))
	}
	for name, vals := range rec.Flags {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			return rec, usage("%s records --%s, which this runmatrix has no more: start a new run without --resume", filepath.Join(dir, planFile), name)
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			err = sv.Replace(vals)
		} else if len(vals) > 0 {
			err = f.Value.Set(vals[0])
		}
		if err != nil {
			return rec, usage("%s: --%s %s: %v", filepath.Join(dir, planFile), name, strings.Join(vals, ","), err)
		}
		f.Changed = true
	}
	return rec, nil
}
