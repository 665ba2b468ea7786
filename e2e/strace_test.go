package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// debianFile extracts one file of a Debian bookworm amd64 package, read
// from the signed archive (RUNMATRIX_DEBIAN_MIRROR or deb.debian.org).
func debianFile(t *testing.T, pkg, file, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	keys, err := debarchive.DebianKeyring()
	require.NoError(t, err)
	mirror := os.Getenv("RUNMATRIX_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	a := &debarchive.Archive{URL: mirror, Keyring: keys}
	rel, err := a.Release(ctx, "bookworm")
	require.NoError(t, err)
	pkgs, err := a.Packages(ctx, rel, "main", "amd64", func(name string) bool { return name == pkg })
	require.NoError(t, err)
	require.NotEmpty(t, pkgs, "bookworm has no %s", pkg)
	deb, err := os.Create(filepath.Join(dir, pkg+".deb"))
	require.NoError(t, err)
	defer deb.Close()
	require.NoError(t, a.Download(ctx, pkgs[len(pkgs)-1], deb))
	_, err = deb.Seek(0, 0)
	require.NoError(t, err)
	root := filepath.Join(dir, pkg)
	got, err := debarchive.ExtractDeb(deb, root, func(name string) bool { return strings.TrimPrefix(name, "./") == file })
	require.NoError(t, err)
	require.Len(t, got, 1, "%s in %s", file, pkg)
	return filepath.Join(root, got[0])
}

// straceLine is one system call as strace -f prints it: the call, its
// return value and errno name.
var straceLine = regexp.MustCompile(`^(?:\[pid\s+\d+\] )?(\w+)\(.*\) = (-?\d+)(?: (E[A-Z0-9]+))?`)

// TestTraceMatchesStrace: --trace of a program no one here wrote
// (Debian's static busybox: ping over a raw socket, then wget to a closed
// port, from a shell that forks and execs each) lists the same socket
// calls, return values and errnos as strace -f -e trace=network (the
// host's, shipped with its libraries) running the same commands in the
// same guest.
func TestTraceMatchesStrace(t *testing.T) {
	dir := t.TempDir()
	busybox := debianFile(t, "busybox-static", "bin/busybox", dir)
	straceBin, err := exec.LookPath("strace")
	require.NoError(t, err, "strace (make deps installs it)")
	work := filepath.Join(dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o755))
	for _, f := range []struct{ from, to string }{{busybox, "busybox"}, {straceBin, "strace"}} {
		b, err := os.ReadFile(f.from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, f.to), b, 0o755))
	}
	script := "./busybox ping -c 1 -W 5 127.0.0.1; ./busybox wget -q -O - http://127.0.0.1:1/"
	spec := "kernels: [debian:6.1]\ncases: ['program:*']\nprograms:\n" +
		"  - {id: strace, path: strace, files: [busybox], args: [-f, -e, trace=network, ./busybox, sh, -c, '" + script + "']}\n" +
		"  - {id: traced, path: busybox, trace: true, args: [sh, -c, '" + script + "']}\n"
	m := filepath.Join(work, "m.yaml")
	require.NoError(t, os.WriteFile(m, []byte(spec), 0o644))
	out := filepath.Join(dir, "out")
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", m, "--out", out, "--format", "none")
	require.Equal(t, 0, code, stderr)
	_, res := summaries(t, filepath.Join(out, "results.json"))
	cells := map[string]outcome.Outcome{}
	for _, c := range res.Cells {
		cells[c.Case] = c.Outcome
	}
	require.Equal(t, "exit=1", cells["traced"].Summary, "wget fails: port 1 is closed")
	require.Equal(t, cells["traced"].Summary, cells["strace"].Summary)

	var want []string
	for _, line := range strings.Split(cells["strace"].Stderr, "\n") {
		if m := straceLine.FindStringSubmatch(line); m != nil {
			want = append(want, strings.TrimSpace(strings.Replace(m[1], "recvfrom", "recv", 1)+" "+m[2]+" "+m[3]))
		}
	}
	require.Contains(t, want, "connect -1 ECONNREFUSED", "strace saw wget's call: %s", cells["strace"].Stderr)
	var got []string
	for _, s := range cells["traced"].Steps {
		switch s.Call {
		case "read", "write", "close", "poll", "ppoll", "select", "pselect6", "epoll_ctl", "epoll_wait", "epoll_pwait":
			continue // on sockets only, which strace's network class leaves out
		}
		got = append(got, strings.TrimSpace(s.Call+" "+strconv.FormatInt(s.Ret, 10)+" "+s.Errno))
	}
	require.Equal(t, want, got, "the same socket calls, return values and errnos as strace")
}
