package evidence

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/matrix/report"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// NoDifference is returned when the chosen kernels agree on every cell.
type NoDifference struct{ Cases, Kernels []string }

func (e *NoDifference) Error() string {
	return fmt.Sprintf("no difference: %s gave the same outcome on %s, so there is nothing to report",
		strings.Join(e.Cases, ", "), strings.Join(e.Kernels, ", "))
}

// NoCells is returned when the results hold no cell of the chosen cases.
type NoCells struct{ Cases []string }

func (e *NoCells) Error() string {
	return fmt.Sprintf("the results hold no cell of %s: run those cases first, or pick cases the results have", strings.Join(e.Cases, ", "))
}

// Options say what a report covers and how it was produced.
type Options struct {
	// Cases are the case IDs to report on.
	Cases []string
	// Rerun is the runmatrix command that reproduces the run, one
	// argument a string (the report quotes them for the shell).
	Rerun []string
	// Boots are, by kernel reference, the files in the bundle that boot
	// that kernel's guest without runmatrix (none when empty).
	Boots map[string]Boot
	// Program is the program and its arguments the cases are, when they
	// are one: the bisect line runs it too.
	Program []string
}

// Boot is a kernel's guest as the bundle carries it: file names in the
// bundle and the command lines that use them there.
type Boot struct {
	Kernel, Initrd, Key, Config string
	InitrdSHA256                string
	// Command boots the guest; SSH runs the agent in it.
	Command, SSH []string
}

// group is one case under one profile across kernels.
type group struct {
	c       *testcases.Case
	profile testcases.Profile
	cells   []*results.Result
}

// byVersion is the group's cells in version order (g.cells keeps the
// results' order, which the report's tables follow).
func (g *group) byVersion() []*results.Result {
	cells := append([]*results.Result(nil), g.cells...)
	sort.SliceStable(cells, func(i, j int) bool { return results.Less(cells[i].KernelInfo, cells[j].KernelInfo) })
	return cells
}

func (g *group) differs() bool {
	seen := map[string]bool{}
	for _, c := range g.cells {
		seen[c.Text()] = true
	}
	return len(seen) > 1
}

// Write writes dir/REPORT.md and its attachments (repro.c, or one
// repro-CASE.c per case when there are several) for the cells of res that
// differ across kernels. It returns a *NoDifference when none differ.
// Check returns a *NoCells or *NoDifference when a report on cases would
// have nothing to say, before anything is written.
// Check also returns a *FieldError when a cell holds a value that no
// grammar of repro.c admits, so a tampered results file is refused whole.
func Check(res *results.Results, cases []string) error {
	groups, err := differing(res, cases)
	if err != nil {
		return err
	}
	for _, g := range groups {
		var fe *FieldError
		if _, _, err := reproFor(g); errors.As(err, &fe) {
			return fe
		}
	}
	return nil
}

// differing returns the groups (case × profile) of res whose kernels differ.
func differing(res *results.Results, cases []string) ([]*group, error) {
	var groups []*group
	kernelSet := map[string]bool{}
	for _, id := range cases {
		c, ok := res.Case(id)
		if !ok {
			return nil, fmt.Errorf("unknown case %q: the results neither name it nor carry its definition", id)
		}
		byProfile := map[string]*group{}
		var order []string
		for i := range res.Cells {
			cell := &res.Cells[i]
			if cell.Case != id {
				continue
			}
			kernelSet[cell.Kernel] = true
			g, ok := byProfile[cell.Profile]
			if !ok {
				p, err := testcases.ParseProfile(cell.Profile)
				if err != nil {
					return nil, err
				}
				g = &group{c: c, profile: p}
				byProfile[cell.Profile] = g
				order = append(order, cell.Profile)
			}
			g.cells = append(g.cells, cell)
		}
		for _, p := range order {
			if byProfile[p].differs() {
				groups = append(groups, byProfile[p])
			}
		}
	}
	var kernels []string
	for k := range kernelSet {
		kernels = append(kernels, k)
	}
	sort.Strings(kernels)
	if len(kernels) == 0 {
		return nil, &NoCells{Cases: cases}
	}
	if len(groups) == 0 {
		return nil, &NoDifference{Cases: cases, Kernels: kernels}
	}
	return groups, nil
}

