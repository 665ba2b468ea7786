package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/runmatrix/runmatrix/internal/guest"
	"github.com/runmatrix/runmatrix/internal/guestbin"
	"github.com/runmatrix/runmatrix/internal/initramfs"
	"github.com/runmatrix/runmatrix/internal/usergo"
	"github.com/runmatrix/runmatrix/internal/userprog"
	"github.com/runmatrix/runmatrix/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases"
)

// userCode is the user's Go code a command runs in guests: case packages
// linked into the agent, and go test packages shipped beside it.
type userCode struct {
	// dirs are the --cases directories.
	dirs     []string
	cases    *usergo.Cases
	tests    *usergo.Tests
	programs []*userprog.Program
}

// addPrograms checks programs can be shipped and registers them as cases.
func (u *userCode) addPrograms(progs []*userprog.Program) error {
	for _, p := range progs {
		if err := p.Validate(); err != nil {
			return err
		}
		if _, err := testcases.Lookup(p.ID); err == nil {
			return usage("program ID %s is a case's already: choose another", p.ID)
		}
		c := &testcases.Case{ID: p.ID, Title: strings.TrimSpace("program " + p.Path + " " + strings.Join(p.Args, " ")), Source: p.Path,
			Timeout: p.Timeout, Expect: p.Expect, Run: func(*testcases.T) error { return usergo.ErrRunsInGuest }}
		if err := testcases.CheckCase(c); err != nil {
			return usage("program %v", err)
		}
		testcases.Register(c)
		u.programs = append(u.programs, p)
	}
	return nil
}

// load reads the case packages in dirs (and extra, a matrix file's go:
// list) and registers their cases in this process, once.
func (u *userCode) load(ctx context.Context, extra []string) error {
	if u.cases != nil {
		return nil
	}
	dirs := append(append([]string{}, u.dirs...), extra...)
	if len(dirs) == 0 {
		return nil
	}
	cs, err := usergo.Discover(ctx, dirs)
	if err != nil {
		return err
	}
	if len(cs.Cases) == 0 {
		return usage("--cases %s: no testcases.Case in the package (register cases from init with testcases.Register)", dirs[0])
	}
	cs.Register()
	u.cases = cs
	return nil
}

// ids are the IDs of the user's cases.
func (u *userCode) ids() []string {
	if u.cases == nil {
		return nil
	}
	var ids []string
	for _, c := range u.cases.Cases {
		ids = append(ids, c.ID)
	}
	return ids
}

// attach makes the pool's guests carry the user's cases: it checks the Go
// the module needs against the kernels of the plan and builds the agent for
// every architecture there, before anything boots.
func (u *userCode) attach(ctx context.Context, pool *guest.Pool, refs []string) error {
	if u.cases == nil && u.tests == nil && len(u.programs) == 0 {
		return nil
	}
	for _, ref := range refs {
		k, err := pool.Kernel(ctx, ref)
		if err != nil {
			return err
		}
		goarch, err := guestbin.GOARCH(k.Image.Arch)
		if err != nil {
			return err
		}
		for _, p := range u.programs {
			if err := p.Check(ref, goarch, k.Image.Release); err != nil {
				return err
			}
			for _, m := range p.Modules {
				if k.ModulesDir != "" && !pool.Env().Opts.NoModules && !initramfs.HasModule(k.ModulesDir, m) {
					return usage("program %s needs the kernel module %s, which kernel %s has neither built in nor as a module", p.ID, m, ref)
				}
			}
		}
	}
	for _, p := range u.programs {
		for _, m := range p.Modules {
			if !slices.Contains(pool.Env().Modules, m) {
				pool.Env().Modules = append(pool.Env().Modules, m)
			}
		}
	}
	module, goVersion := "", ""
	if u.cases != nil {
		module, goVersion = u.cases.Module, u.cases.GoVersion
	}
	if u.tests != nil && (goVersion == "" || semver.Compare("v"+u.tests.GoVersion, "v"+goVersion) > 0) {
		module, goVersion = u.tests.Module, u.tests.GoVersion
	}
	toolchain, goarchs, err := planToolchain(ctx, pool, refs, module, goVersion)
	if err != nil {
		return err
	}
	env := pool.Env()
	if cs := u.cases; cs != nil {
		for _, a := range goarchs {
			if _, err := cs.BuildAgent(ctx, env.Cache, a, toolchain); err != nil {
				return err
			}
		}
		env.Bins.Agent = func(ctx context.Context, goarch string) (string, error) {
			return cs.BuildAgent(ctx, env.Cache, goarch, toolchain)
		}
	}
	if ts, progs := u.tests, u.programs; ts != nil || len(progs) > 0 {
		var mu sync.Mutex
		built := map[string][]initramfs.File{}
		files := func(ctx context.Context, goarch string) ([]initramfs.File, error) {
			mu.Lock()
			defer mu.Unlock()
			if f, ok := built[goarch]; ok {
				return f, nil
			}
			var all []initramfs.File
			if ts != nil {
				f, err := ts.Files(ctx, env.Cache, goarch, toolchain)
				if err != nil {
					return nil, err
				}
				all = append(all, f...)
			}
			if len(progs) > 0 {
				f, err := userprog.Files(progs, goarch)
				if err != nil {
					return nil, err
				}
				all = append(all, f...)
			}
			built[goarch] = all
			return all, nil
		}
		for _, a := range goarchs {
			if _, err := files(ctx, a); err != nil {
				return err
			}
		}
		env.Files = files
	}
	return nil
}

