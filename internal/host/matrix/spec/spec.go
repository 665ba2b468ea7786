// Package spec reads matrix files: which kernels, profiles, cases and
// repetitions to run, and the expectations that override the cases' own.
package spec

import (
	_ "embed"
	"errors"
	"fmt"
	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

//go:embed default.yaml
var defaultSpec []byte

// Spec is a validated matrix file.
type Spec struct {
	// Source names where the spec came from ("matrix.yaml", "default").
	Source  string   `json:"source"`
	Kernels []string `json:"kernels"`
	// Optional are kernels run where they can be had: one that cannot
	// (an archive out of reach) is left out with a line, not an error.
	Optional []string   `json:"optional,omitempty"`
	Profiles []string   `json:"profiles"`
	Cases    []string   `json:"cases"`
	Repeat   int        `json:"repeat"`
	Expect   []Override `json:"expect,omitempty"`
	// Go are directories of Go packages with the user's own cases,
	// relative to the matrix file.
	Go []string `json:"go,omitempty"`
	// Programs are the user's programs run as cases.
	Programs []Program `json:"programs,omitempty"`
}

// Program is a user's program in a matrix file, run as a case.
type Program struct {
	ID string `yaml:"id" json:"id"`
	// Path is the program, relative to the matrix file; Files are shipped
	// beside it.
	Path string `yaml:"path" json:"path"`
	// Builds are the same program built for other architectures
	// (relative to the matrix file): each kernel runs its own arch's.
	Builds  []string          `yaml:"builds" json:"builds,omitempty"`
	Args    []string          `yaml:"args" json:"args,omitempty"`
	Files   []string          `yaml:"files" json:"files,omitempty"`
	Env     map[string]string `yaml:"env" json:"env,omitempty"`
	Modules []string          `yaml:"modules" json:"modules,omitempty"`
	// Timeout is a duration such as 30s (default 1m).
	Timeout string   `yaml:"timeout" json:"timeout,omitempty"`
	Expect  []Expect `yaml:"expect" json:"expect,omitempty"`
	// Trace records the program's socket calls as steps.
	Trace bool `yaml:"trace" json:"trace,omitempty"`
}

// Expect is an expectation written under a program.
type Expect struct {
	Kernels  string   `yaml:"kernels" json:"kernels,omitempty"`
	Profiles []string `yaml:"profiles" json:"profiles,omitempty"`
	Arches   []string `yaml:"arches" json:"arches,omitempty"`
	Summary  string   `yaml:"summary" json:"summary"`
	Source   string   `yaml:"source" json:"source,omitempty"`
}

// Override is a user's expectation for some cells, which replaces what the
// case declares for them.
type Override struct {
	Case    string   `yaml:"case" json:"case"`
	Profile string   `yaml:"profile" json:"profile,omitempty"`
	Kernels string   `yaml:"kernels" json:"kernels,omitempty"`
	Arches  []string `yaml:"arches" json:"arches,omitempty"`
	Summary string   `yaml:"summary" json:"summary"`
	Source  string   `yaml:"source" json:"source,omitempty"`
}

// fileSpec is the YAML shape of a matrix file.
type fileSpec struct {
	Kernels  []string   `yaml:"kernels"`
	Optional []string   `yaml:"optional"`
	Profiles []string   `yaml:"profiles"`
	Cases    []string   `yaml:"cases"`
	Repeat   int        `yaml:"repeat"`
	Expect   []Override `yaml:"expect"`
	Go       []string   `yaml:"go"`
	Programs []Program  `yaml:"programs"`
}

// SpecError is a matrix file problem at a line, with its fix.
type SpecError struct {
	File string
	Line int
	Msg  string
	// Err, when set, is the error the message is, kept for errors.As.
	Err error
}

func (e *SpecError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", e.File, msg)
}

func (e *SpecError) Unwrap() error { return e.Err }

// Default returns the embedded default matrix.
func Default() (*Spec, error) { return Parse("default matrix", defaultSpec) }

// Load reads and validates a matrix file.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &SpecError{File: path, Msg: fmt.Sprintf("cannot read the matrix file: %v", unwrapPath(err))}
	}
	return Parse(path, b)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse validates a matrix file's contents; name is used in errors.
