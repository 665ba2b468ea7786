// Package userprog ships a user's program into guests as a case: a static
// binary as it is, a dynamically linked one with its ELF interpreter and
// libraries (found by reading the ELF, never by running it), a script with
// its interpreter. It refuses, before anything boots, a program for another
// architecture than a guest's or whose C library needs a newer kernel than
// one in the plan.
package userprog

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Program is a user's program run as a case.
type Program struct {
	// ID is its case ID.
	ID string
	// Path is the program on the host; Args its arguments.
	Path string
	Args []string
	// Builds are the same program built for other architectures: each
	// kernel runs the build of its own architecture.
	Builds []string
	// Files are extra files or directories shipped beside it.
	Files []string
	// Env are KEY=VALUE pairs added to its environment.
	Env []string
	// Timeout bounds its run; everything it started is killed then.
	Timeout time.Duration
	// Expect are outcome summaries expected for kernel ranges.
	Expect []testcases.Expect
	// Trace records the program's socket calls (ptrace) as steps.
	Trace bool
	// Modules are kernel modules (tun) the guest loads before it runs.
	Modules []string

	bins map[string]*Binary // by GOARCH, read once
}

// InputError is a program that cannot be shipped, in one line.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputf(format string, args ...any) error { return &InputError{fmt.Errorf(format, args...)} }

// Binary is what running a program in a guest takes.
type Binary struct {
	// Path is the file to run (a script's interpreter when Script is set).
	Path   string
	Script string
	// GOARCH is the architecture of its guest ("amd64", "386").
	GOARCH string
	// Interp is its ELF interpreter (PT_INTERP) and Libs the libraries it
	// and they need, by soname, as host paths.
	Interp string
	Libs   map[string]string
	// MinKernel is the oldest Linux its C library runs on (its ABI tag),
	// and MinKernelBy the file that says so; empty when nothing says.
	MinKernel   string
	MinKernelBy string
}

// maxFile bounds one shipped file, and maxTotal a program's shipment.
const (
	maxFile  = 64 << 20
	maxTotal = 128 << 20
)

// Inspect reads what running path in a guest takes.
func Inspect(p string) (*Binary, error) {
	head := make([]byte, 256)
	f, err := os.Open(p)
	if err != nil {
		return nil, inputf("program %s: %v", p, unwrapPath(err))
	}
	if fi, err := f.Stat(); err == nil && (!fi.Mode().IsRegular() || fi.Mode()&0o111 == 0) {
		f.Close()
		return nil, inputf("program %s is not an executable file (a shell would refuse it too): chmod +x %s", p, p)
	}
	n, _ := f.Read(head)
	f.Close()
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		return inspectScript(p, head)
	}
	b := &Binary{Path: p, Libs: map[string]string{}}
	if err := b.read(p, true); err != nil {
		return nil, err
	}
	return b, nil
}

func inspectScript(p string, head []byte) (*Binary, error) {
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return nil, inputf("program %s: a script without an interpreter on its #! line", p)
	}
	interp := fields[0]
	if path.Base(interp) == "env" || len(fields) > 1 {
		return nil, inputf("program %s: a script whose #! line is %q: runmatrix ships the interpreter itself, so name it by its absolute path with no arguments (#!/bin/sh)", p, strings.TrimSpace(string(line)))
	}
	b, err := Inspect(interp)
	if err != nil {
		return nil, inputf("program %s: its interpreter cannot be shipped: %v", p, err)
	}
	if b.Script != "" {
		return nil, inputf("program %s: its interpreter %s is a script itself", p, interp)
	}
	b.Script = p
	return b, nil
}

