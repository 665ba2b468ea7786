package testcases

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegister(t *testing.T) {
	run := func(*T) error { return nil }
	Register(&Case{ID: "test.registered", Title: "a user's case", Run: run})
	t.Cleanup(func() {
		registry.mu.Lock()
		delete(registry.byID, "test.registered")
		registry.mu.Unlock()
	})
	c, err := Lookup("test.registered")
	require.NoError(t, err)
	require.Equal(t, "a user's case", c.Title)
	all := All()
	require.Equal(t, "test.registered", all[len(all)-1].ID, "registered cases come after the built-in ones")
	require.False(t, Builtin("test.registered"))
	require.True(t, Builtin("tfo.sendto.blocking"))

	for _, tc := range []struct {
		name string
		c    *Case
		want string
	}{
		{"twice", &Case{ID: "test.registered", Run: run}, "registered twice"},
		{"a built-in ID", &Case{ID: "linger0.reset", Run: run}, "is a built-in case's"},
		{"no ID", &Case{Run: run}, "without an ID"},
		{"no Run", &Case{ID: "test.norun"}, "has no Run"},
		{"an ID with '@'", &Case{ID: "a@b", Run: run}, "'@'"},
		{"a bad range", &Case{ID: "test.range", Run: run, Expect: []Expect{{Kernels: "~3", Summary: "x"}}}, "version range"},
		{"an expectation without summary", &Case{ID: "test.nosum", Run: run, Expect: []Expect{{Kernels: "<3"}}}, "without a Summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.PanicsWithValue(t, "testcases.Register: "+mustErr(t, tc.c, tc.want), func() { Register(tc.c) })
		})
	}
}

// mustErr is the message Register panics with for c, checked to hold want.
func mustErr(t *testing.T, c *Case, want string) string {
	err := CheckCase(c)
	msg := ""
	if err != nil {
		msg = err.Error()
	} else if Builtin(c.ID) {
		msg = `case ID "` + c.ID + `" is a built-in case's: choose another`
	} else {
		msg = `case ID "` + c.ID + `" is registered twice: IDs must be unique`
	}
	require.Contains(t, msg, want)
	return msg
}
