package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/usergo"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
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
	// cat is the run's catalog: the built-in cases and the definitions of
	// the user's (see catalogue).
	cat *catalog.Catalog
}

// catalogue is the cases this command knows: runmatrix's own and the
// user's it has read so far.
func (u *userCode) catalogue() *catalog.Catalog {
	if u.cat == nil {
		u.cat = catalog.New()
	}
	return u.cat
}

// add adds the definition of a user's case to the catalog; an ID taken by
// another case is bad input.
func (u *userCode) add(kind catalog.Kind, c testcases.Case) error {
	if err := u.catalogue().Add(kind, c); err != nil {
		return usage("%v", err)
	}
	return nil
}

// addPrograms checks programs can be shipped and adds them to the catalog.
func (u *userCode) addPrograms(progs []*userprog.Program) error {
	for _, p := range progs {
		if err := p.Validate(); err != nil {
			return err
		}
		c := testcases.Case{ID: p.ID, Title: strings.TrimSpace("program " + p.Path + " " + strings.Join(p.Args, " ")), Source: p.Path,
			Timeout: p.Timeout, Expect: p.Expect}
		if err := u.add(catalog.Program, c); err != nil {
			return err
		}
		u.programs = append(u.programs, p)
	}
	return nil
}

// load reads the case packages in dirs (and extra, a matrix file's go:
// list) and adds their cases to the catalog, once.
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
	for _, c := range cs.Cases {
		if err := u.add(catalog.GoCase, *c); err != nil {
			return err
		}
	}
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

// attach makes the pool's guests carry the user's code: it checks the
// programs and the Go the module needs against the kernels of the plan,
// and builds the agent and the shipped files for every architecture
// there, once, before anything boots; each boot then takes what was built.
func (u *userCode) attach(ctx context.Context, pool *guest.Pool, refs []string) error {
	if u.cases == nil && u.tests == nil && len(u.programs) == 0 {
		return nil
	}
	env := pool.Env()
	env.ConfigOptions = u.catalogue().ConfigOptions()
	planned, err := planKernels(ctx, pool, refs)
	if err != nil {
		return err
	}
	for _, k := range planned {
		for _, p := range u.programs {
			if err := p.Check(k.ref, k.goarch, k.release); err != nil {
				return err
			}
			for _, m := range p.Modules {
				if k.modulesDir != "" && !env.Opts.NoModules && !initramfs.HasModule(k.modulesDir, m) {
					return usage("program %s needs the kernel module %s, which kernel %s has neither built in nor as a module", p.ID, m, k.ref)
				}
			}
		}
	}
	for _, p := range u.programs {
		for _, m := range p.Modules {
			if !slices.Contains(env.Modules, m) {
				env.Modules = append(env.Modules, m)
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
	toolchain, err := usergo.Toolchain(module, goVersion, oldest(planned))
	if err != nil {
		return err
	}
	agents := map[string]string{}
	files := map[string][]initramfs.File{}
	for _, k := range planned {
		a := k.goarch
		if _, done := files[a]; done {
			continue
		}
		if u.cases != nil {
			if agents[a], err = u.cases.BuildAgent(ctx, env.Cache, a, toolchain); err != nil {
				return err
			}
		}
		files[a] = []initramfs.File{}
		if u.tests != nil {
			f, err := u.tests.Files(ctx, env.Cache, a, toolchain)
			if err != nil {
				return err
			}
			files[a] = append(files[a], f...)
		}
		if len(u.programs) > 0 {
			f, err := userprog.Files(u.programs, a)
			if err != nil {
				return err
			}
			files[a] = append(files[a], f...)
		}
	}
	if u.cases != nil {
		env.Bins.Agent = func(_ context.Context, goarch string) (string, error) {
			if p, ok := agents[goarch]; ok {
				return p, nil
			}
			return "", fmt.Errorf("no agent with the user's cases was built for %s", goarch)
		}
	}
	env.Files = func(_ context.Context, goarch string) ([]initramfs.File, error) { return files[goarch], nil }
	return nil
}

// plannedKernel is what attach needs of a kernel of the plan.
type plannedKernel struct {
	ref, goarch, release, modulesDir string
}

// planKernels resolves the plan's kernels (once per pool).
func planKernels(ctx context.Context, pool *guest.Pool, refs []string) ([]plannedKernel, error) {
	var out []plannedKernel
	for _, ref := range refs {
		k, err := pool.Kernel(ctx, ref)
		if err != nil {
			return nil, err
		}
		a, err := cpu.GOARCH(k.Image.Arch)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", ref, err)
		}
		out = append(out, plannedKernel{ref: ref, goarch: a, release: k.Image.Release, modulesDir: k.ModulesDir})
	}
	return out, nil
}

// oldest names the first kernel of the plan older than 3.2, or whose
// release cannot be read (Go 1.24 needs 3.2), or "" if there is none.
func oldest(planned []plannedKernel) string {
	for _, k := range planned {
		old, err := usergo.NeedsOldGo(k.release)
		if err != nil {
			return k.ref
		}
		if old {
			return fmt.Sprintf("%s (%s)", k.ref, k.release)
		}
	}
	return ""
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
		for _, b := range sp.Builds {
			p.Builds = append(p.Builds, s.Rel(b))
		}
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