// read adds what the ELF file p needs: its interpreter, libraries and the
// kernel its C library asks for.
func (b *Binary) read(p string, top bool) error {
	f, err := elf.Open(p)
	if err != nil {
		if top {
			return inputf("program %s is not an executable: not an ELF file or a #! script", p)
		}
		return inputf("library %s: %v", p, err)
	}
	defer f.Close()
	arch, ok := GOARCH(f.Machine)
	if !ok {
		return inputf("%s is a %v binary: runmatrix runs x86_64 and i386 guests", p, f.Machine)
	}
	if top {
		if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return inputf("program %s is not an executable (ELF type %v)", p, f.Type)
		}
		b.GOARCH = arch
	} else if arch != b.GOARCH {
		return inputf("library %s is %s, the program %s", p, arch, b.GOARCH)
	}
	if v := abiTag(f); v != "" && (b.MinKernel == "" || newer(v, b.MinKernel)) {
		b.MinKernel, b.MinKernelBy = v, p
	}
	if top {
		for _, ph := range f.Progs {
			if ph.Type != elf.PT_INTERP {
				continue
			}
			data := make([]byte, ph.Filesz)
			if _, err := ph.ReadAt(data, 0); err != nil {
				return inputf("program %s: PT_INTERP: %v", p, err)
			}
			b.Interp = string(bytes.TrimRight(data, "\x00"))
			if _, err := os.Stat(b.Interp); err != nil {
				return inputf("program %s needs the ELF interpreter %s, which this host does not have", p, b.Interp)
			}
			if err := b.readInterp(); err != nil {
				return err
			}
		}
	}
	needed, _ := f.ImportedLibraries()
	if len(needed) > 0 && b.Interp == "" {
		return inputf("program %s needs shared libraries but names no ELF interpreter", p)
	}
	dirs := searchPath(f, p, b.GOARCH)
	for _, soname := range needed {
		if _, done := b.Libs[soname]; done {
			continue
		}
		lib := find(soname, dirs, f.Class, f.Machine)
		if lib == "" {
			return inputf("%s needs %s, which is not on this host (searched %s): install it or build the program static", p, soname, strings.Join(dirs, ":"))
		}
		b.Libs[soname] = lib
		if err := b.read(lib, false); err != nil {
			return err
		}
	}
	return nil
}

// GOARCH is the Go architecture of a guest that runs binaries for machine.
func GOARCH(machine elf.Machine) (string, bool) {
	arch, ok := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_386: "386", elf.EM_AARCH64: "arm64", elf.EM_RISCV: "riscv64", elf.EM_ARM: "arm", elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x"}[machine]
	return arch, ok
}

// readInterp takes the kernel the interpreter asks for into account.
func (b *Binary) readInterp() error {
	f, err := elf.Open(b.Interp)
	if err != nil {
		return inputf("ELF interpreter %s: %v", b.Interp, err)
	}
	defer f.Close()
	if v := abiTag(f); v != "" && (b.MinKernel == "" || newer(v, b.MinKernel)) {
		b.MinKernel, b.MinKernelBy = v, b.Interp
	}
	return nil
}

// searchPath is where the dynamic linker looks for f's libraries: its
// RPATH (without RUNPATH) or RUNPATH, then the host's library directories.
func searchPath(f *elf.File, p, goarch string) []string {
	var dirs []string
	origin := filepath.Dir(p)
	add := func(list []string) {
		for _, l := range list {
			for _, d := range strings.Split(l, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				if d != "" {
					dirs = append(dirs, d)
				}
			}
		}
	}
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	if len(runpath) == 0 {
		rpath, _ := f.DynString(elf.DT_RPATH)
		add(rpath)
	}
	add(runpath)
	add(ldSoConf("/etc/ld.so.conf", 0))
	if goarch == "386" {
		add([]string{"/lib/i386-linux-gnu:/usr/lib/i386-linux-gnu:/lib32:/usr/lib32:/lib:/usr/lib"})
	} else {
		add([]string{"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib"})
	}
	return dirs
}

// ldSoConf reads the directories of an ld.so.conf and its includes.
func ldSoConf(file string, depth int) []string {
	b, err := os.ReadFile(file)
	if err != nil || depth > 4 {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if inc, ok := strings.CutPrefix(line, "include "); ok {
			matches, _ := filepath.Glob(strings.TrimSpace(inc))
			sort.Strings(matches)
			for _, m := range matches {
				dirs = append(dirs, ldSoConf(m, depth+1)...)
			}
		} else if strings.HasPrefix(line, "/") {
			dirs = append(dirs, line)
		}
	}
	return dirs
}

