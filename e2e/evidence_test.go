package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"golang.org/x/crypto/ssh"

	"github.com/runmatrix/runmatrix/internal/host/guest"
)

// TestEvidence builds a report for a real difference: on x86_64 sendmsg()
// refuses flag 0x80000000 (MSG_CMSG_COMPAT), on a 32-bit kernel it is an
// unused bit. The report must parse as Markdown with every required section,
// and its repro.c must print on the host what the agent printed there.
func TestEvidence(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report")
	stdout, stderr, code := runmatrix(t, 10*time.Minute, "evidence", "--case", "flags.unknown.sendmsg",
		"--kernel", "debian:6.1", "--kernel", "debian:6.1@bookworm/i686", "--out", out, "--accel", "tcg")
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	require.Contains(t, stdout, filepath.Join(out, "REPORT.md"))
	md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	require.NoError(t, err)
	report := string(md)

	// Valid Markdown: it parses, with a table and the sections a reader needs.
	parser := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := parser.Parser().Parse(text.NewReader(md))
	var headings []string
	tables, fences := 0, 0
	require.NoError(t, ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			headings = append(headings, string(n.Text(md)))
		case *extast.Table:
			tables++
		case *ast.FencedCodeBlock:
			fences++
		}
		return ast.WalkContinue, nil
	}))
	require.Equal(t, 1, tables, "the kernel × outcome table")
	require.GreaterOrEqual(t, fences, 2*2+2, "trace and console per kernel, build and re-run commands")
	all := strings.Join(headings, "\n")
	for _, h := range []string{"Kernel behaviour differs: flags.unknown.sendmsg", "flags.unknown.sendmsg under profile default", "debian:6.1: 6.1.", "debian:6.1@bookworm/i686: 6.1.", "How to re-run"} {
		require.Contains(t, all, h)
	}
	for _, s := range []string{
		"on `debian:6.1` (`6.1.", "the outcome is `0x40000000=5 0x80000000=-1 EINVAL`", "the outcome is `0x40000000=5 0x80000000=5`",
		"Kernel version (uname -v)", "Image version string", "Architecture (uname -m): `i686`", "Obtained: Debian package `linux-image-",
		"Sysctls in force: `net.ipv4.tcp_fastopen = ", "Syscall trace", "sendmsg(client, msg_name=NULL", "Guest console while the case ran",
		"runmatrix evidence --case flags.unknown.sendmsg --kernel debian:6.1 --kernel debian:6.1@bookworm/i686",
		"Boot `debian:6.1` from this folder", "-machine pc,accel=tcg", "The agent that measured the cells has sha256 `", "repro.c",
		"The kernels compared differ in architecture (i386, x86_64)",
	} {
		require.Contains(t, report, s)
	}
	// The bundle boots from its own files: image, initramfs, key, .config.
	for _, stem := range []string{"6.1.192-Debian-bookworm", "6.1.176-i686-Debian-bookworm"} {
		for _, suffix := range []string{"-vmlinuz", "-initramfs.cpio", "-ssh-key", "-config"} {
			require.FileExists(t, filepath.Join(out, stem+suffix))
		}
	}
	bootPasted(t, out, report, "debian:6.1", "flags.unknown.sendmsg@default", "0x40000000=5 0x80000000=-1 EINVAL")

	// The reproducer builds statically and prints the host's outcome, which
	// the agent measured on the host too.
	bin := filepath.Join(t.TempDir(), "repro")
	b, err := exec.Command("cc", "-static", "-o", bin, filepath.Join(out, "repro.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	out1, err := exec.Command("unshare", "-n", bin).Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the host (x86_64) shows the new outcome: exit 1")
	require.Equal(t, 1, ee.ExitCode())
	got, verdict, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out1)), "RUNMATRIX-SUMMARY: "), "\n")
	local, stderr, code := runmatrix(t, time.Minute, "cases", "run", "--local", "--case", "flags.unknown.sendmsg")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, local, got)
	require.Equal(t, "0x40000000=5 0x80000000=-1 EINVAL", got, "x86_64 host")
	require.Contains(t, verdict, "the new outcome, as on debian:6.1 (6.1.")

	// In the guests, repro.c exits 0 on the old outcome (the i686 kernel's,
	// the older build) and 1 on the new: it drives git bisect run.
	bin32 := filepath.Join(t.TempDir(), "repro32")
	b, err = exec.Command("cc", "-m32", "-static", "-o", bin32, filepath.Join(out, "repro.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	exits := map[string][]string{}
	for kernel, prog := range map[string]string{"debian:6.1": bin, "debian:6.1@bookworm/i686": bin32} {
		progOut := filepath.Join(t.TempDir(), "prog")
		_, stderr, code = runmatrix(t, 10*time.Minute, "run", "--kernel", kernel, "--out", progOut, "--format", "none", "--", prog)
		require.Equal(t, 0, code, stderr)
		_, res := summaries(t, filepath.Join(progOut, "results.json"))
		require.Len(t, res.Cells, 1)
		exits[kernel] = res.Cells[0].Outcome.Notes
	}
	require.Contains(t, exits["debian:6.1@bookworm/i686"], "exit status 0", "the old outcome")
	require.Contains(t, exits["debian:6.1"], "exit status 1", "the new outcome")

	// From the same results, cases where the kernels agree give no report.
	var buf bytes.Buffer
	stdout, stderr, code = runmatrix(t, time.Minute, "evidence", "--from", filepath.Join(out, "run", "results.json"),
		"--case", "flags.unknown.sendmsg", "--kernel", "debian:6.1", "--out", filepath.Join(t.TempDir(), "none"))
	buf.WriteString(stdout)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, buf.String(), "no difference: flags.unknown.sendmsg gave the same outcome on debian:6.1")
}