// planToolchain resolves the plan's kernels and returns the Go toolchain for
// a module asking for goVersion, and the GOARCHes the plan boots.
func planToolchain(ctx context.Context, pool *guest.Pool, refs []string, module, goVersion string) (string, []string, error) {
	needOld := ""
	arches := map[string]bool{}
	for _, ref := range refs {
		k, err := pool.Kernel(ctx, ref)
		if err != nil {
			return "", nil, err
		}
		a, err := guestbin.GOARCH(k.Image.Arch)
		if err != nil {
			return "", nil, fmt.Errorf("kernel %s: %w", ref, err)
		}
		arches[a] = true
		if v, err := testcases.ParseVersion(k.Image.Release); (err != nil || v.Compare(testcases.Version{3, 2, 0}) < 0) && needOld == "" {
			needOld = ref
			if err == nil {
				needOld = fmt.Sprintf("%s (%s)", ref, k.Image.Release)
			}
		}
	}
	toolchain, err := usergo.Toolchain(module, goVersion, needOld)
	if err != nil {
		return "", nil, err
	}
	var out []string
	for a := range arches {
		out = append(out, a)
	}
	sort.Strings(out)
	return toolchain, out, nil
}

// userInput reports whether err is the user's code or patterns being wrong.
func userInput(err error) bool {
	var ie *usergo.InputError
	var pe *userprog.InputError
	return errors.As(err, &ie) || errors.As(err, &pe)
}

// programs are the matrix file's programs, paths taken from its directory.
func programs(s *spec.Spec) []*userprog.Program {
	var out []*userprog.Program
	for _, sp := range s.Programs {
		p := &userprog.Program{ID: sp.ID, Path: s.Rel(sp.Path), Args: sp.Args, Timeout: defaultProgramTimeout, Trace: sp.Trace, Modules: sp.Modules}
		for _, f := range sp.Files {
			p.Files = append(p.Files, s.Rel(f))
		}
		for k, v := range sp.Env {
			p.Env = append(p.Env, k+"="+v)
		}
		sort.Strings(p.Env)
		if sp.Timeout != "" {
			p.Timeout, _ = time.ParseDuration(sp.Timeout) // checked by the spec
		}
		for _, e := range sp.Expect {
			src := e.Source
			if src == "" {
				src = "matrix file " + s.Source
			}
			p.Expect = append(p.Expect, testcases.Expect{Kernels: e.Kernels, Profiles: e.Profiles, Arches: e.Arches, Summary: e.Summary, Source: src})
		}
		out = append(out, p)
	}
	return out
}

// defaultProgramTimeout bounds a program's run unless it says otherwise.
const defaultProgramTimeout = time.Minute
