package fetch

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flaky serves files by path; a path listed in fails answers with its
// status (or, 0, a body cut short of its announced length) that many
// times first.
type flaky struct {
	mu    sync.Mutex
	files map[string]string
	fails map[string][]int
	gets  map[string]int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.gets[r.URL.Path]++
	var status int
	fail := len(f.fails[r.URL.Path]) > 0
	if fail {
		status, f.fails[r.URL.Path] = f.fails[r.URL.Path][0], f.fails[r.URL.Path][1:]
	}
	body, ok := f.files[r.URL.Path]
	f.mu.Unlock()
	switch {
	case fail && status == 0:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+5))
		w.Write([]byte(body))
	case fail:
		w.WriteHeader(status)
	case !ok:
		http.NotFound(w, r)
	default:
		w.Write([]byte(body))
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails []int
		max   int64
		path  string
		want  string // the body, or the error's text
		gets  int
		check func(t *testing.T, err error)
	}{
		{name: "whole file", max: 10, want: "0123456789", gets: 1},
		{name: "a 503, then the file", fails: []int{503}, max: 10, want: "0123456789", gets: 2},
		{name: "a body cut short, then the file", fails: []int{0}, max: 20, want: "0123456789", gets: 2},
		{name: "a body cut short every time", fails: []int{0, 0, 0}, max: 20, gets: 3,
			want: "/f: truncated after 10 of 15 bytes (tried 3 times)",
			check: func(t *testing.T, err error) {
				var se *SizeError
				require.ErrorAs(t, err, &se)
				require.False(t, se.Over)
			}},
		{name: "a server error every time", fails: []int{500, 500, 500}, max: 10, gets: 3,
			want: "/f: 500 Internal Server Error (tried 3 times)",
			check: func(t *testing.T, err error) {
				var se *StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, 500, se.Code)
			}},
		{name: "a missing file is not tried again", path: "/gone", max: 10, gets: 1, want: "/gone: not found on the mirror",
			check: func(t *testing.T, err error) {
				var nf *NotFoundError
				require.ErrorAs(t, err, &nf)
			}},
		{name: "a client error is not tried again", fails: []int{403}, max: 10, gets: 1, want: "/f: 403 Forbidden",
			check: func(t *testing.T, err error) {
				var se *StatusError
				require.ErrorAs(t, err, &se)
			}},
		{name: "429, then the file", fails: []int{429}, max: 10, want: "0123456789", gets: 2},
		{name: "410 Gone is a missing file", fails: []int{410}, max: 10, gets: 1, want: "/f: not found on the mirror",
			check: func(t *testing.T, err error) {
				var nf *NotFoundError
				require.ErrorAs(t, err, &nf)
			}},
		{name: "a body over its bound is not tried again", max: 9, gets: 1, want: "/f: 10 bytes, more than the 9 this file may have",
			check: func(t *testing.T, err error) {
				var se *SizeError
				require.ErrorAs(t, err, &se)
				require.True(t, se.Over)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &flaky{files: map[string]string{"/f": "0123456789"}, fails: map[string][]int{"/f": tc.fails}, gets: map[string]int{}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			path := tc.path
			if path == "" {
				path = "/f"
			}
			c := &Client{Backoff: time.Millisecond}
			b, err := c.Bytes(context.Background(), ts.URL+path, tc.max)
			require.Equal(t, tc.gets, srv.gets[path], "GETs")
			if tc.check == nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, string(b))
				return
			}
			require.EqualError(t, err, ts.URL+tc.want)
			tc.check(t, err)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		_, err := (&Client{Tries: 1}).Bytes(context.Background(), "http://127.0.0.1:1/x", 10)
		var ue *url.Error
		require.ErrorAs(t, err, &ue)
	})
	t.Run("an error marked permanent is not tried again", func(t *testing.T) {
		n := 0
		err := (&Client{Backoff: time.Millisecond}).Retry(context.Background(), func() error {
			n++
			return Permanent(errors.New("no such tag"))
		})
		require.EqualError(t, err, "no such tag")
		require.Equal(t, 1, n)
	})
	t.Run("a cancelled context stops the back-off", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := (&Client{Backoff: time.Hour}).Bytes(ctx, "http://127.0.0.1:1/x", 10)
		require.ErrorIs(t, err, context.Canceled)
	})
}

// TestCopy: a download is rewound and hashed anew on each try, and a
// wrong one (check) is tried again.
func TestCopy(t *testing.T) {
	srv := &flaky{files: map[string]string{"/pkg": "package"}, fails: map[string][]int{"/pkg": {0}}, gets: map[string]int{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	f, err := os.CreateTemp(t.TempDir(), "dl")
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	checks := 0
	n, err := (&Client{Backoff: time.Millisecond}).Copy(context.Background(), ts.URL+"/pkg", f, 100, h, func(n int64) error {
		checks++
		if checks == 1 {
			return errors.New("sha256 differs")
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(7), n)
	require.Equal(t, 3, srv.gets["/pkg"], "one cut short, one refused by check, one right")
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "package", string(b), "nothing of an earlier try is left")
	want := sha256.Sum256([]byte("package"))
	require.Equal(t, want[:], h.Sum(nil))
}