func Write(dir string, res *results.Results, opts Options) ([]string, error) {
	groups, err := differing(res, opts.Cases)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var md strings.Builder
	var files []string
	perCase := map[string]bool{}
	for _, g := range groups {
		perCase[g.c.ID] = true
	}
	reproName := func(id string) string {
		if len(perCase) == 1 {
			return "repro.c"
		}
		return "repro-" + id + ".c"
	}
	fmt.Fprintf(&md, "# Kernel behaviour differs: %s\n\n", strings.Join(sortedKeys(perCase), ", "))
	fmt.Fprintf(&md, "Generated by runmatrix from real runs: every outcome below was measured by booting the kernel named under QEMU and running the case in it.\n\n")
	written := map[string]bool{}
	for _, g := range groups {
		writeGroup(&md, g, opts.Program)
		name := reproName(g.c.ID)
		if written[name] {
			continue
		}
		src, from, err := reproFor(g)
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, fe
		}
		if err != nil {
			fmt.Fprintf(&md, "No C reproducer is attached for this case: %s.\n\n", oneLine(err.Error()))
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return nil, err
		}
		written[name] = true
		files = append(files, name)
		fmt.Fprintf(&md, "`%s` was generated from the trace on %s. It needs nothing but a C compiler, prints the outcome line above for the kernel it runs on, and exits 0 on the old outcome (the oldest kernel's here), 1 on any other; `--new-is-good` swaps them. So it drives `git bisect run` in a kernel tree booted per step:\n\n", name, from)
		fmt.Fprintf(&md, "```sh\ncc -static -o repro %s     # or, with musl: musl-gcc -static -o repro %s\nsudo unshare -n ./repro     # fresh network namespace: no cached TFO cookie\n```\n\n", name, name)
	}
	fmt.Fprintf(&md, "## How to re-run\n\n%s", fence("sh", shellJoin(opts.Rerun)))
	seenK := map[string]bool{}
	for _, g := range groups {
		for _, c := range g.cells {
			if seenK[c.KernelInfo.Ref] {
				continue
			}
			seenK[c.KernelInfo.Ref] = true
			writeBoot(&md, c, opts.Boots[c.KernelInfo.Ref], g)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "REPORT.md"), []byte(md.String()), 0o644); err != nil {
		return nil, err
	}
	return append([]string{"REPORT.md"}, files...), nil
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeBoot says how to boot a kernel's guest from the bundle's files, or
// from runmatrix when the bundle has none for it.
func writeBoot(md *strings.Builder, c *results.Result, b Boot, g *group) {
	k := c.KernelInfo
	if len(b.Command) == 0 {
		if len(k.QEMU) > 0 {
			fmt.Fprintf(md, "QEMU command line runmatrix ran %s under (its descriptors and temporary paths were per run; re-run with the runmatrix command above):\n\n%s", code(k.Ref), fence("sh", shellJoin(k.QEMU)))
		}
		return
	}
	fmt.Fprintf(md, "### Boot %s from this folder\n\n", code(k.Ref))
	fmt.Fprintf(md, "%s is the image runmatrix booted (sha256 %s); %s the initramfs (sha256 %s) with the same init, guest agent and modules, and SSH keys made for this bundle (%s is the client key).", code(b.Kernel), code(k.Origin.SHA256), code(b.Initrd), code(b.InitrdSHA256), code(b.Key))
	if b.Config != "" {
		fmt.Fprintf(md, " %s is the kernel's .config.", code(b.Config))
	}
	if k.AgentSHA256 != "" {
		fmt.Fprintf(md, " The agent that measured the cells has sha256 %s.", code(k.AgentSHA256))
	}
	fmt.Fprintf(md, " Run in this folder (the console is the terminal; Ctrl-A X quits), then, once the console prints the ready line, run the case in the guest:\n\n%s",
		fence("sh", shellJoin(b.Command)+"\n"+shellJoin(b.SSH)+" run -cell "+shellJoin([]string{c.Case + "@" + g.profile.Name})))
}