func Parse(name string, b []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, yamlError(name, b, err)
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: name, Msg: "empty matrix file: give at least `kernels:` (see examples/matrix.yaml)"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &SpecError{File: name, Line: root.Line, Msg: "a matrix file is a mapping with kernels, profiles, cases, repeat and expect"}
	}
	known := map[string]bool{"kernels": true, "optional": true, "profiles": true, "cases": true, "repeat": true, "expect": true, "go": true, "programs": true}
	lines := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if !known[k.Value] {
			return nil, &SpecError{File: name, Line: k.Line, Msg: fmt.Sprintf("unknown key %q (use kernels, optional, profiles, cases, repeat, expect, go or programs)", k.Value)}
		}
		lines[k.Value] = root.Content[i+1]
	}
	if ex := lines["expect"]; ex != nil && ex.Kind == yaml.SequenceNode {
		okKeys := map[string]bool{"case": true, "profile": true, "kernels": true, "arches": true, "summary": true, "source": true}
		for _, e := range ex.Content {
			if e.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				if k := e.Content[i]; !okKeys[k.Value] {
					return nil, &SpecError{File: name, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in an expectation (use case, profile, kernels, arches, summary or source)", k.Value)}
				}
			}
		}
	}
	if pr := lines["programs"]; pr != nil && pr.Kind == yaml.SequenceNode {
		okKeys := map[string]bool{"id": true, "path": true, "builds": true, "args": true, "files": true, "env": true, "modules": true, "timeout": true, "expect": true, "trace": true}
		okExpect := map[string]bool{"kernels": true, "profiles": true, "arches": true, "summary": true, "source": true}
		for _, e := range pr.Content {
			if e.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				k := e.Content[i]
				if !okKeys[k.Value] {
					return nil, &SpecError{File: name, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in a program (use id, path, builds, args, files, env, modules, timeout, expect or trace)", k.Value)}
				}
				if k.Value == "expect" && e.Content[i+1].Kind == yaml.SequenceNode {
					for _, x := range e.Content[i+1].Content {
						for j := 0; x.Kind == yaml.MappingNode && j+1 < len(x.Content); j += 2 {
							if !okExpect[x.Content[j].Value] {
								return nil, &SpecError{File: name, Line: x.Content[j].Line, Msg: fmt.Sprintf("unknown key %q in a program's expectation (use kernels, profiles, arches, summary or source)", x.Content[j].Value)}
							}
						}
					}
				}
			}
		}
	}
	var f fileSpec
	if err := root.Decode(&f); err != nil {
		return nil, yamlError(name, nil, err)
	}
	s := &Spec{Source: name, Kernels: f.Kernels, Optional: f.Optional, Profiles: f.Profiles, Cases: f.Cases, Repeat: f.Repeat, Expect: f.Expect, Go: f.Go, Programs: f.Programs}
	if s.Repeat == 0 {
		s.Repeat = 1
	}
	if len(s.Profiles) == 0 {
		s.Profiles = []string{"default"}
	}
	// Cases of the file's own go: packages and programs are known only once
	// those are read (Check, with the run's catalog).
	var cases *catalog.Catalog
	if len(s.Go) == 0 && len(s.Programs) == 0 {
		cases = catalog.New()
	}
	if err := s.validate(name, lines, cases); err != nil {
		return nil, err
	}
	return s, nil
}

// item returns the line of the i-th element of a sequence node.
func item(n *yaml.Node, i int) int {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i].Line
	}
	if n != nil {
		return n.Line
	}
	return 0
}

