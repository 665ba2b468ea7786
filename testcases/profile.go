package testcases

import (
	"fmt"
	"strconv"
	"strings"
)

// SysctlTCPFastOpen is the net.ipv4.tcp_fastopen bitmap (seed 002): 1
// client, 2 server, 4 client without cookie, 0x200 server without cookie.
const SysctlTCPFastOpen = "net.ipv4.tcp_fastopen"

// Recorded are the sysctls every outcome reports, whatever the profile.
var Recorded = []string{SysctlTCPFastOpen}

// Profile is a named set of sysctl values a case runs under.
type Profile struct {
	Name string
	// Sysctls maps dotted sysctl names to values; empty leaves the kernel's own.
	Sysctls map[string]string
	// About is the one-line meaning shown by `runmatrix cases list`.
	About string
}

// Profiles returns the named profiles in a stable order.
func Profiles() []Profile {
	return []Profile{
		{Name: "default", About: "the kernel's own values, untouched"},
		tfo(0, "TCP Fast Open off"),
		tfo(1, "client TFO only (the kernel default since 3.13)"),
		tfo(3, "client and server TFO, cookies required"),
		tfo(0x207, "client and server TFO, data in SYN without any cookie"),
	}
}

func tfo(v int, about string) Profile {
	name := "tfo=" + strconv.Itoa(v)
	if v > 9 {
		name = fmt.Sprintf("tfo=0x%x", v)
	}
	return Profile{Name: name, Sysctls: map[string]string{SysctlTCPFastOpen: strconv.Itoa(v)}, About: about}
}

// ParseProfile returns the named profile; besides the named ones it takes
// any "tfo=N" (decimal or 0x hex).
func ParseProfile(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	if v, ok := strings.CutPrefix(name, "tfo="); ok {
		n, err := strconv.ParseInt(v, 0, 32)
		if err == nil && n >= 0 {
			p := tfo(int(n), "custom tcp_fastopen bitmap")
			p.Name = name
			return p, nil
		}
	}
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("unknown profile %q (use one of %s, or tfo=N)", name, strings.Join(names, ", "))
}

// SysctlPath is the /proc/sys file of a dotted sysctl name.
func SysctlPath(name string) string {
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
}
