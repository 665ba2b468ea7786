package debarchive

import (
	"context"
	"errors"
	"net"
	"net/http"
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