// writeUpstream says which upstream release first behaves each way, when
// mainline kernels were measured, else how to find out.
func writeUpstream(md *strings.Builder, g *group, program []string) {
	cells := g.byVersion()
	first := map[string]*results.Result{}
	var order []string
	var comparable []*results.Result
	for _, c := range cells {
		if !c.Comparable() {
			continue
		}
		comparable = append(comparable, c)
		if c.KernelInfo.Lineage() != "mainline" {
			continue
		}
		if _, ok := first[c.Outcome.Summary]; !ok {
			first[c.Outcome.Summary] = c
			order = append(order, c.Outcome.Summary)
		}
	}
	if len(order) > 0 {
		md.WriteString("First upstream (mainline) release measured with each outcome:\n\n")
		for _, o := range order {
			fmt.Fprintf(md, "- %s: from %s (%s)\n", code(o), code(first[o].KernelInfo.VersionString()), code(first[o].Kernel))
		}
		md.WriteString("\nOnly the mainline releases named in the table were measured; a release between two of them may behave either way.\n\n")
		return
	}
	if len(comparable) < 2 {
		return
	}
	arches := map[string]bool{}
	for _, c := range comparable {
		arches[c.KernelInfo.ArchFamily()] = true
	}
	if len(arches) > 1 {
		fmt.Fprintf(md, "The kernels compared differ in architecture (%s): the difference may be the architecture's rather than a release's. Compare kernels of one architecture to date it.\n\n", strings.Join(sortedKeys(arches), ", "))
		return
	}
	lo, hi, why := boundary(comparable)
	if why != "" {
		fmt.Fprintf(md, "No upstream (mainline) kernel was measured, and no mainline range to bisect follows from these kernels: %s.\n\n", why)
		return
	}
	args := []string{"runmatrix", "bisect", "--case", g.c.ID, "--profile", g.profile.Name, "--kernel", "mainline:" + lo + ".." + hi}
	if len(program) > 0 {
		args = append(append(args, "--"), program...)
	}
	fmt.Fprintf(md, "No upstream (mainline) kernel was measured, so which upstream release first behaves each way is not established here (distribution kernels carry backports). The first change in version order is between upstream %s and %s; to find the release:\n\n%s",
		code(lo), code(hi), fence("sh", shellJoin(args)))
}

// boundary is the upstream tags around the first change of outcome among
// cells in version order ("v4.4", "v4.15"), or why there are none.
func boundary(cells []*results.Result) (lo, hi, why string) {
	for i := 1; i < len(cells); i++ {
		if cells[i].Outcome.Summary == cells[i-1].Outcome.Summary {
			continue
		}
		a, aok := upstreamTag(cells[i-1].KernelInfo)
		b, bok := upstreamTag(cells[i].KernelInfo)
		switch {
		case !aok || !bok:
			return "", "", fmt.Sprintf("the upstream release of %s or %s is not known", cells[i-1].Kernel, cells[i].Kernel)
		case a == b:
			return "", "", fmt.Sprintf("the first change is between two builds of upstream %s (%s and %s), a distribution's own change: compare its kernels' changelogs", a, cells[i-1].Kernel, cells[i].Kernel)
		}
		return a, b, ""
	}
	return "", "", "the outcomes do not change in version order"
}

// upstreamTag is the mainline tag a kernel's version builds on: v2.6.32,
// v4.4 (4.4.0-210 Ubuntu), v6.1.99 (Debian's 6.1.99-1).
func upstreamTag(k results.Kernel) (string, bool) {
	v := k.Version()
	if len(v) < 2 || v[0] < 2 {
		return "", false
	}
	switch {
	case v[0] == 2 && len(v) >= 3:
		return fmt.Sprintf("v2.%d.%d", v[1], v[2]), true
	case len(v) >= 3 && v[2] != 0:
		return fmt.Sprintf("v%d.%d.%d", v[0], v[1], v[2]), true
	}
	return fmt.Sprintf("v%d.%d", v[0], v[1]), true
}

