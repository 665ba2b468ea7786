package kernels

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// everyKind is a reference of every form of every provider: their
// examples, so that a provider added is held to the same answers.
func everyKind() []string {
	var out []string
	for _, p := range providersOf(nil) {
		out = append(out, p.Examples()...)
	}
	return out
}

// TestProvidersHaveExamples: every scheme of every provider has an example
// reference that parses as that provider's.
func TestProvidersHaveExamples(t *testing.T) {
	for _, p := range providersOf(nil) {
		for _, scheme := range p.Schemes() {
			found := false
			for _, ex := range p.Examples() {
				if strings.HasPrefix(ex, scheme) {
					found = true
					ref, err := ParseRef(ex)
					require.NoError(t, err, ex)
					require.Equal(t, p.Kind(), ref.Kind, ex)
				}
			}
			require.True(t, found, "no example of %s", scheme)
		}
	}
}

// TestProvidersAlikeOffline: offline with nothing cached, every provider
// refuses the same way: one message saying the kernel is not in the cache,
// that --offline forbids the network and which command fills the cache,
// as bad input (exit 2), without touching the network.
func TestProvidersAlikeOffline(t *testing.T) {
	for _, ref := range everyKind() {
		t.Run(ref, func(t *testing.T) {
			r := unreachable(t)
			r.Offline = true
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
	for _, ref := range everyKind() {
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
	for name := range DefaultMirrors() {
		mirrors[name] = closed + "/" + name
	}
	return &Resolver{
		Cache:    store.Cache{Dir: t.TempDir()},
		Debian:   Debian{Mirror: closed + "/debian", SecurityMirror: closed + "/debian-security", RetiredMirror: closed + "/debian-archive", Snapshot: closed + "/snapshot"},
		Mainline: Mainline{URL: closed + "/mainline", KeyServer: closed + "/keys"},
		Mirrors:  mirrors,
	}
}
