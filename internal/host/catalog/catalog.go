// Package catalog holds the cases one run knows on the host: runmatrix's
// own, and the user's Go cases, go test rows and programs, each a
// definition (title, expectations, sysctls) with its kind. The user's code
// runs only in guests, so the host never registers it anywhere: whatever
// plans, judges or reports cells is handed the catalog.
package catalog

import (
	"fmt"

	"github.com/runmatrix/runmatrix/testcases"
)

// Kind is what a case's code is, and so how a guest runs it.
type Kind int

// The kinds of case.
const (
	Builtin Kind = iota // runmatrix's own, linked into every agent
	GoCase              // a testcases.Case of the user's, linked into the agent
	GoTest              // a test function of a go test package shipped beside it
	Program             // a user's executable shipped into the guest
)

func (k Kind) String() string {
	switch k {
	case Builtin:
		return "built-in case"
	case GoCase:
		return "Go case"
	case GoTest:
		return "go test row"
	case Program:
		return "program"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Catalog is the cases a run knows, in a stable order: the built-in ones,
// then the others in the order they were added.
type Catalog struct {
	cases []*testcases.Case
	kinds map[string]Kind
}

// New returns a catalog of the built-in cases.
func New() *Catalog {
	c := &Catalog{kinds: map[string]Kind{}}
	for _, tc := range testcases.All() {
		if testcases.Builtin(tc.ID) {
			c.cases = append(c.cases, tc)
			c.kinds[tc.ID] = Builtin
		}
	}
	return c
}

// Add adds the definition of a case whose code runs only in guests. It
// refuses an invalid definition and an ID that is taken, naming the kind
// that has it.
func (c *Catalog) Add(kind Kind, def testcases.Case) error {
	if kind == Builtin {
		return fmt.Errorf("case %s: built-in cases come from runmatrix itself", def.ID)
	}
	if had, ok := c.kinds[def.ID]; ok {
		return &TakenError{ID: def.ID, Kind: kind, By: had}
	}
	// CheckCase asks for the code, which stays in the guest.
	def.Run = func(*testcases.T) error { return nil }
	if err := testcases.CheckCase(&def); err != nil {
		return err
	}
	def.Run = nil
	c.cases = append(c.cases, &def)
	c.kinds[def.ID] = kind
	return nil
}

// TakenError is Add's error for an ID the catalog already has.
type TakenError struct {
	ID       string
	Kind, By Kind
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("%s ID %s is a %s's already: choose another", e.Kind, e.ID, e.By)
}

// Lookup returns the definition of the case with this ID.
func (c *Catalog) Lookup(id string) (*testcases.Case, bool) {
	if _, ok := c.kinds[id]; !ok {
		return nil, false
	}
	for _, tc := range c.cases {
		if tc.ID == id {
			return tc, true
		}
	}
	return nil, false
}

// Kind returns the kind of the case with this ID.
func (c *Catalog) Kind(id string) (Kind, bool) {
	k, ok := c.kinds[id]
	return k, ok
}

// All returns every case's definition, in the catalog's order.
func (c *Catalog) All() []*testcases.Case { return append([]*testcases.Case(nil), c.cases...) }

// Select returns the cases whose IDs match any of the globs, in the
// catalog's order; a glob that matches nothing is a testcases.NoMatchError.
func (c *Catalog) Select(globs []string) ([]*testcases.Case, error) {
	return testcases.SelectFrom(c.cases, globs)
}

// ConfigOptions are the kernel options the catalog's expectations name:
// what a run records of each kernel's configuration.
func (c *Catalog) ConfigOptions() []string { return testcases.ConfigOptions(c.cases) }
