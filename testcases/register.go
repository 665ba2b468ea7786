package testcases

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// registry holds the cases registered by packages linked into the binary.
var registry = &caseRegistry{byID: map[string]*Case{}}

type caseRegistry struct {
	mu   sync.Mutex
	byID map[string]*Case
}

func (r *caseRegistry) cases() []*Case {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Case, 0, len(r.byID))
	for _, c := range r.byID {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Register adds a case to the ones runmatrix can run; call it from init.
// It panics if the case is invalid or its ID is taken, by a built-in case
// or another registered one, so that a clash stops the agent at once
// instead of running the wrong case.
func Register(c *Case) {
	if err := CheckCase(c); err != nil {
		panic("testcases.Register: " + err.Error())
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if Builtin(c.ID) {
		panic(fmt.Sprintf("testcases.Register: case ID %q is a built-in case's: choose another", c.ID))
	}
	if _, ok := registry.byID[c.ID]; ok {
		panic(fmt.Sprintf("testcases.Register: case ID %q is registered twice: IDs must be unique", c.ID))
	}
	registry.byID[c.ID] = c
}

// CheckCase reports what makes c unusable: no ID, an ID with spaces or '@'
// (the cell separator), no Run, or an expectation whose kernel range does not
// parse.
func CheckCase(c *Case) error {
	switch {
	case c == nil:
		return fmt.Errorf("nil case")
	case c.ID == "":
		return fmt.Errorf("a case without an ID")
	case strings.ContainsAny(c.ID, " \t\n@*?["):
		return fmt.Errorf("case ID %q has a space, '@' or a glob character: use letters, digits and . - _ : /", c.ID)
	case c.Run == nil:
		return fmt.Errorf("case %s has no Run function", c.ID)
	case c.Timeout < 0:
		return fmt.Errorf("case %s has a negative Timeout", c.ID)
	}
	for _, name := range c.Sysctls {
		if !validSysctl(name) {
			return fmt.Errorf("case %s: sysctl %q is not a dotted sysctl name such as net.ipv4.tcp_fastopen", c.ID, name)
		}
	}
	for _, f := range c.Families {
		if f != IPv4 && f != IPv6 {
			return fmt.Errorf("case %s: family %q: use %q or %q", c.ID, f, IPv4, IPv6)
		}
	}
	for _, e := range c.Expect {
		for _, f := range e.Families {
			if f != IPv4 && f != IPv6 {
				return fmt.Errorf("case %s: expectation %q: family %q: use %q or %q", c.ID, e.Summary, f, IPv4, IPv6)
			}
		}
		if e.Summary == "" {
			return fmt.Errorf("case %s: an expectation without a Summary", c.ID)
		}
		if _, err := InRange("1.0", e.Kernels); err != nil {
			return fmt.Errorf("case %s: expectation %q: %w", c.ID, e.Summary, err)
		}
		if err := e.CheckConfig(); err != nil {
			return fmt.Errorf("case %s: %w", c.ID, err)
		}
	}
	return nil
}

// validSysctl reports whether name is a dotted sysctl name that maps to a
// file under /proc/sys and nowhere else.
func validSysctl(name string) bool {
	if name == "" || strings.ContainsAny(name, "/ \t\n") {
		return false
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" {
			return false
		}
	}
	return true
}
