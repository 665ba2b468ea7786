// Package bootproto is the contract between the runner and the guest init:
// file locations in the initramfs and the console lines the init prints.
package bootproto

import (
	"encoding/json"
	"strings"
)

// Paths inside the initramfs.
const (
	HostKeyPath       = "/etc/runmatrix/host_key"
	AuthorizedKeyPath = "/etc/runmatrix/authorized_key"
	ModulesListPath   = "/etc/runmatrix/modules"
	ModulesDir        = "/lib/runmatrix-modules"
)

// Console line prefixes.
const (
	ReadyPrefix = "RUNMATRIX-READY "
	FatalPrefix = "RUNMATRIX-FATAL "
	NotePrefix  = "RUNMATRIX-NOTE "
)

// Transports the guest can offer SSH on.
const (
	TransportNet    = "net"
	TransportSerial = "serial"
)

// GuestIP is the address the init gives the NIC, QEMU user networking's default.
const GuestIP = "10.0.2.15"

// Ready is what the init announces once SSH is being served.
type Ready struct {
	Transport string `json:"transport"`
	Iface     string `json:"iface,omitempty"`
	Driver    string `json:"driver,omitempty"`
	MAC       string `json:"mac,omitempty"`
}

// Line formats r as its console line.
func (r Ready) Line() string {
	b, _ := json.Marshal(r)
	return ReadyPrefix + string(b)
}

// ParseReady parses a console line; ok is false when it is not a ready line.
func ParseReady(line string) (r Ready, ok bool) {
	i := strings.Index(line, ReadyPrefix)
	if i < 0 {
		return r, false
	}
	if json.Unmarshal([]byte(strings.TrimSpace(line[i+len(ReadyPrefix):])), &r) != nil {
		return r, false
	}
	return r, true
}
