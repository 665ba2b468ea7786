package evidence

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// safeToken is what a value in a number, name or flag field may be once
// repro.c is made from it: anything else the grammar must refuse.
var safeToken = regexp.MustCompile(`^[A-Za-z0-9_|+-]*$`)

// FuzzReproFields puts arbitrary text in each non-string field of a
// recorded case: Repro either refuses it (a *FieldError or another error)
// or made it from a number, a name or a flag set, never from text that
// could be C.
func FuzzReproFields(f *testing.F) {
	c, err := testcases.Lookup("tfo.sendto.blocking")
	if err != nil {
		f.Fatal(err)
	}
	p, _ := testcases.ParseProfile("default")
	for _, v := range []string{"1", "0x40|MSG_NOSIGNAL", `1; system("id")`, "SOL_SOCKET", "127.0.0.1:80", "-2147483649", "1_0", "\x00"} {
		f.Add(1, "value", v)
		f.Add(8, "flags", v)
		f.Add(2, "addr", v)
	}
	f.Fuzz(func(t *testing.T, step int, name, value string) {
		steps := hostileSteps()
		if step < 0 || step >= len(steps) || stepArg(steps[step], name) == "" {
			return // only the fields the step has, which repro.c reads
		}
		setArg(&steps[step], name, value)
		src, err := Repro(c, p, outcome.Outcome{Status: outcome.OK, Steps: steps}, "k", Sides{})
		if err != nil {
			require.Empty(t, src)
			return
		}
		switch name {
		case "buf", "iov", "addr", "msg_name": // C string literals, or an address parsed whole
		case "domain", "protocol", "new": // not read (AF_INET, a stream socket), or made an identifier
		default:
			require.Regexp(t, safeToken, value, "made repro.c from %q in %s", value, name)
		}
	})
}

// stepArg is the value of the step's argument name, or "".
func stepArg(s outcome.Step, name string) string {
	for _, a := range s.Args {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}
