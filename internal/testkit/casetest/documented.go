// Package casetest checks case outcomes against their documented sources;
// only tests import it.
package casetest

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TB is the part of testing.TB that CheckDocumented needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// documented are the (case, profile) pairs whose outcome on a modern kernel
// (4.15 and later) is fixed by a source; CheckDocumented fails if any of
// them ran without its expectation applying, so a test cannot pass by
// having nothing to compare.
var documented = []struct{ Case, Profile string }{
	{"tfo.sendmsg.no-name", "tfo=3"},        // seed 004: msg_name NULL -> EINVAL
	{"tfo.sendmsg.with-name", "tfo=3"},      // seed 004: the flag is not the cause
	{"tfo.sendto.nonblocking", "tfo=3"},     // seed 000: EINPROGRESS since 3.6
	{"tfo.sendto.nonblocking", "tfo=0"},     // tcp_sendmsg_fastopen(): EOPNOTSUPP
	{"tfo.sendto.nonblocking", "tfo=0x207"}, // seed 002: bit 4, data in SYN
	{"tfo.server.data-in-syn", "tfo=3"},     // seed 002: the cookie round carries data
	{"tfo.server.data-in-syn", "tfo=0x207"}, // seed 002: 0x200, no cookie needed
	{"epipe.write-after-close", "default"},  // send(2): EPIPE + SIGPIPE
	{"linger0.reset", "default"},            // socket(7)/tcp(7): ECONNRESET
	{"defer-accept.no-data", "default"},     // seed 001: accepted with no data
	{"reconnect.syn-in-window", "default"},  // RFC 5961 challenge ACK
	{"flags.unknown.sendmsg", "default"},    // MSG_CMSG_COMPAT refused by sendmsg
}

// HostConfig is the running kernel's configuration (/proc/config.gz, else
// /boot/config-RELEASE), nil when neither can be read.
func HostConfig(release string) testcases.KernelConfig {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			if b, err := io.ReadAll(io.LimitReader(zr, 8<<20)); err == nil {
				return testcases.ParseKernelConfig(string(b))
			}
		}
	}
	if b, err := os.ReadFile("/boot/config-" + release); err == nil {
		return testcases.ParseKernelConfig(string(b))
	}
	return nil
}

// CheckDocumented checks results from one kernel (uname -r and -m, its
// configuration, nil when unknown): every
// case ended ok, every expectation a case declares for this kernel and
// profile holds, and each documented pair present in results had an
// expectation to check.
func CheckDocumented(t TB, release, arch string, config testcases.KernelConfig, recs []results.Record) {
	t.Helper()
	checked := map[string]bool{}
	unjudged := map[string]bool{}
	for _, r := range recs {
		key := r.Case + " " + r.Profile
		if r.Outcome.Status != outcome.OK {
			t.Errorf("%s on %s: status %s: %s", key, release, r.Outcome.Status, r.Outcome.Error)
			continue
		}
		c, err := testcases.Lookup(r.Case)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		e, unknown, err := c.ExpectedWith(release, arch, r.Profile, config)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if unknown {
			unjudged[key] = true // it needs the configuration, which is not known
			continue
		}
		if e == nil {
			continue
		}
		checked[key] = true
		if r.Outcome.Summary != e.Summary {
			t.Errorf("%s on %s: got %q, want %q (%s)\n%s", key, release, r.Outcome.Summary, e.Summary, e.Source, trace(r.Outcome))
		}
	}
	for _, d := range documented {
		key := d.Case + " " + d.Profile
		for _, r := range recs {
			if r.Case == d.Case && r.Profile == d.Profile && r.Outcome.Status == outcome.OK && !checked[key] && !unjudged[key] {
				t.Errorf("%s on %s: no expectation applies, so nothing was checked", key, release)
			}
		}
	}
}

func trace(o outcome.Outcome) string {
	s := ""
	for _, st := range o.Steps {
		s += fmt.Sprintf("  %s %s(%s) = %d %s %v %s\n", st.Side, st.Call, st.Fd, st.Ret, st.Errno, st.Signals, st.Detail)
	}
	return s
}
