package initramfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

func TestMemo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, m Memo, archive string)
		found  bool
	}{
		{name: "remembered", damage: func(*testing.T, Memo, string) {}, found: true},
		{name: "archive changed", damage: func(t *testing.T, _ Memo, archive string) {
			require.NoError(t, os.WriteFile(archive, []byte("not the archive"), 0o644))
		}},
		{name: "archive gone", damage: func(t *testing.T, _ Memo, archive string) {
			require.NoError(t, os.Remove(archive))
		}},
		{name: "memo names a file outside the cache directory", damage: func(t *testing.T, m Memo, archive string) {
			p, err := m.path()
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte(`{"archive":"../../etc/passwd","sha256":"x","modules":[]}`), 0o644))
		}},
		{name: "memo unreadable", damage: func(t *testing.T, m Memo, archive string) {
			p, err := m.path()
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte(`{`), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := store.Cache{Dir: t.TempDir()}
			archive, err := Base(cache, []byte("init"), []byte("agent"), []Module{{Name: "virtio_net.ko", Data: []byte("ko")}})
			require.NoError(t, err)
			m := Memo{Cache: cache, Key: "k1"}
			_, _, ok := m.Lookup()
			require.False(t, ok, "nothing remembered yet")
			require.NoError(t, m.Remember(archive, []Module{{Name: "virtio_net.ko", Data: []byte("ko")}}))
			tc.damage(t, m, archive)
			got, mods, ok := m.Lookup()
			require.Equal(t, tc.found, ok)
			if tc.found {
				require.Equal(t, filepath.Clean(archive), got)
				require.Equal(t, []Module{{Name: "virtio_net.ko"}}, mods)
			}
			_, _, ok = Memo{Cache: cache, Key: "k2"}.Lookup()
			require.False(t, ok, "another key remembers nothing")
		})
	}
}