// validate checks the spec, its case globs and expectations against cases
// unless that is nil.
func (s *Spec) validate(name string, lines map[string]*yaml.Node, cases *catalog.Catalog) error {
	bad := func(key string, i int, format string, args ...any) error {
		return &SpecError{File: name, Line: item(lines[key], i), Msg: fmt.Sprintf(format, args...)}
	}
	if len(s.Kernels) == 0 {
		return &SpecError{File: name, Msg: "no kernels: add `kernels: [debian:6.1]` or pass --kernel"}
	}
	for i, k := range s.Kernels {
		if _, err := kernels.ParseRef(k); err != nil {
			return bad("kernels", i, "%v", err)
		}
	}
	for i, k := range s.Optional {
		if _, err := kernels.ParseRef(k); err != nil {
			return bad("optional", i, "%v", err)
		}
	}
	for i, p := range s.Profiles {
		if _, err := testcases.ParseProfile(p); err != nil {
			return bad("profiles", i, "%v", err)
		}
	}
	for i, g := range s.Cases {
		if cases == nil {
			break
		}
		if _, err := cases.Select([]string{g}); err != nil {
			return &SpecError{File: name, Line: item(lines["cases"], i), Err: err}
		}
	}
	for i, d := range s.Go {
		if d == "" {
			return bad("go", i, "an empty go: entry: give the directory of a Go package with your cases")
		}
	}
	ids := map[string]bool{}
	for i, p := range s.Programs {
		switch {
		case p.ID == "":
			return bad("programs", i, "a program without `id:` (its case ID, e.g. mailer.tfo)")
		case p.Path == "":
			return bad("programs", i, "program %s without `path:` (the executable to run)", p.ID)
		case ids[p.ID]:
			return bad("programs", i, "program ID %s given twice", p.ID)
		}
		ids[p.ID] = true
		if p.Timeout != "" {
			if d, err := time.ParseDuration(p.Timeout); err != nil || d <= 0 {
				return bad("programs", i, "program %s: timeout %q: give a duration such as 30s", p.ID, p.Timeout)
			}
		}
		for _, e := range p.Expect {
			if e.Summary == "" {
				return bad("programs", i, "program %s: an expectation without `summary:`", p.ID)
			}
			if _, err := testcases.InRange("1.0", e.Kernels); err != nil {
				return bad("programs", i, "program %s: %v (write e.g. \">=3.6 <4.11\")", p.ID, err)
			}
		}
	}
	if s.Repeat < 1 || s.Repeat > 100 {
		return bad("repeat", 0, "repeat must be between 1 and 100, not %d", s.Repeat)
	}
	for i, o := range s.Expect {
		switch {
		case o.Case == "":
			return bad("expect", i, "expectation without `case:` (name the case ID it is for)")
		case o.Summary == "":
			return bad("expect", i, "expectation for %s without `summary:` (the outcome summary you expect)", o.Case)
		}
		if cases == nil || strings.HasPrefix(o.Case, outcome.GoTestPrefix) {
			// checked once the packages are read; a go test row's subtests
			// are known only when it ran
		} else if _, ok := cases.Lookup(o.Case); !ok {
			return bad("expect", i, "unknown case %q (list them with `runmatrix cases list`)", o.Case)
		}
		if o.Profile != "" {
			if _, err := testcases.ParseProfile(o.Profile); err != nil {
				return bad("expect", i, "%v", err)
			}
		}
		if _, err := testcases.InRange("1.0", o.Kernels); err != nil {
			return bad("expect", i, "%v (write e.g. \">=3.6 <4.11\")", err)
		}
	}
	return nil
}

// Check validates a spec built or changed outside a file (from flags)
// against the run's catalog, which has the user's cases.
func (s *Spec) Check(cases *catalog.Catalog) error { return s.validate(s.Source, nil, cases) }

// Rel resolves a path of the matrix file relative to the file's directory.
func (s *Spec) Rel(p string) string {
	if !filepath.IsAbs(p) && s.Source != "" {
		if _, err := os.Stat(s.Source); err == nil {
			return filepath.Join(filepath.Dir(s.Source), p)
		}
	}
	return p
}

// GoDirs are the go: directories, relative ones taken from the matrix
// file's directory.
func (s *Spec) GoDirs() []string {
	var out []string
	for _, d := range s.Go {
		out = append(out, s.Rel(d))
	}
	return out
}

// yamlError turns a YAML error into a SpecError with the line it names.
// A tab in a line's indentation is named: YAML's own message ("found
// character that cannot start any token") never says "tab".
func yamlError(name string, b []byte, err error) error {
	for i, l := range strings.Split(string(b), "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") {
			return &SpecError{File: name, Line: i + 1, Msg: "a tab in the indentation: YAML indents with spaces only; replace the tab with spaces"}
		}
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			fmt.Sscanf(n, "%d", &line)
			msg = after
		}
	}
	return &SpecError{File: name, Line: line, Msg: msg + " (check the YAML syntax; see examples/matrix.yaml)"}
}

// Expectation is the expectation that applies to a cell: the spec's
// override if one matches, else the case's own.
func (s *Spec) Expectation(c *testcases.Case, release, arch, profile string) (*testcases.Expect, error) {
	e, _, err := s.ExpectationWith(c, release, arch, profile, nil)
	return e, err
}

// ExpectationWith is Expectation for a kernel whose configuration is
// config (nil: unknown); unknown is set when the expectation that would
// apply needs the configuration, which is not known.
func (s *Spec) ExpectationWith(c *testcases.Case, release, arch, profile string, config testcases.KernelConfig) (*testcases.Expect, bool, error) {
	var overrides []Override
	if s != nil {
		overrides = s.Expect
	}
	for _, o := range overrides {
		if o.Case != c.ID || (o.Profile != "" && o.Profile != profile) {
			continue
		}
		e := testcases.Expect{Kernels: o.Kernels, Arches: o.Arches, Summary: o.Summary, Source: o.Source}
		if e.Source == "" {
			e.Source = "matrix file " + s.Source
		}
		ok, err := e.Applies(release, arch, profile)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return &e, false, nil
		}
	}
	return c.ExpectedWith(release, arch, profile, config)
}
