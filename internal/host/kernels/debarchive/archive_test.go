package debarchive

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// dnsNotFound is a transport that fails as a host DNS says does not exist.
type dnsNotFound struct{ calls int }

func (d *dnsNotFound) RoundTrip(r *http.Request) (*http.Response, error) {
	d.calls++
	return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
}

// TestNoRetryForAHostThatDoesNotExist: retrying a name DNS says does not
// exist only delays the answer (the archive of retired releases, out of
// reach, made every default run 1.5 s slower).
func TestNoRetryForAHostThatDoesNotExist(t *testing.T) {
	tr := &dnsNotFound{}
	a := &Archive{URL: "http://archive.example.invalid/debian", Client: &http.Client{Transport: tr}}
	_, err := a.Release(context.Background(), "squeeze")
	var dns *net.DNSError
	require.True(t, errors.As(err, &dns), "%v", err)
	require.Equal(t, 1, tr.calls, "asked once")
	require.NotContains(t, err.Error(), "tried")
}

// zeros is an endless body of zero bytes that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// endless serves every file as 1 GiB of zeros with no Content-Length, as a
// hostile mirror might.
type endless struct{}

func (endless) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(io.LimitReader(zeros{}, 1<<30)), ContentLength: -1, Request: r}, nil
}

// TestOversizedFilesRefused: an InRelease or a listing without end is
// refused once past its bound, with the runner's allocations bounded.
func TestOversizedFilesRefused(t *testing.T) {
	a := &Archive{URL: "http://archive.example.invalid/debian", Client: &http.Client{Transport: endless{}}, Tries: 1}
	for _, tc := range []struct {
		name string
		get  func() error
		max  int64
	}{
		{"InRelease", func() error { _, err := a.Release(context.Background(), "bookworm"); return err }, MaxRelease},
		{"a listing", func() error { _, err := a.Get(context.Background(), "pool/"); return err }, MaxGet},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := tc.get()
		runtime.ReadMemStats(&after)
		var ie *IntegrityError
		require.ErrorAs(t, err, &ie, tc.name)
		require.Contains(t, err.Error(), "more than the", tc.name)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8*tc.max), "%s: allocated %d MiB", tc.name, (after.TotalAlloc-before.TotalAlloc)>>20)
	}
}
