// Package gotest is an example of go test packages runmatrix runs on many
// kernels, one row per test function:
//
//	runmatrix gotest --kernel debian:6.1 --kernel debian:6.12 ./examples/gotest
//
// Its tests use only golang.org/x/sys/unix and the standard library, read a
// file from testdata/ (the package directory ships with the test binary),
// and run in their own network namespace with lo up.
package gotest