// bootPasted runs the QEMU line REPORT.md gives for ref in the bundle's
// folder, waits for the guest's ready line, and runs the cell in it over
// SSH with the bundle's key, as a maintainer would.
func bootPasted(t *testing.T, dir, report, ref, cell, want string) {
	t.Helper()
	_, rest, ok := strings.Cut(report, "### Boot `"+ref+"` from this folder")
	require.True(t, ok, "no boot section for %s", ref)
	_, rest, ok = strings.Cut(rest, "```sh\n")
	require.True(t, ok)
	block, _, _ := strings.Cut(rest, "```")
	lines := strings.Split(strings.TrimSpace(block), "\n")
	require.Len(t, lines, 2, "the QEMU line and the SSH line")
	require.Contains(t, lines[1], cell)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	qemu := exec.CommandContext(ctx, "sh", "-c", "exec "+lines[0])
	qemu.Dir = dir
	stdout, err := qemu.StdoutPipe()
	require.NoError(t, err)
	var qemuErr bytes.Buffer
	qemu.Stderr = &qemuErr
	require.NoError(t, qemu.Start())
	defer func() { _ = qemu.Process.Kill(); _ = qemu.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "RUNMATRIX-READY ") {
				ready <- true
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the pasted QEMU line's guest ended before its ready line: %s", qemuErr.String())
	case <-ctx.Done():
		t.Fatal("the pasted QEMU line's guest was not ready in time")
	}

	keyFile := strings.Fields(lines[1])[2]
	pem, err := os.ReadFile(filepath.Join(dir, keyFile))
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(pem)
	require.NoError(t, err)
	client, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", guest.PortableSSHPort), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the bundle's own guest, on loopback
		Timeout:         time.Minute,
	})
	require.NoError(t, err)
	defer client.Close()
	sess, err := client.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	_, remote, _ := strings.Cut(lines[1], "root@127.0.0.1 ")
	got, err := sess.Output(remote)
	require.NoError(t, err)
	require.Contains(t, string(got), `"summary":"`+want+`"`)
}
