package spec

import (
	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/testcases"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"yaml syntax", "kernels: [debian:6.1\n", "m.yaml:1: did not find expected ',' or ']'"},
		{"unknown key", "kernels: [debian:6.1]\nkernal: x\n", `m.yaml:2: unknown key "kernal" (use kernels, optional, profiles, cases, repeat, expect, go or programs)`},
		{"no kernels", "cases: ['*']\n", "m.yaml: no kernels: add `kernels: [debian:6.1]` or pass --kernel"},
		{"bad kernel", "kernels:\n  - debian:6.1\n  - debian:6\n", `m.yaml:3: kernel "debian:6"`},
		{"bad profile", "kernels: [debian:6.1]\nprofiles:\n  - default\n  - turbo\n", `m.yaml:4: unknown profile "turbo"`},
		{"bad case glob", "kernels: [debian:6.1]\ncases:\n  - tfo.nope\n", `m.yaml:3: no case matches "tfo.nope"`},
		{"case glob typo", "kernels: [debian:6.1]\ncases:\n  - tof.*\n", `m.yaml:3: no case matches "tof.*" (list them`}, // the CLI adds "did you mean"
		{"tab", "kernels:\n\t- debian:6.1\n", "m.yaml:2: a tab in the indentation: YAML indents with spaces only; replace the tab with spaces"},
		{"repeat 0 is the default", "kernels: [debian:6.1]\nrepeat: 0\n", ""},
		{"negative repeat", "kernels: [debian:6.1]\nrepeat: -1\n", "m.yaml:2: repeat must be between 1 and 100, not -1"},
		{"repeat too big", "kernels: [debian:6.1]\nrepeat: 1000\n", "m.yaml:2: repeat must be between 1 and 100, not 1000"},
		{"wrong type", "kernels: debian:6.1\n", "m.yaml:1: cannot unmarshal"},
		{"expect without summary", "kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n", "m.yaml:3: expectation for linger0.reset without `summary:`"},
		{"expect unknown case", "kernels: [debian:6.1]\nexpect:\n  - case: nope\n    summary: x\n", `m.yaml:3: unknown case "nope"`},
		{"expect bad range", "kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n    summary: x\n    kernels: '~3'\n", `m.yaml:3: version range "~3"`},
		{"not a mapping", "- a\n", "m.yaml:1: a matrix file is a mapping"},
		{"empty go entry", "kernels: [debian:6.1]\ngo:\n  - ''\n", "m.yaml:3: an empty go: entry"},
		{"go packages defer case checks", "kernels: [debian:6.1]\ngo: [./mycases]\ncases: ['mine.*']\nexpect:\n  - case: mine.one\n    summary: x\n", ""},
		{"unknown key in an expectation", "kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n    sumary: x\n", `m.yaml:4: unknown key "sumary" in an expectation`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.yaml))
			if tt.want == "" {
				require.NoError(t, err) // repeat: 0 means the default, 1
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestDefaultSpec(t *testing.T) {
	s, err := Default()
	require.NoError(t, err)
	require.Equal(t, []string{"debian:6.1", "debian:6.12"}, s.Kernels)
	require.Equal(t, []string{"default", "tfo=3"}, s.Profiles)
	require.Equal(t, 1, s.Repeat)
}

// TestExamples checks the shipped example matrix validates and the GitHub
// Actions workflow is well-formed YAML that runs shards and merges them.
func TestExamples(t *testing.T) {
	s, err := Load("../../../../examples/matrix.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, s.Expect)
	b, err := os.ReadFile("../../../../examples/github-actions/runmatrix.yml")
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	var runs []string
	for _, j := range wf.Jobs {
		for _, st := range j.Steps {
			runs = append(runs, st.Run)
		}
	}
	all := strings.Join(runs, "\n")
	// The steps are scripts that make test runs (e2e TestCIExample).
	require.Contains(t, all, "examples/github-actions/shard.sh ${{ matrix.shard }}/4 out")
	require.Contains(t, all, "examples/github-actions/merge.sh report baseline.json shards/shard-*/results.json")
	shard, err := os.ReadFile("../../../../examples/github-actions/shard.sh")
	require.NoError(t, err)
	require.Contains(t, string(shard), `--shard "$shard"`)
	// The build is a Makefile target that needs neither root nor apt.
	require.Contains(t, string(shard), "make -s binaries")
	mk, err := os.ReadFile("../../../../Makefile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^binaries: guest$`, string(mk))
	require.Regexp(t, `(?m)^build: deps binaries$`, string(mk))
}

func TestGoDirsFromTheMatrixFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/m.yaml"
	require.NoError(t, os.WriteFile(path, []byte("kernels: [debian:6.1]\ngo: [./mycases, /abs/cases]\ncases: ['mine.*']\n"), 0o644))
	s, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, []string{dir + "/mycases", "/abs/cases"}, s.GoDirs())
	cat := catalog.New()
	require.ErrorContains(t, s.Check(cat), `no case matches "mine.*"`, "once the packages are read, the globs must match")
	require.NoError(t, cat.Add(catalog.GoCase, testcases.Case{ID: "mine.one"}))
	require.NoError(t, s.Check(cat), "the catalog has the packages' cases")
	s.Expect = append(s.Expect, Override{Case: "mine.two", Summary: "x=1"})
	require.ErrorContains(t, s.Check(cat), `unknown case "mine.two"`, "an expectation for a case no one declared")
}
