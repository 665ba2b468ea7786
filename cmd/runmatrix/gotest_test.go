package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTestFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		run     string
		count   int
		timeout time.Duration
		pass    []string
		err     string
	}{
		{args: nil},
		{args: []string{"-short"}, pass: []string{"-test.short"}},
		{args: []string{"-test.short"}, pass: []string{"-test.short"}},
		{args: []string{"-run", "TestA|TestB/sub", "-count=3", "-timeout", "90s", "-v"}, run: "TestA|TestB", count: 3, timeout: 90 * time.Second},
		{args: []string{"-cpu", "1,2", "-update", "-golden=x"}, pass: []string{"-test.cpu=1,2", "-update", "-golden=x"}},
		{args: []string{"-run"}, err: "needs a value"},
		{args: []string{"-count", "0"}, err: "-count"},
		{args: []string{"-run", "("}, err: "-run"},
		{args: []string{"-bench", "."}, err: "not supported"},
	} {
		tf, err := parseTestFlags(tc.args)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%v", tc.args)
			continue
		}
		require.NoError(t, err, "%v", tc.args)
		if tc.run != "" {
			require.Equal(t, tc.run, tf.run.String())
		} else {
			require.Nil(t, tf.run)
		}
		require.Equal(t, tc.count, tf.count)
		require.Equal(t, tc.timeout, tf.timeout)
		require.Equal(t, tc.pass, tf.pass)
	}
}
