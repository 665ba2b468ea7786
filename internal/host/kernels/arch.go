package kernels

import (
	"fmt"
	"strings"
)

// Architectures a guest can have (uname -m; i386 for every 32-bit x86).
const (
	ArchX86_64  = "x86_64"
	ArchI386    = "i386"
	ArchARM64   = "aarch64"
	ArchRISCV64 = "riscv64"
	ArchARM     = "armv7l"
	ArchPPC64LE = "ppc64le"
	ArchS390X   = "s390x"
)

// archInfo is what this package knows of one architecture: the names a
// reference may give it (the first is the one shown), Debian's image
// flavour and port, the Go architecture of its guest binaries (the
// Makefile builds them for each: TestArchTable checks), the RPM package
// architecture and repository folder, and Alpine's repository folder.
// Adding an architecture is adding a row (and its machine in vm.Arch).
type archInfo struct {
	arch            string
	names           []string
	flavour, debian string
	goarch          string
	rpmPkg, rpmDir  string
	alpine          string
}

var archTable = []archInfo{
	{ArchX86_64, []string{"amd64", "x86_64"}, "amd64", "amd64", "amd64", "x86_64", "x86_64", "x86_64"},
	{ArchI386, []string{"i686", "686", "i386"}, "686", "i386", "386", "i686", "i386", "x86"},
	{ArchARM64, []string{"arm64", "aarch64"}, "arm64", "arm64", "arm64", "aarch64", "aarch64", "aarch64"},
	{ArchARM, []string{"armhf", "armv7l", "arm"}, "armmp", "armhf", "arm", "armv7l", "armv7l", "armv7"},
	{ArchRISCV64, []string{"riscv64"}, "riscv64", "riscv64", "riscv64", "riscv64", "riscv64", "riscv64"},
	{ArchPPC64LE, []string{"ppc64el", "ppc64le"}, "powerpc64le", "ppc64el", "ppc64le", "ppc64le", "ppc64le", "ppc64le"},
	{ArchS390X, []string{"s390x"}, "s390x", "s390x", "s390x", "s390x", "s390x", "s390x"},
}

// infoOf returns the row of arch; x86_64 for "".
func infoOf(arch string) (archInfo, bool) {
	if arch == "" {
		arch = ArchX86_64
	}
	for _, a := range archTable {
		if a.arch == arch {
			return a, true
		}
	}
	return archInfo{}, false
}

// ParseArch reads the arch a reference names after its "/" ("i686",
// "arm64"); "" is x86_64.
func ParseArch(name string) (string, error) {
	if name == "" {
		return ArchX86_64, nil
	}
	var known []string
	for _, a := range archTable {
		for _, n := range a.names {
			if n == name {
				return a.arch, nil
			}
		}
		if a.arch != ArchX86_64 {
			known = append(known, "/"+a.names[0])
		}
	}
	return "", fmt.Errorf("unknown arch %q (use %s, or none for x86_64)", name, strings.Join(known, ", "))
}

// archName is the name a reference gives arch ("amd64", "arm64").
func archName(arch string) string {
	if a, ok := infoOf(arch); ok {
		return a.names[0]
	}
	return arch
}

// ArchSuffix is how a reference names arch: "/i686", "/arm64"; "" for x86_64.
func ArchSuffix(arch string) string {
	if a, ok := infoOf(arch); ok && a.arch != ArchX86_64 {
		return "/" + a.names[0]
	}
	return ""
}

// GOARCH is the Go architecture of the guest binaries for arch.
func GOARCH(arch string) (string, error) {
	if a, ok := infoOf(arch); ok {
		return a.goarch, nil
	}
	return "", fmt.Errorf("no guest binaries for arch %q", arch)
}

// flavour is Debian's image flavour and port for arch.
func flavour(arch string) (flav, debArch string) {
	a, ok := infoOf(arch)
	if !ok {
		a = archTable[0]
	}
	return a.flavour, a.debian
}

// flavours is the alternation of Debian's image flavours, for package names.
func flavours() string {
	var f []string
	for _, a := range archTable {
		f = append(f, a.flavour)
	}
	return strings.Join(f, "|")
}

// debianPorts is the alternation of Debian's port names, for file names.
func debianPorts() string {
	var f []string
	for _, a := range archTable {
		f = append(f, a.debian)
	}
	return strings.Join(f, "|")
}
