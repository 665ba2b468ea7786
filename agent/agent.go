// Package agent is runmatrix's guest agent: the program that runs inside
// each guest, runs cases on the guest kernel and reports what it did as
// JSON on stdout. runmatrix builds it with your case packages linked in (a
// generated main that imports them and calls Main); you do not call it.
//
//	guest-agent probe                         uname as JSON
//	guest-agent list                          every case linked in, as JSON
//	guest-agent run [-case GLOB]... [-profile P]... | run -cell CASE@PROFILE...
//	                                          one JSON result per line, per case and profile
//	guest-agent exec                          a program (JSON request on stdin) in its own network namespace
//	guest-agent case-child CASE PROFILE ISO ADDR   (internal) one case, in its own process
//
// It must run on Linux 2.6.32 (built with Go 1.23).
package agent

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/inguest/caserun"
	"github.com/runmatrix/runmatrix/internal/wire/agentproto"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Main runs the agent command named by os.Args and exits.
func Main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guest-agent probe | list | run [-case GLOB]... [-profile P]... | exec")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "probe":
		err = probe()
	case "list":
		err = json.NewEncoder(os.Stdout).Encode(testcases.All())
	case "run":
		err = run(os.Args[2:])
	case "exec":
		os.Exit(caserun.Exec(os.Stdin, os.Stdout))
	case caserun.ChildCommand:
		os.Exit(caserun.Child(os.Args[2:], os.Stdout))
	case caserun.ExecChildCommand:
		os.Exit(caserun.ExecChild(os.Args[2:]))
	case caserun.ProgChildCommand:
		os.Exit(caserun.ProgChild(os.Args[2:]))
	case caserun.TraceExecCommand:
		os.Exit(caserun.TraceExec(os.Args[2:]))
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

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var globs, profs list
	fs.Var(&globs, "case", "case ID glob (repeatable; default all)")
	fs.Var(&profs, "profile", "sysctl profile (repeatable; default \"default\")")
	var cells list
	fs.Var(&cells, "cell", "CASE@PROFILE to run, in order (repeatable; overrides -case and -profile)")
	parallel := fs.Int("parallel", 1, "with -cell: run up to N cells at once where that cannot change an outcome")
	shared := fs.Bool("shared", false, "run cases in the agent's own network namespace, as on kernels without CONFIG_NET_NS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := caserun.NewRunner()
	if err != nil {
		return err
	}
	r.Shared = *shared
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	if len(cells) > 0 {
		var todo []caserun.Cell
		for _, cell := range cells {
			i := strings.LastIndex(cell, "@")
			if i < 0 {
				return fmt.Errorf("-cell %q: want CASE@PROFILE", cell)
			}
			p, err := testcases.ParseProfile(cell[i+1:])
			if err != nil {
				return err
			}
			// A case this agent does not have is that cell's error, not
			// the whole run's: the other cells still run.
			c, err := caserun.Lookup(cell[:i])
			if err != nil {
				c = &testcases.Case{ID: cell[:i]}
			}
			todo = append(todo, caserun.Cell{Case: c, Profile: p, Err: err})
		}
		return r.RunCells(ctx, todo, *parallel, func(i int, o outcome.Outcome) error {
			if err := enc.Encode(outcome.Result{Case: todo[i].Case.ID, Profile: todo[i].Profile.Name, Outcome: o}); err != nil {
				return fmt.Errorf("write result: %w", err)
			}
			return nil
		})
	}
	cases, err := testcases.Select(globs)
	if err != nil {
		return err
	}
	if len(profs) == 0 {
		profs = list{"default"}
	}
	var profiles []testcases.Profile
	for _, name := range profs {
		p, err := testcases.ParseProfile(name)
		if err != nil {
			return err
		}
		profiles = append(profiles, p)
	}
	var werr error
	err = r.RunAll(ctx, cases, profiles, func(res outcome.Result) {
		if werr == nil {
			werr = enc.Encode(res)
		}
	})
	if werr != nil {
		return fmt.Errorf("write result: %w", werr)
	}
	return err
}
