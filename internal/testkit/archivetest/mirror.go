package archivetest

import (
	"net/http"
	"strings"
)

// Mirror serves Files by path (without the leading "/"), as a mirror of
// any layout would; tests may change Files between requests. Truncate
// names a file served cut to half its length.
type Mirror struct {
	Files    map[string][]byte
	Truncate string
}

// Add puts files under prefix ("6.5/os/x86_64/").
func (m *Mirror) Add(prefix string, files map[string][]byte) {
	if m.Files == nil {
		m.Files = map[string][]byte{}
	}
	for p, b := range files {
		m.Files[prefix+p] = b
	}
}

func (m *Mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	b, ok := m.Files[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if m.Truncate != "" && p == m.Truncate {
		b = b[:len(b)/2]
	}
	w.Write(b)
}
