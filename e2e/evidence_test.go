package e2e

import (
	"bytes"
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
		"on debian:6.1 (6.1.", "the outcome is `0x40000000=5 0x80000000=-1 EINVAL`", "the outcome is `0x40000000=5 0x80000000=5`",
		"Kernel version (uname -v)", "Image version string", "Architecture (uname -m): `i686`", "Obtained: Debian package `linux-image-",
		"Sysctls in force: `net.ipv4.tcp_fastopen = ", "Syscall trace", "sendmsg(client, msg_name=NULL", "Guest console while the case ran",
		"runmatrix evidence --case flags.unknown.sendmsg --kernel debian:6.1 --kernel debian:6.1@bookworm/i686",
		"QEMU command line for debian:6.1", "-machine pc,accel=", "Guest agent sha256 on debian:6.1: `", "repro.c",
	} {
		require.Contains(t, report, s)
	}

	// The reproducer builds statically and prints the host's outcome, which
	// the agent measured on the host too.
	bin := filepath.Join(t.TempDir(), "repro")
	b, err := exec.Command("cc", "-static", "-o", bin, filepath.Join(out, "repro.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	out1, err := exec.Command("unshare", "-n", bin).Output()
	require.NoError(t, err)
	got := strings.TrimPrefix(strings.TrimSpace(string(out1)), "RUNMATRIX-SUMMARY: ")
	local, stderr, code := runmatrix(t, time.Minute, "cases", "run", "--local", "--case", "flags.unknown.sendmsg")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, local, got)
	require.Equal(t, "0x40000000=5 0x80000000=-1 EINVAL", got, "x86_64 host")

	// From the same results, cases where the kernels agree give no report.
	var buf bytes.Buffer
	stdout, stderr, code = runmatrix(t, time.Minute, "evidence", "--from", filepath.Join(out, "run", "results.json"),
		"--case", "flags.unknown.sendmsg", "--kernel", "debian:6.1", "--out", filepath.Join(t.TempDir(), "none"))
	buf.WriteString(stdout)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, buf.String(), "no difference: flags.unknown.sendmsg gave the same outcome on debian:6.1")
}
