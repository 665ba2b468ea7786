package store

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPathRefusesNamesFromOutside: an entry's parts come from indexes and
// references, and none may name a file outside the cache.
func TestPathRefusesNamesFromOutside(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	for _, part := range []string{"", ".", "..", "a/../../x", "/etc/passwd", "nul\x00"} {
		_, err := c.Path("blobs", part)
		require.ErrorContains(t, err, "is not a file name", "%q", part)
	}
	p, err := c.Path("blobs", "abc")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(c.Dir, "blobs", "abc"), p)
	require.DirExists(t, filepath.Dir(p))
}

func TestPutNamesABlobByItsDigest(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	f, err := c.TempFile()
	require.NoError(t, err)
	_, err = f.WriteString("kernel")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	digest, p, err := c.Put(f.Name())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(c.Dir, "blobs", digest), p)
	again, err := FileSHA256(p)
	require.NoError(t, err)
	require.Equal(t, digest, again)
	require.NoFileExists(t, f.Name())
}

// TestWriteAtomicWholeOrNothing: a writer that fails leaves the old file,
// and concurrent writers each leave a whole file.
func TestWriteAtomicWholeOrNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, WriteFileAtomic(p, []byte("old"), 0o644))
	err := WriteAtomic(p, 0o644, func(w io.Writer) error {
		_, _ = w.Write([]byte("half"))
		return errors.New("disk full")
	})
	require.ErrorContains(t, err, "disk full")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old", string(b))

	var wg sync.WaitGroup
	for _, body := range []string{"aaaaaaaa", "bbbbbbbb", "cccccccc"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, WriteFileAtomic(p, []byte(body), 0o644))
		}()
	}
	wg.Wait()
	b, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, []string{"aaaaaaaa", "bbbbbbbb", "cccccccc"}, string(b))
	left, err := filepath.Glob(filepath.Join(filepath.Dir(p), ".results.json.*"))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file is left behind")
}

// TestWriteJSON: indented, a final newline, and what it wrote reads back.
func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.json")
	require.NoError(t, WriteJSON(p, map[string]int{"a": 1}))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1\n}\n", string(b))
	require.Error(t, WriteJSON(p, func() {}), "what JSON cannot say is an error")
	b, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1\n}\n", string(b), "and leaves the file as it was")
}
