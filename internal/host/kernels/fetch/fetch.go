// Package fetch is the one HTTP client of every kernel provider: each
// meets a missing file, a bad status, a body too large or cut short and a
// flaky server the same way. A missing file (404, 410) is a
// *NotFoundError, any other status but 200 a *StatusError, a body over
// its bound or short of its length a *SizeError, and a GET that failed
// for any other cause than a missing file, an unknown host or a cancelled
// context is tried again.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"time"
)

// NotFoundError is a file the server does not have (HTTP 404 or 410).
type NotFoundError struct{ URL string }

func (e *NotFoundError) Error() string { return e.URL + ": not found on the mirror" }

// StatusError is an answer other than 200, 404 and 410.
type StatusError struct {
	URL    string
	Status string // "500 Internal Server Error"
	Code   int
	// Header is the answer's header (a 401's WWW-Authenticate).
	Header http.Header
}

func (e *StatusError) Error() string { return e.URL + ": " + e.Status }

// SizeError is a body larger than its bound or shorter than the length
// the server announced.
type SizeError struct {
	URL  string
	What string
	// Over says the body is too large, which trying again cannot mend.
	Over bool
}

func (e *SizeError) Error() string { return e.URL + ": " + e.What }

// Client GETs files. The zero value uses http.DefaultClient, 3 tries and
// a 500 ms back-off growing with each try.
type Client struct {
	HTTP    *http.Client
	Tries   int
	Backoff time.Duration
}

func (c *Client) http() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Open GETs u once with header (may be nil); the caller closes the
// answer's body. An error of the transport itself is the client's
// *url.Error.
func (c *Client) Open(ctx context.Context, u string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp, nil
	case http.StatusNotFound, http.StatusGone:
		resp.Body.Close()
		return nil, &NotFoundError{URL: u}
	default:
		resp.Body.Close()
		return nil, &StatusError{URL: u, Status: resp.Status, Code: resp.StatusCode, Header: resp.Header}
	}
}

// Bytes reads u whole, refusing a body of more than max bytes, tried
// again as Retry does.
func (c *Client) Bytes(ctx context.Context, u string, max int64) ([]byte, error) {
	var b []byte
	err := c.Retry(ctx, func() error {
		resp, err := c.Open(ctx, u, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err = read(u, resp, max)
		return err
	})
	return b, err
}

// Copy GETs u into w (rewound and emptied before each try), at most max
// bytes, feeding h (may be nil; reset before each try) as it goes, then
// asks check (may be nil) whether what arrived is right: a wrong download
// is tried again as a failed one is. It returns how many bytes it wrote.
func (c *Client) Copy(ctx context.Context, u string, w io.WriteSeeker, max int64, h hash.Hash, check func(n int64) error) (int64, error) {
	var n int64
	err := c.Retry(ctx, func() error {
		if _, err := w.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if t, ok := w.(interface{ Truncate(int64) error }); ok {
			if err := t.Truncate(0); err != nil {
				return err
			}
		}
		if h != nil {
			h.Reset()
		}
		resp, err := c.Open(ctx, u, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		dst := io.Writer(w)
		if h != nil {
			dst = io.MultiWriter(w, h)
		}
		n, err = copyBounded(u, resp, dst, max)
		if err == nil && check != nil {
			err = check(n)
		}
		return err
	})
	return n, err
}

// read reads resp's body whole, at most max bytes.
func read(u string, resp *http.Response, max int64) ([]byte, error) {
	var b bytes.Buffer
	if _, err := copyBounded(u, resp, &b, max); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// copyBounded copies resp's body to w, at most max bytes.
func copyBounded(u string, resp *http.Response, w io.Writer, max int64) (int64, error) {
	if resp.ContentLength > max {
		return 0, &SizeError{URL: u, What: fmt.Sprintf("%d bytes, more than the %d this file may have", resp.ContentLength, max), Over: true}
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if errors.Is(err, io.ErrUnexpectedEOF) && resp.ContentLength > n {
		return n, &SizeError{URL: u, What: fmt.Sprintf("truncated after %d of %d bytes", n, resp.ContentLength)}
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", u, err)
	}
	return n, sizeOK(u, resp, n, max)
}

// sizeOK checks n bytes read of resp's body against max and the length
// the server announced.
func sizeOK(u string, resp *http.Response, n, max int64) error {
	switch {
	case n > max:
		return &SizeError{URL: u, What: fmt.Sprintf("more than the %d bytes this file may have", max), Over: true}
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return &SizeError{URL: u, What: fmt.Sprintf("truncated after %d of %d bytes", n, resp.ContentLength)}
	}
	return nil
}

// Retry runs fn up to Tries times while it fails with anything but a
// missing file, a host name DNS says does not exist or a cancelled
// context, backing off between tries.
func (c *Client) Retry(ctx context.Context, fn func() error) error {
	tries, backoff := 3, 500*time.Millisecond
	if c != nil && c.Tries > 0 {
		tries = c.Tries
	}
	if c != nil && c.Backoff > 0 {
		backoff = c.Backoff
	}
	var err error
	for i := 0; i < tries; i++ {
		if i > 0 {
			t := time.NewTimer(time.Duration(i) * backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err = fn(); err == nil || !Transient(ctx, err) {
			return err
		}
	}
	if tries > 1 {
		return fmt.Errorf("%w (tried %d times)", err, tries)
	}
	return err
}

// Transient reports whether err may go away when tried again: not a
// missing file, a client error (4xx but a timeout or too many requests),
// a body over its bound, an unknown host, a cancelled context or an error
// marked Permanent.
func Transient(ctx context.Context, err error) bool {
	var nf *NotFoundError
	var st *StatusError
	var se *SizeError
	var dns *net.DNSError
	var pe *permanentError
	switch {
	case ctx.Err() != nil, errors.As(err, &nf), errors.As(err, &pe):
		return false
	case errors.As(err, &st):
		return st.Code >= 500 || st.Code == http.StatusRequestTimeout || st.Code == http.StatusTooEarly || st.Code == http.StatusTooManyRequests
	case errors.As(err, &se):
		return !se.Over
	case errors.As(err, &dns):
		return !dns.IsNotFound
	}
	return true
}

// Permanent marks err as one that trying again cannot mend (a registry's
// "not found" under its own error type, say): Retry returns it at once.
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
