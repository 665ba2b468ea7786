// Package fetch GETs single files from distribution mirrors: a missing
// file is a *NotFoundError, any other status but 200 an error, and a body
// read whole is bounded.
package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// NotFoundError is a file the mirror does not have (Open: HTTP 404).
type NotFoundError struct{ URL string }

func (e *NotFoundError) Error() string { return e.URL + ": not found on the mirror" }

// Open GETs u with c (http.DefaultClient when nil); the caller closes the
// body. An error from the transport itself is the client's *url.Error.
func Open(ctx context.Context, c *http.Client, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, &NotFoundError{URL: u}
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return resp.Body, nil
}

// Bytes reads u whole, refusing a body of more than max bytes.
func Bytes(ctx context.Context, c *http.Client, u string, max int64) ([]byte, error) {
	body, err := Open(ctx, c, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB", u, max>>20)
	}
	return b, nil
}