// sides are the oldest and the newest outcome of a group, in version order.
func sides(g *group) Sides {
	cells := g.byVersion()
	var s Sides
	for _, c := range cells {
		if !c.Comparable() {
			continue
		}
		if s.Old == "" {
			s.Old, s.OldOn = c.Outcome.Summary, on(c)
		} else if c.Outcome.Summary != s.Old {
			s.New, s.NewOn = c.Outcome.Summary, on(c)
		}
	}
	return s
}

func on(c *results.Result) string { return c.Kernel + " (" + c.KernelInfo.Release + ")" }

// reproFor generates the C reproducer from the most complete trace: the
// kernel that got furthest through the case.
func reproFor(g *group) (string, string, error) {
	best := g.cells[0]
	for _, c := range g.cells {
		if c.Outcome.Status == outcome.OK && (best.Outcome.Status != outcome.OK || len(c.Outcome.Steps) > len(best.Outcome.Steps)) {
			best = c
		}
	}
	if traced(best.Outcome) {
		// A replay tells its trace's kernel from the others, so the trace
		// is the oldest kernel's: the old outcome, as REPORT.md says.
		for _, c := range g.byVersion() {
			if c.Comparable() && c.Outcome.Status == outcome.OK && traced(c.Outcome) {
				best = c
				break
			}
		}
	}
	from := on(best)
	src, err := Repro(g.c, g.profile, best.Outcome, from, sides(g))
	if err != nil {
		return "", "", err
	}
	return src, from, nil
}

func writeGroup(md *strings.Builder, g *group, program []string) {
	fmt.Fprintf(md, "## %s under profile %s\n\n", code(g.c.ID), code(g.profile.Name))
	// The statement: what each kernel did, plainly.
	byText := map[string][]string{}
	var texts []string
	for _, c := range g.cells {
		t := c.Text()
		if _, ok := byText[t]; !ok {
			texts = append(texts, t)
		}
		byText[t] = append(byText[t], fmt.Sprintf("%s (%s)", code(c.KernelInfo.Ref), code(dash(c.KernelInfo.Release))))
	}
	var parts []string
	for _, t := range texts {
		parts = append(parts, fmt.Sprintf("on %s the outcome is %s", strings.Join(byText[t], " and "), code(t)))
	}
	fmt.Fprintf(md, "%s: %s. %s Source: %s.\n\n", g.c.Title, strings.Join(parts, "; "), g.c.About, g.c.Source)

	fmt.Fprintf(md, "| kernel | release | arch | outcome | expected |\n|---|---|---|---|---|\n")
	for _, c := range g.cells {
		exp := ""
		if c.Expect != nil {
			mark := "✓"
			switch {
			case c.Expect.Unjudged != "":
				mark = "? (not judged: " + c.Expect.Unjudged + ")"
			case !c.Expect.Pass:
				mark = "✗"
			}
			exp = mark + " " + cellCode(c.Expect.Summary)
		}
		fmt.Fprintf(md, "| %s | %s | %s | %s | %s |\n", cellCode(c.KernelInfo.Ref), cellCode(dash(c.KernelInfo.Release)), cellCode(dash(c.KernelInfo.Arch)),
			cellCode(c.Text()), exp)
	}
	md.WriteString("\n")
	writeUpstream(md, g, program)

	for _, c := range g.cells {
		k := c.KernelInfo
		fmt.Fprintf(md, "### %s: %s\n\n", code(k.Ref), code(dash(k.Release)))
		fmt.Fprintf(md, "- Kernel version (uname -v): %s\n", code(dash(k.UnameVersion)))
		fmt.Fprintf(md, "- Image version string: %s\n", code(dash(k.ImageVersion)))
		fmt.Fprintf(md, "- Architecture (uname -m): %s\n", code(dash(k.Arch)))
		fmt.Fprintf(md, "- Obtained: %s\n", origin(k))
		fmt.Fprintf(md, "- Sysctls in force: %s\n", sysctls(c.Outcome.Sysctls))
		fmt.Fprintf(md, "- Guest: QEMU %s, transport %s; case isolation %s\n\n", code(dash(k.Accel)), code(dash(k.Transport)), code(dash(c.Outcome.Isolation)))
		fmt.Fprintf(md, "Syscall trace (ms since the case started, side, call, return value, errno, signals):\n\n%s", fence("text", orNone(report.Trace(c.Outcome))))
		fmt.Fprintf(md, "Guest console while the case ran:\n\n%s", fence("text", orNone(strings.Join(c.Console, "\n"))))
	}
}

