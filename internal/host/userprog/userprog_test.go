package userprog

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// cc compiles a C program with compiler and flags into dir.
func cc(t *testing.T, dir, compiler string, flags ...string) string {
	t.Helper()
	src := filepath.Join(dir, "p.c")
	require.NoError(t, os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"RUNMATRIX-SUMMARY: hi\");return 0;}\n"), 0o644))
	out := filepath.Join(dir, "p-"+filepath.Base(compiler))
	b, err := exec.Command(compiler, append(flags, "-o", out, src)...).CombinedOutput()
	require.NoError(t, err, "%s", b)
	return out
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	dynamic := cc(t, dir, "gcc")
	b, err := Inspect(dynamic)
	require.NoError(t, err)
	require.Equal(t, "amd64", b.GOARCH)
	require.NotEmpty(t, b.Interp, "PT_INTERP is read")
	require.Contains(t, b.Libs, "libc.so.6")
	require.Equal(t, "3.2.0", b.MinKernel, "this host's glibc asks for Linux 3.2 in its ABI tag")

	static := cc(t, dir, "musl-gcc", "-static")
	b, err = Inspect(static)
	require.NoError(t, err)
	require.Empty(t, b.Interp)
	require.Empty(t, b.Libs)
	require.Empty(t, b.MinKernel, "musl asks for no kernel")

	script := filepath.Join(dir, "s.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755))
	b, err = Inspect(script)
	require.NoError(t, err)
	require.Equal(t, script, b.Script)
	require.Contains(t, b.Path, "sh")

	p := &Program{ID: "p", Path: dynamic, Timeout: time.Second}
	require.NoError(t, p.Validate())
	require.ErrorContains(t, p.Check("old", "amd64", "2.6.32-42-server"), "needs Linux 3.2.0 or newer")
	require.NoError(t, p.Check("new", "amd64", "6.1.0-50-amd64"))
	require.ErrorContains(t, p.Check("k", "386", "6.1.0"), "has no 386 build, which kernel k runs (it has amd64 (")
	files, err := Files([]*Program{p, {ID: "s", Path: script, Timeout: time.Second}, {ID: "st", Path: static, Files: []string{script}, Timeout: time.Second}}, "amd64")
	require.NoError(t, err)
	paths := map[string]bool{}
	for _, f := range files {
		paths[f.Path] = true
	}
	require.True(t, paths[b.Path] || paths[filepath.Clean(mustInterp(t, dynamic))], "the ELF interpreter lies at its own path")
	require.True(t, paths[bootproto.ProgramDir+"/0/lib/libc.so.6"])
	require.True(t, paths[bootproto.ProgramDir+"/1/dir/s.sh"])
	require.True(t, paths[bootproto.ProgramDir+"/2/dir/s.sh"], "files ship beside the program")
	require.True(t, paths[bootproto.ProgramManifestPath])

	for _, tc := range []struct{ body, want string }{
		{"just text\n", "is not an executable"},
		{"#!/usr/bin/env python3\n", "name it by its absolute path"},
		{"#!/nonexistent/interp\n", "its interpreter cannot be shipped"},
	} {
		f := filepath.Join(dir, "bad")
		require.NoError(t, os.WriteFile(f, []byte(tc.body), 0o755))
		_, err := Inspect(f)
		require.ErrorContains(t, err, tc.want)
	}
}

func mustInterp(t *testing.T, p string) string {
	b, err := Inspect(p)
	require.NoError(t, err)
	return b.Interp
}

// TestBuildsPerArchitecture: one program with an amd64 and an i386 build
// runs each kernel's own (its files ship the build of the guest's
// architecture), refuses a kernel of an architecture it has no build for,
// and refuses two builds of one architecture.
func TestBuildsPerArchitecture(t *testing.T) {
	dir := t.TempDir()
	amd64 := cc(t, dir, "musl-gcc", "-static")
	i386 := filepath.Join(dir, "p-386")
	require.NoError(t, os.Rename(cc(t, dir, "gcc", "-m32", "-static"), i386))
	p := &Program{ID: "p", Path: amd64, Builds: []string{i386}, Timeout: time.Second}
	require.NoError(t, p.Validate())
	require.NoError(t, p.Check("k64", "amd64", "6.1.0"))
	require.NoError(t, p.Check("k32", "386", "6.1.0"))
	require.ErrorContains(t, p.Check("karm", "arm64", "6.1.0"), "program p has no arm64 build, which kernel karm runs (it has 386 ("+i386+"), amd64 ("+amd64+"))")
	for goarch, want := range map[string]string{"amd64": amd64, "386": i386} {
		files, err := Files([]*Program{p}, goarch)
		require.NoError(t, err)
		b, err := os.ReadFile(want)
		require.NoError(t, err)
		shipped := false
		for _, f := range files {
			shipped = shipped || string(f.Data) == string(b)
		}
		require.True(t, shipped, "%s ships %s", goarch, want)
	}
	twice := &Program{ID: "q", Path: amd64, Builds: []string{amd64}, Timeout: time.Second}
	require.ErrorContains(t, twice.Validate(), "are both amd64 builds")
}
