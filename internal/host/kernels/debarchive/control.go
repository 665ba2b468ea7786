package debarchive

import (
	"bufio"
	"io"
	"strings"
)

// Paragraph is one stanza of a Debian control file (Release, Packages):
// field names as written, values with continuation lines joined by "\n".
type Paragraph map[string]string

// readParagraphs calls fn for each stanza of r until fn returns false.
func readParagraphs(r io.Reader, fn func(Paragraph) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	p := Paragraph{}
	last := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(p) > 0 && !fn(p) {
				return nil
			}
			p, last = Paragraph{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				p[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = k
			p[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(p) > 0 {
		fn(p)
	}
	return nil
}
