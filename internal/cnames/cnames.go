// Package cnames spells bit sets of socket constants as C headers do
// ("MSG_NOSIGNAL|MSG_FASTOPEN"), for the steps of built-in cases and of
// traced programs alike.
package cnames

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Bit is one named flag.
type Bit struct {
	Bit  int
	Name string
}

// Flags spells v with the names of table, in table order, and the bits no
// name covers in hex; 0 is "0".
func Flags(v int, table []Bit) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	for _, b := range table {
		if v&b.Bit != 0 {
			parts = append(parts, b.Name)
			v &^= b.Bit
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(v)))
	}
	return strings.Join(parts, "|")
}

// pollBits are the poll(2) events a trace names.
var pollBits = []Bit{{unix.POLLIN, "POLLIN"}, {unix.POLLOUT, "POLLOUT"}, {unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLRDHUP, "POLLRDHUP"}}

// Poll spells poll(2) events by their names; others are left out and none
// is "0".
func Poll(ev int16) string {
	var parts []string
	for _, b := range pollBits {
		if int(ev)&b.Bit != 0 {
			parts = append(parts, b.Name)
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}