func origin(k results.Kernel) string {
	o := k.Origin
	switch {
	case o.Package != "":
		// Debian's, Ubuntu's (mainline builds too), or an RPM or APK of a
		// distribution whose release the suite names ("CentOS 6.6").
		what, sum := "Debian package", "deb sha256 "+code(o.DebSHA256)
		switch {
		case o.PackageSHA256 != "":
			what, sum = text(o.Suite)+" package", "package sha256 "+code(o.PackageSHA256)
		case strings.HasPrefix(o.Suite, "Ubuntu "), strings.HasPrefix(o.Suite, "mainline "):
			what = "Ubuntu package (" + text(o.Suite) + ")"
		}
		s := fmt.Sprintf("%s %s version %s (%s), image sha256 %s", what, code(o.Package), code(o.PackageVersion), sum, code(o.SHA256))
		if o.URL != "" {
			s += ", from " + link(o.URL)
		}
		return s
	case o.URL != "":
		return fmt.Sprintf("downloaded from %s, sha256 %s", link(o.URL), code(o.SHA256))
	case o.File != "":
		return fmt.Sprintf("local file %s, sha256 %s", code(o.File), code(o.SHA256))
	}
	return "unknown"
}

func sysctls(m map[string]string) string {
	if len(m) == 0 {
		return "none recorded"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, code(k+" = "+v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

// shellJoin quotes args for a POSIX shell.
func shellJoin(args []string) string {
	var out []string
	for _, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+", r))
		}) < 0 {
			out = append(out, a)
			continue
		}
		out = append(out, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(out, " ")
}

// code is s as a Markdown code span on one line: control characters
// become spaces, and the backtick fence is longer than any run of
// backticks inside, so no text from a cell can end the span early and
// become Markdown (a link, an image, a command to paste).
func code(s string) string {
	s = oneLine(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// text is s as Markdown prose when it is plain words ("Ubuntu 24.04
// noble-security"), else as code: nothing else can become a link, an
// image, HTML or emphasis.
func text(s string) string {
	if plainText.MatchString(s) && !strings.Contains(strings.ToLower(s), "www.") {
		return s
	}
	return code(s)
}

var plainText = regexp.MustCompile(`^[A-Za-z0-9 .,-]*$`)

// link is an http(s) URL as a Markdown autolink, and anything else as code:
// a link's text is its address, so what the reader sees is where it goes.
func link(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
		strings.IndexFunc(u, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("<>`\"\\", r) }) >= 0 {
		return code(u)
	}
	return "<" + u + ">"
}

// cellCode is code for a table cell, where a pipe would end the cell.
func cellCode(s string) string { return strings.ReplaceAll(code(s), "|", "\\|") }

// fence is body as a fenced Markdown block that body cannot close: the
// fence is longer than any run of backticks in it.
func fence(lang, body string) string {
	body = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, strings.TrimSuffix(body, "\n"))
	f := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	return f + lang + "\n" + body + "\n" + f + "\n\n"
}

// oneLine is s with every control character a space.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func longestRun(s string, c byte) int {
	most, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			most = max(most, n)
		} else {
			n = 0
		}
	}
	return most
}
