package initramfs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// prepareEnv, when set, makes the test binary prepare the base archive in
// that cache folder and print its path: a second process racing the first.
const prepareEnv = "RUNMATRIX_TEST_PREPARE_IN"

func TestMain(m *testing.M) {
	if dir := os.Getenv(prepareEnv); dir != "" {
		p, err := Base(store.Cache{Dir: dir}, bytes.Repeat([]byte("init"), 1<<18), nil, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(p)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBaseConcurrent prepares the same archive on an empty cache from many
// goroutines and two other processes at once: every one succeeds and gets
// the same, whole archive. A damaged cached archive is written again.
func TestBaseConcurrent(t *testing.T) {
	dir := t.TempDir()
	initBin := bytes.Repeat([]byte("init"), 1<<18)
	var wg sync.WaitGroup
	paths := make([]string, 16)
	errs := make([]error, 16)
	procs := make([]*exec.Cmd, 2)
	outs := make([]bytes.Buffer, 2)
	for i := range procs {
		procs[i] = exec.Command(os.Args[0], "-test.run=^$")
		procs[i].Env = append(os.Environ(), prepareEnv+"="+dir)
		procs[i].Stdout = &outs[i]
		require.NoError(t, procs[i].Start())
	}
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = Base(store.Cache{Dir: dir}, initBin, nil, nil)
		}()
	}
	wg.Wait()
	for i, p := range procs {
		require.NoError(t, p.Wait(), "process %d", i)
		paths = append(paths, outs[i].String())
	}
	for i, err := range errs {
		require.NoError(t, err, "goroutine %d", i)
	}
	want, err := os.ReadFile(paths[0])
	require.NoError(t, err)
	for _, p := range paths {
		require.Equal(t, paths[0], p)
	}
	var ref bytes.Buffer
	require.NoError(t, Write(&ref, []File{{Path: "/init", Mode: 0o755, Data: initBin}, hostsFile}))
	require.Equal(t, ref.Bytes(), want, "the archive is whole")

	require.NoError(t, os.WriteFile(paths[0], want[:len(want)/2], 0o644))
	p, err := Base(store.Cache{Dir: dir}, initBin, nil, nil)
	require.NoError(t, err)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, want, got, "a damaged cached archive is written again")
}
