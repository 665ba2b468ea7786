package bootimage

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigIn(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte("CONFIG_IKCONFIG=y\nCONFIG_TCP_FASTOPEN=y\n"))
	require.NoError(t, zw.Close())
	for _, tc := range []struct {
		name    string
		vmlinux []byte
		want    string
		err     bool
	}{
		{"embedded", append(append([]byte("\x00junkIKCFG_ST"), z.Bytes()...), []byte("IKCFG_ED\x00")...), "CONFIG_IKCONFIG=y\nCONFIG_TCP_FASTOPEN=y\n", false},
		{"none", []byte("\x00no config here\x00"), "", false},
		{"no end marker", append([]byte("IKCFG_ST"), z.Bytes()...), "", false},
		{"corrupt", []byte("IKCFG_STnot gzipIKCFG_ED"), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := configIn(tc.vmlinux)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}
