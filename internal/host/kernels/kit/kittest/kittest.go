// Package kittest holds the assertions the kernel providers' tests share.
package kittest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
)

// RequireInputError asserts that err is bad input (exit 2), one line
// that contains msg.
func RequireInputError(t *testing.T, err error, msg string) {
	t.Helper()
	require.ErrorContains(t, err, msg)
	var ie *kit.InputError
	require.True(t, errors.As(err, &ie), "want an InputError, got %T: %v", err, err)
	require.NotContains(t, err.Error(), "\n")
}
