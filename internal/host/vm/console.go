package vm

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// console reads the guest's serial console, copies it to a log, keeps the
// last lines, and reports the init's ready and fatal lines.
type console struct {
	mu    sync.Mutex
	lines []string
	keep  int
	total int // lines seen since boot

	ready chan bootproto.Ready
	wait  chan struct{} // closed at the init's wait line
	fatal chan string
	done  chan struct{}

	waitOnce sync.Once
	// marks are the initMarkers the console has shown.
	marks map[string]bool
}

func newConsole(keep int) *console {
	return &console{keep: keep, ready: make(chan bootproto.Ready, 1), wait: make(chan struct{}), fatal: make(chan string, 1), done: make(chan struct{})}
}

// panicMarkers are console lines after which the guest will not come up.
// "-- System halted" is the boot decompressor giving up (a damaged image).
var panicMarkers = []string{"Kernel panic - not syncing", "---[ end Kernel panic", "-- System halted", bootproto.FatalPrefix}

func (c *console) run(r io.Reader, log io.Writer) {
	defer close(c.done)
	br := bufio.NewReaderSize(r, maxConsoleLine)
	for {
		line, err := readLine(br)
		if line != "" {
			if log != nil {
				log.Write([]byte(line))
			}
			line = strings.TrimRight(line, "\r\n")
			c.add(line)
			if strings.HasSuffix(line, bootproto.WaitLine) {
				c.waitOnce.Do(func() { close(c.wait) })
			}
			if rd, ok := bootproto.ParseReady(line); ok {
				select {
				case c.ready <- rd:
				default:
				}
			}
			for _, m := range panicMarkers {
				if strings.Contains(line, m) {
					select {
					case c.fatal <- line:
					default:
					}
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// maxConsoleLine bounds one console line: a guest (a hostile kernel, or a
// program as root in it) that prints without newlines must not make the
// runner hold what it prints. A longer line is kept cut, marked so.
const maxConsoleLine = 4 << 10

// cutMark ends a console line that was cut at maxConsoleLine.
const cutMark = " [line cut: longer than 4 KiB]\n"

// readLine reads one line, newline included, of at most maxConsoleLine
// bytes: the rest of a longer one is read and dropped.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return string(b), err
	}
	line := string(b) + cutMark
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	return line, err
}

// seen reports whether the console has shown a line containing any of
// markers (only initMarkers are watched for).
func (c *console) seen(markers []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range markers {
		if c.marks[m] {
			return true
		}
	}
	return false
}

func (c *console) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range initMarkers {
		if strings.Contains(line, m) {
			if c.marks == nil {
				c.marks = map[string]bool{}
			}
			c.marks[m] = true
		}
	}
	c.lines = append(c.lines, line)
	c.total++
	if len(c.lines) > c.keep {
		c.lines = c.lines[len(c.lines)-c.keep:]
	}
}

// tail returns up to n of the last console lines.
func (c *console) tail(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > len(c.lines) {
		n = len(c.lines)
	}
	return append([]string(nil), c.lines[len(c.lines)-n:]...)
}

// since returns the kept lines after the first `mark` lines since boot,
// and the new mark.
func (c *console) since(mark int) ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.total - mark
	if n > len(c.lines) {
		n = len(c.lines)
	}
	if n < 0 {
		n = 0
	}
	return append([]string(nil), c.lines[len(c.lines)-n:]...), c.total
}
