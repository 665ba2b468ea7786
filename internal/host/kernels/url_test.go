package kernels

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
	"github.com/stretchr/testify/require"
)

// TestURLCacheVerified: a cached download is checked on every use and
// downloaded again when it no longer matches the reference's digest.
func TestURLCacheVerified(t *testing.T) {
	img := archivetest.Image("6.1.0-1-amd64 (test) #1", cpu.X86_64)
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gets++; w.Write(img) }))
	defer srv.Close()
	ref := srv.URL + "/bzImage#sha256=" + archivetest.SHA256(img)
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	k, err := r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	_, err = r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	require.Equal(t, 1, gets, "a good cached copy is reused")
	require.NoError(t, os.WriteFile(k.Path, append(img[:len(img)-1:len(img)-1], 0x42), 0o644))
	k, err = r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	require.Equal(t, 2, gets, "a damaged copy is downloaded again")
	require.Equal(t, archivetest.SHA256(img), k.Origin.SHA256)
}