// find returns the first soname in dirs of the right class and machine.
func find(soname string, dirs []string, class elf.Class, machine elf.Machine) string {
	for _, d := range dirs {
		p := filepath.Join(d, soname)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p
		}
	}
	return ""
}

// abiTag is the minimum Linux version in f's NT_GNU_ABI_TAG note, if any.
func abiTag(f *elf.File) string {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		order := f.ByteOrder
		for len(data) >= 12 {
			namesz, descsz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
			off := 12 + int(align4(namesz))
			end := off + int(align4(descsz))
			if end > len(data) || namesz > 64 || descsz > 1024 {
				break
			}
			name := string(bytes.TrimRight(data[12:12+namesz], "\x00"))
			if name == "GNU" && typ == 1 && descsz >= 16 && order.Uint32(data[off:]) == 0 {
				d := data[off:]
				return fmt.Sprintf("%d.%d.%d", order.Uint32(d[4:]), order.Uint32(d[8:]), order.Uint32(d[12:]))
			}
			data = data[end:]
		}
	}
	return ""
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }

// newer reports whether version a is newer than b.
func newer(a, b string) bool {
	va, _ := testcases.ParseVersion(a)
	vb, _ := testcases.ParseVersion(b)
	return va.Compare(vb) > 0
}

// Check refuses the program for a kernel it cannot run on: another
// architecture, or older than its C library needs. arch is the guest's
// GOARCH, release the kernel's image release.
func (p *Program) Check(kernel, goarch, release string) error {
	b, err := p.binaryFor(goarch)
	if err != nil {
		return err
	}
	if b == nil {
		var have []string
		for arch, b := range p.bins {
			have = append(have, arch+" ("+b.Path+")")
		}
		sort.Strings(have)
		return inputf("program %s has no %s build, which kernel %s runs (it has %s): build it for %s and add it with builds: in the matrix file or --program-build", p.ID, goarch, kernel, strings.Join(have, ", "), goarch)
	}
	if b.MinKernel == "" {
		return nil
	}
	v, err := testcases.ParseVersion(release)
	if err != nil {
		return nil
	}
	min, _ := testcases.ParseVersion(b.MinKernel)
	if v.Compare(min) < 0 {
		return inputf("program %s needs Linux %s or newer (the ABI tag of %s; glibc 2.26 and later need 3.2), and kernel %s is %s: build it static with an older C library or with musl (musl-gcc -static)",
			b.Path, b.MinKernel, b.MinKernelBy, kernel, release)
	}
	return nil
}

// binaries reads the program's builds once, by architecture; two builds
// of one architecture are refused.
func (p *Program) binaries() (map[string]*Binary, error) {
	if p.bins != nil {
		return p.bins, nil
	}
	bins := map[string]*Binary{}
	for _, path := range append([]string{p.Path}, p.Builds...) {
		b, err := Inspect(path)
		if err != nil {
			return nil, err
		}
		if prev, ok := bins[b.GOARCH]; ok {
			return nil, inputf("program %s: %s and %s are both %s builds: give one build per architecture", p.ID, prev.Path, b.Path, b.GOARCH)
		}
		bins[b.GOARCH] = b
	}
	p.bins = bins
	return bins, nil
}

// binaryFor is the program's build for goarch, or nil when it has none.
func (p *Program) binaryFor(goarch string) (*Binary, error) {
	bins, err := p.binaries()
	if err != nil {
		return nil, err
	}
	return bins[goarch], nil
}

