package catalog

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases"
)

func TestAdd(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind Kind
		def  testcases.Case
		err  string
	}{
		{"a user's case", GoCase, testcases.Case{ID: "mine.one"}, ""},
		{"a program", Program, testcases.Case{ID: "mailer.tfo"}, ""},
		{"a built-in case's ID", Program, testcases.Case{ID: "linger0.reset"}, "program ID linger0.reset is a built-in case's already"},
		{"an ID added before", GoTest, testcases.Case{ID: "taken"}, "go test row ID taken is a Go case's already"},
		{"an ID with a space", GoCase, testcases.Case{ID: "a b"}, "has a space"},
		{"a bad kernel range", GoCase, testcases.Case{ID: "mine.range", Expect: []testcases.Expect{{Summary: "x", Kernels: ">=banana"}}}, "banana"},
		{"a built-in kind", Builtin, testcases.Case{ID: "mine.builtin"}, "built-in cases come from runmatrix itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			require.NoError(t, c.Add(GoCase, testcases.Case{ID: "taken"}))
			err := c.Add(tc.kind, tc.def)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			got, ok := c.Lookup(tc.def.ID)
			require.True(t, ok)
			require.Nil(t, got.Run, "the code of a user's case stays in the guest")
			k, ok := c.Kind(tc.def.ID)
			require.True(t, ok)
			require.Equal(t, tc.kind, k)
		})
	}
}

// TestNoProcessWideRegistry: what one catalog learns, neither another
// catalog nor the case API's registry knows, so two runs in one process
// (or a results reader) cannot see each other's cases.
func TestNoProcessWideRegistry(t *testing.T) {
	a := New()
	require.NoError(t, a.Add(GoCase, testcases.Case{ID: "mine.only-in-a"}))
	_, ok := New().Lookup("mine.only-in-a")
	require.False(t, ok)
	_, err := testcases.Lookup("mine.only-in-a")
	require.Error(t, err)
}

func TestSelect(t *testing.T) {
	c := New()
	require.NoError(t, c.Add(GoCase, testcases.Case{ID: "mine.b"}))
	require.NoError(t, c.Add(Program, testcases.Case{ID: "mine.a"}))
	got, err := c.Select([]string{"mine.*"})
	require.NoError(t, err)
	require.Equal(t, []string{"mine.b", "mine.a"}, ids(got), "in the order they were added, after the built-in cases")
	got, err = c.Select([]string{"linger0.*", "mine.a"})
	require.NoError(t, err)
	require.Equal(t, []string{"linger0.reset", "mine.a"}, ids(got))
	all, err := c.Select(nil)
	require.NoError(t, err)
	require.Len(t, all, len(testcases.All())+2)
	require.Equal(t, ids(c.All()), ids(all))

	_, err = c.Select([]string{"yours.*"})
	var nm *testcases.NoMatchError
	require.ErrorAs(t, err, &nm)
	require.Contains(t, nm.Known, "mine.*", "the user's cases are among what a glob may have meant")
}

func TestConfigOptions(t *testing.T) {
	c := New()
	builtin := c.ConfigOptions()
	require.NotEmpty(t, builtin, "the built-in expectations name kernel options")
	require.NoError(t, c.Add(GoCase, testcases.Case{ID: "mine.cfg", Expect: []testcases.Expect{{Summary: "x", Config: []string{"CONFIG_MINE=y"}}}}))
	require.Contains(t, c.ConfigOptions(), "CONFIG_MINE", "a user's expectation names an option the run must record")
	require.NotContains(t, New().ConfigOptions(), "CONFIG_MINE")
}

func ids(cs []*testcases.Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
