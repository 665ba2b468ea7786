// Package usergo builds a user's Go code for guests: case packages linked
// into the guest agent, and go test binaries with their package
// directories. It reads cases and tests from source and never runs the
// user's code on the host; everything it builds is static (CGO off) and
// cached by the content hash of what went into it.
package usergo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/runmatrix/runmatrix/testcases"
)

// OldToolchain is the newest Go release that still runs on Linux 2.6.32
// (Go 1.24 needs 3.2).
const OldToolchain = "go1.23.12"

// NeedsNewKernel reports whether Go goVersion ("1.26", "go1.26.8") needs
// Linux 3.2: Go 1.24 and later do.
func NeedsNewKernel(goVersion string) bool {
	return semver.Compare("v"+strings.TrimPrefix(goVersion, "go"), "v1.23.99") > 0
}

// NeedsOldGo reports whether a kernel release is older than Linux 3.2,
// which Go 1.24 and later need; err says why a release cannot be read.
func NeedsOldGo(release string) (bool, error) {
	v, err := testcases.ParseVersion(release)
	if err != nil {
		return false, err
	}
	return v.Compare(testcases.Version{3, 2, 0}) < 0, nil
}

// Toolchain picks the Go toolchain for a module whose go.mod asks for
// goVersion: OldToolchain whenever the module allows it (a kernel older
// than 3.2 needs it, and one toolchain keeps builds cached across plans),
// else the module's own. needOld names a kernel of the plan older than 3.2
// ("" if none), which makes a module that needs a newer Go an error.
func Toolchain(module, goVersion, needOld string) (string, error) {
	if goVersion == "" || !NeedsNewKernel(goVersion) {
		return OldToolchain, nil
	}
	if needOld != "" {
		return "", &InputError{fmt.Errorf("%s needs Go %s (its go.mod), and kernel %s needs Go 1.23 or older (Go 1.24 needs Linux 3.2): run `go mod edit -go=1.23` in the module's folder, or drop that kernel", module, goVersion, needOld)}
	}
	return "go" + goVersion, nil
}

// InputError is a problem with the user's code or patterns, reported in
// one line before anything boots.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// goEnv is the environment of a go command building for goarch with toolchain.
func goEnv(goarch, toolchain string) []string {
	env := []string{"GOOS=linux", "GOARCH=" + goarch, "GOARM=7", "CGO_ENABLED=0"} // GOARM: Debian armhf is ARMv7
	if toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+toolchain)
	}
	out := make([]string, 0, len(os.Environ())+len(env))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOTOOLCHAIN", "GOFLAGS":
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

// goCmd runs the go command in dir and returns its stdout; its error is
// the command's first line of complaint.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, &goError{args: args, msg: firstComplaint(stderr.String())}
		}
		return out, fmt.Errorf("go %s: %w (is go on PATH?)", args[0], err)
	}
	return out, nil
}

// goError is a go command that failed; msg is what it said first.
type goError struct {
	args []string
	msg  string
}

func (e *goError) Error() string { return e.msg }

// firstComplaint is the first line of a go command's stderr that says what
// is wrong (skipping "# pkg" headers and download chatter).
func firstComplaint(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "go: downloading") || strings.HasPrefix(line, "go: finding") {
			continue
		}
		return line
	}
	return strings.TrimSpace(s)
}

// listed is the part of `go list -json` this package reads.
type listed struct {
	ImportPath     string
	Dir            string
	Name           string
	Standard       bool
	ForTest        string
	GoFiles        []string
	EmbedFiles     []string
	TestGoFiles    []string
	XTestGoFiles   []string
	TestEmbedFiles []string
	Module         *struct {
		Path      string
		Dir       string
		GoMod     string
		GoVersion string
		Main      bool
	}
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// goList runs go list -json with args and decodes its stream of packages.
func goList(ctx context.Context, dir string, env []string, args ...string) ([]listed, error) {
	out, err := goCmd(ctx, dir, env, append([]string{"list", "-e", "-json"}, args...)...)
	if err != nil {
		return nil, err
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}
