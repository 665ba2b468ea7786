package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("0123456789"))
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, path string
		max        int64
		want       string // the body, or the error's text
		ok         bool
		notFound   bool
	}{
		{name: "whole file", path: "/ok", max: 10, want: "0123456789", ok: true},
		{name: "missing file", path: "/gone", max: 10, want: srv.URL + "/gone: not found on the mirror", notFound: true},
		{name: "server error", path: "/broken", max: 10, want: srv.URL + "/broken: 500 Internal Server Error"},
		{name: "over the bound", path: "/ok", max: 9, want: srv.URL + "/ok: larger than 0 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bytes(context.Background(), nil, srv.URL+tc.path, tc.max)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, tc.want, string(b))
				return
			}
			require.EqualError(t, err, tc.want)
			var nf *NotFoundError
			require.Equal(t, tc.notFound, errors.As(err, &nf))
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		_, err := Bytes(context.Background(), nil, "http://127.0.0.1:1/x", 10)
		var ue *url.Error
		require.ErrorAs(t, err, &ue)
	})
}