// Validate checks the program can be shipped at all: it exists, is an
// executable of a known architecture with everything it needs on the host.
func (p *Program) Validate() error {
	if _, err := p.binaries(); err != nil {
		return err
	}
	for _, f := range p.Files {
		if _, err := os.Stat(f); err != nil {
			return inputf("program %s: files: %v", p.ID, unwrapPath(err))
		}
	}
	for _, kv := range p.Env {
		if !strings.Contains(kv, "=") {
			return inputf("program %s: env %q: want KEY=VALUE", p.ID, kv)
		}
	}
	if p.Timeout <= 0 {
		return inputf("program %s: timeout must be positive", p.ID)
	}
	return nil
}

// Files returns the programs built for goarch as initramfs files with their
// manifest: each program in a directory of its own with the files shipped
// beside it, its libraries, and ELF interpreters at their own paths.
func Files(progs []*Program, goarch string) ([]initramfs.File, error) {
	var files []initramfs.File
	var manifest []bootproto.Program
	interps := map[string][]byte{}
	for i, p := range progs {
		b, err := p.binaryFor(goarch)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue // no build for this architecture (Check refused its kernels)
		}
		root := path.Join(bootproto.ProgramDir, fmt.Sprint(i))
		total := 0
		read := func(host, guest string, mode int64) error {
			data, err := readBounded(host)
			if err != nil {
				return inputf("program %s: %v", p.ID, err)
			}
			total += len(data)
			if total > maxTotal {
				return inputf("program %s: more than %d MiB to ship into a guest", p.ID, maxTotal>>20)
			}
			files = append(files, initramfs.File{Path: guest, Mode: mode, Data: data})
			return nil
		}
		mp := bootproto.Program{ID: p.ID, Dir: root + "/dir", Args: p.Args, Env: p.Env, TimeoutS: int(p.Timeout.Seconds()), Trace: p.Trace, Modules: p.Modules}
		run := b.Path
		if b.Script != "" {
			mp.Interp = root + "/interp/" + filepath.Base(b.Path)
			if err := read(b.Path, mp.Interp, 0o755); err != nil {
				return nil, err
			}
			run = b.Script
		}
		mp.Bin = filepath.Base(run)
		if err := read(run, mp.Dir+"/"+mp.Bin, 0o755); err != nil {
			return nil, err
		}
		for _, extra := range p.Files {
			if err := walk(extra, func(host, rel string, mode int64) error {
				return read(host, mp.Dir+"/"+rel, mode)
			}); err != nil {
				return nil, err
			}
		}
		if b.Interp != "" {
			data, err := readBounded(b.Interp)
			if err != nil {
				return nil, inputf("program %s: %v", p.ID, err)
			}
			if prev, ok := interps[b.Interp]; ok && !bytes.Equal(prev, data) {
				return nil, inputf("programs need two different %s", b.Interp)
			} else if !ok {
				interps[b.Interp] = data
				files = append(files, initramfs.File{Path: b.Interp, Mode: 0o755, Data: data})
			}
			mp.LibDir = root + "/lib"
		}
		sonames := make([]string, 0, len(b.Libs))
		for s := range b.Libs {
			sonames = append(sonames, s)
		}
		sort.Strings(sonames)
		for _, s := range sonames {
			if err := read(b.Libs[s], mp.LibDir+"/"+s, 0o755); err != nil {
				return nil, err
			}
		}
		manifest = append(manifest, mp)
	}
	data, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	return append(files, initramfs.File{Path: bootproto.ProgramManifestPath, Mode: 0o644, Data: data}), nil
}

// walk calls fn for the regular files of a file or directory, with paths
// relative to its parent (a directory keeps its name).
func walk(root string, fn func(host, rel string, mode int64) error) error {
	base := filepath.Dir(filepath.Clean(root))
	return filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		return fn(p, filepath.ToSlash(rel), int64(fi.Mode().Perm()))
	})
}

// readBounded reads a file of at most maxFile bytes.
func readBounded(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, unwrapPath(err)
	}
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", p, maxFile>>20)
	}
	return os.ReadFile(p)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// idChars are what a program's default ID keeps of its file name.
var idChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// DefaultID is the case ID of a program given on the command line.
func DefaultID(p string) string {
	return outcome.ProgramPrefix + idChars.ReplaceAllString(filepath.Base(p), "_")
}
