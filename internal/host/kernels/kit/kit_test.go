package kit

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/stretchr/testify/require"
)

func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		got     func() ([]string, error)
		want    []string
		wantErr string
	}{
		{"span", func() ([]string, error) { return Span("d", []string{"1", "2", "3", "4"}, "2", "3", "d:2..3") }, []string{"2", "3"}, ""},
		{"span backwards", func() ([]string, error) { return Span("d", []string{"1", "2", "3"}, "3", "2", "d:2..3") }, nil, "want d:A..B with A and B releases runmatrix knows, A not after B (d:2..3)"},
		{"span unknown", func() ([]string, error) { return Span("d", []string{"1", "2"}, "1", "9", "d:1..2") }, nil, "A and B releases runmatrix knows"},
		{"minors", func() ([]string, error) { return Minors("rocky", "8.4", "8.6", "rocky:8.4..8.8") }, []string{"8.4", "8.5", "8.6"}, ""},
		{"minors across majors", func() ([]string, error) { return Minors("rocky", "8.4", "9.1", "rocky:8.4..8.8") }, nil, "minor releases of one major version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestEnv: mirrors default unless overridden, an index is fresh within
// its TTL (always offline), and --offline's miss is bad input naming
// the command that fills the cache.
func TestEnv(t *testing.T) {
	e := &Env{Mirrors: map[string]string{"a": "http://here/"}}
	require.Equal(t, "http://here", e.Mirror("a", "http://default"))
	require.Equal(t, "http://default", e.Mirror("b", "http://default"))

	type index struct{ Fetched time.Time }
	p := filepath.Join(t.TempDir(), "index.json")
	var got index
	require.False(t, e.FreshIndex(p, &got, &got.Fetched), "nothing cached")
	require.NoError(t, store.WriteJSON(p, index{Fetched: time.Now().Add(-2 * DefaultIndexTTL)}))
	require.False(t, e.FreshIndex(p, &got, &got.Fetched), "older than the TTL")
	e.IndexTTL = 3 * DefaultIndexTTL
	require.True(t, e.FreshIndex(p, &got, &got.Fetched))
	e.IndexTTL, e.Offline = 0, true
	require.True(t, e.FreshIndex(p, &got, &got.Fetched), "offline, any age")

	err := OfflineMiss("alpine:3.18", "")
	var ie *InputError
	require.True(t, errors.As(err, &ie))
	require.EqualError(t, err, "kernel alpine:3.18: not in the cache, and --offline forbids the network; run `runmatrix kernels fetch alpine:3.18` first")
}
