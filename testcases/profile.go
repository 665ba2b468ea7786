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

// Address families a case runs over: a profile name ending in "+ipv6"
// (or the profile "ipv6") runs the case over IPv6, on ::1.
const (
	IPv4 = "ipv4"
	IPv6 = "ipv6"
)

// ipv6Suffix ends the name of a profile that runs over IPv6.
const ipv6Suffix = "+ipv6"

// Profile is a named set of sysctl values a case runs under, over an
// address family.
type Profile struct {
	Name string
	// Sysctls maps dotted sysctl names to values; empty leaves the kernel's own.
	Sysctls map[string]string
	// About is the one-line meaning shown by `runmatrix cases list`.
	About string
	// Family is IPv4 or IPv6.
	Family string
}

// splitFamily splits a profile name into its sysctl part and its family.
func splitFamily(name string) (base, family string) {
	if name == IPv6 {
		return "default", IPv6
	}
	if b, ok := strings.CutSuffix(name, ipv6Suffix); ok {
		return b, IPv6
	}
	return name, IPv4
}

// Profiles returns the named profiles in a stable order.
func Profiles() []Profile {
	return []Profile{
		{Name: "default", About: "the kernel's own values, untouched", Family: IPv4},
		{Name: "ipv6", About: "the kernel's own values, over IPv6 (::1); any profile with +ipv6 runs over IPv6", Family: IPv6},
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
	return Profile{Name: name, Sysctls: map[string]string{SysctlTCPFastOpen: strconv.Itoa(v)}, About: about, Family: IPv4}
}

// ParseProfile returns the named profile; besides the named ones it takes
// any "tfo=N" (decimal or 0x hex).
func ParseProfile(name string) (Profile, error) {
	if base, family := splitFamily(name); family == IPv6 && name != IPv6 {
		p, err := ParseProfile(base)
		if err != nil || p.Family == IPv6 {
			return Profile{}, fmt.Errorf("unknown profile %q (a profile, then +ipv6: tfo=3+ipv6)", name)
		}
		p.Name, p.Family, p.About = name, IPv6, p.About+", over IPv6 (::1)"
		return p, nil
	}
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
