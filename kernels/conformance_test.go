package kernels

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// everyKind is a reference of every kind of provider and form.
var everyKind = []string{
	"debian:6.1", "debian:bookworm", "debian:6.1.0-50", "debian:6.1/arm64",
	"ubuntu:22.04", "ubuntu:22.04/hwe", "ubuntu:5.15.0-91",
	"mainline:v6.1", "mainline:v6.6/arm64",
	"alpine:3.18", "alpine:3.18/virt",
	"centos:6.5", "centos:2.6.32-504.el6", "rocky:8", "alma:9", "fedora:39",
	"oci:127.0.0.1:1/cilium/ci-kernels:6.6",
	"http://127.0.0.1:1/bzImage#sha256=" + strings.Repeat("ab", 32),
}

// TestProvidersAlikeOffline: offline with nothing cached, every provider
// refuses the same way: one message saying the kernel is not in the cache,
// that --offline forbids the network and which command fills the cache,
// as bad input (exit 2), without touching the network.
func TestProvidersAlikeOffline(t *testing.T) {
	for _, ref := range everyKind {
		t.Run(ref, func(t *testing.T) {
			r := unreachable(t)
			r.Debian.Offline = true
			_, err := r.Resolve(context.Background(), ref)
			require.Error(t, err)
			require.ErrorContains(t, err, "not in the cache")
			require.ErrorContains(t, err, "--offline forbids the network")
			require.ErrorContains(t, err, "runmatrix kernels ")
			require.NotContains(t, err.Error(), "connection refused", "offline, and yet it tried the network")
			require.NotContains(t, err.Error(), "cannot be reached", "offline, and yet it tried the network")
			var ie *InputError
			require.True(t, errors.As(err, &ie), "bad input, exit 2: %v", err)
			var nc *NotCachedError
			require.True(t, errors.As(err, &nc), "an optional kernel is left out for it: %v", err)
		})
	}
}

// TestProvidersAlikeUnreachable: every mirror unreachable, every provider
// fails at once, naming what it could not reach, as a failure of the
// world (exit 1), not of the user's input.
func TestProvidersAlikeUnreachable(t *testing.T) {
	for _, ref := range everyKind {
		t.Run(ref, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := unreachable(t).Resolve(ctx, ref)
			require.Error(t, err)
			require.NoError(t, ctx.Err(), "gave up only at the deadline")
			require.ErrorContains(t, err, "127.0.0.1:1")
			var ie *InputError
			require.False(t, errors.As(err, &ie), "not the user's input: %v", err)
		})
	}
}

// unreachable is a resolver whose every mirror, archive and key server is
// a closed port, with an empty cache.
func unreachable(t *testing.T) *Resolver {
	const closed = "http://127.0.0.1:1"
	mirrors := map[string]string{}
	for name := range DefaultMirrors {
		mirrors[name] = closed + "/" + name
	}
	return &Resolver{
		Cache:    Cache{Dir: t.TempDir()},
		Debian:   Debian{Mirror: closed + "/debian", SecurityMirror: closed + "/debian-security", RetiredMirror: closed + "/debian-archive", Snapshot: closed + "/snapshot"},
		Mainline: Mainline{URL: closed + "/mainline", KeyServer: closed + "/keys"},
		Mirrors:  mirrors,
	}
}
