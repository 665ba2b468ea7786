// Command guest-agent runs inside a guest, uploaded by the runner over SSH,
// and reports what the guest kernel does as JSON on stdout. It must run on
// Linux 2.6.32 (built with Go 1.23).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/agentproto"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guest-agent probe")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "probe":
		err = probe()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "guest-agent:", err)
		os.Exit(1)
	}
}

func probe() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(agentproto.Probe{
		Sysname: unix.ByteSliceToString(u.Sysname[:]),
		Release: unix.ByteSliceToString(u.Release[:]),
		Version: unix.ByteSliceToString(u.Version[:]),
		Machine: unix.ByteSliceToString(u.Machine[:]),
	})
}
