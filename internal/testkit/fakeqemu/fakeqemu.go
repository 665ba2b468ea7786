// Package fakeqemu lets a test binary stand in for QEMU: a test's TestMain
// calls Main, and the code under test starts os.Args[0] as its QEMU with
// Mode set in the environment. It boots nothing; it prints console lines as
// the mode says and answers QMP on fd 3, as runmatrix's QEMU command line
// asks of a real one.
package fakeqemu

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// The environment a fake QEMU reads: Mode is what it does; Log, when set,
// names a file to which each start appends one line, "cold" or "restore"
// (a start with -incoming, from a saved guest).
const (
	Mode = "RUNMATRIX_FAKE_QEMU"
	Log  = "RUNMATRIX_FAKE_QEMU_LOG"
)

// Main acts as QEMU if the environment asks for it, and then exits;
// otherwise it returns at once. Modes: "ready" prints the init's ready
// line, "wait" its wait line (where a guest is saved) and then nothing,
// "panic" a kernel panic, "stall" the kernel starting init and then
// nothing, "hang" nothing, "die" refuses its command line on stderr and
// exits 1; "restore-dies:MODE" dies when started from a saved guest and
// does MODE otherwise. QMP's migrate writes a file where the URI says, as
// a save does.
func Main() {
	mode := os.Getenv(Mode)
	if mode == "" {
		return
	}
	if slices.Contains(os.Args, "--version") {
		fmt.Println("QEMU emulator version 7.2.0 (runmatrix fake)")
		os.Exit(0)
	}
	restore := slices.Contains(os.Args, "-incoming")
	if p := os.Getenv(Log); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, map[bool]string{true: "restore", false: "cold"}[restore])
			f.Close()
		}
	}
	if m, ok := strings.CutPrefix(mode, "restore-dies:"); ok {
		mode = m
		if restore {
			mode = "die"
		}
	}
	os.Exit(run(mode))
}

func run(mode string) int {
	if mode == "die" {
		// As QEMU refuses a command line: on stderr, exit status 1.
		fmt.Fprintln(os.Stderr, "qemu: initrd is too large, cannot support.(max: 66945023, need 83886080)")
		return 1
	}
	l, err := net.FileListener(os.NewFile(3, "qmp"))
	if err != nil {
		return 3
	}
	fmt.Println("Linux version 6.1.0-fake")
	switch mode {
	case "ready":
		fmt.Println(bootproto.Ready{Transport: bootproto.TransportSerial}.Line())
	case "panic":
		fmt.Println("Kernel panic - not syncing: No working init found.")
	case "stall":
		fmt.Println("[    1.0] Freeing unused kernel memory: 816k freed")
	case "wait":
		fmt.Println("[    1.0] Freeing unused kernel memory: 816k freed")
		fmt.Println(bootproto.WaitLine)
	}
	conn, err := l.Accept()
	if err != nil {
		return 3
	}
	fmt.Fprintln(conn, `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}`)
	// QMP commands arrive as JSON values without separators.
	dec := json.NewDecoder(conn)
	for {
		var cmd struct {
			Execute   string
			Arguments struct{ URI string }
		}
		if dec.Decode(&cmd) != nil {
			return 0
		}
		switch cmd.Execute {
		case "migrate":
			// "exec:cat > 'PATH'", as Machine.Save asks.
			if p, ok := strings.CutPrefix(cmd.Arguments.URI, "exec:cat > "); ok {
				os.WriteFile(strings.Trim(p, "'"), []byte("saved guest"), 0o644)
			}
			fmt.Fprintln(conn, `{"return": {}}`)
		case "query-migrate":
			fmt.Fprintln(conn, `{"return": {"status": "completed"}}`)
		case "quit":
			fmt.Fprintln(conn, `{"return": {}}`)
			return 0
		case "query-status":
			fmt.Fprintln(conn, `{"return": {"status": "running", "running": true}}`)
		default:
			fmt.Fprintln(conn, `{"return": {}}`)
		}
	}
}
