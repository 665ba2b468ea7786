package kit

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/distkeys"
	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// DefaultIndexTTL is how long a fetched index (a suite's, a repository's,
// a tag list, an image tag's pin) is reused before it is read again.
const DefaultIndexTTL = time.Hour

// Env is what a provider resolves with: the cache, the network, where
// mirrors are, and the keys it may trust beside the embedded ones.
type Env struct {
	Cache store.Cache
	// Log, if set, receives progress lines (downloads).
	Log func(string)
	// Client fetches URLs; nil means http.DefaultClient.
	Client *http.Client
	// Offline forbids the network: only what is cached resolves.
	Offline bool
	// IndexTTL is how long a fetched index is reused (0: DefaultIndexTTL).
	IndexTTL time.Duration
	// Mirrors override a provider's default mirrors by name.
	Mirrors map[string]string
	// Keys stand in for embedded distribution keys by file name
	// ("centos-6"): for tests against repositories signed by test keys.
	Keys map[string]openpgp.EntityList
	// RSAKeys are RSA keys accepted beside a provider's embedded ones, by
	// the name signatures give them (Alpine's NAME.rsa.pub).
	RSAKeys map[string]*rsa.PublicKey
}

// Logf passes one progress line to Log.
func (e *Env) Logf(format string, args ...any) {
	if e.Log != nil {
		e.Log(fmt.Sprintf(format, args...))
	}
}

// Fetch is the HTTP client every provider downloads with.
func (e *Env) Fetch() *fetch.Client { return &fetch.Client{HTTP: e.Client} }

// Mirror is the URL of the mirror called name: --mirror's, else def.
func (e *Env) Mirror(name, def string) string {
	if u := e.Mirrors[name]; u != "" {
		return strings.TrimRight(u, "/")
	}
	return def
}

// OpenPGPKeys are the keys of the embedded key file name, or those the
// environment gives in its place.
func (e *Env) OpenPGPKeys(name string) (openpgp.EntityList, error) {
	if k, ok := e.Keys[name]; ok {
		return k, nil
	}
	return distkeys.OpenPGP(name)
}

// Unreachable turns a network failure reading url (of the mirror called
// name) into an UnreachableError; any other error is returned as it is.
func (e *Env) Unreachable(url, name string, err error) error {
	var ne net.Error
	var op *net.OpError
	if errors.As(err, &op) || errors.As(err, &ne) {
		return &UnreachableError{URL: url, Mirror: name, Err: err}
	}
	return err
}

// FreshIndex reads the cached index at p into v and reports whether it
// may be used: offline, or fetched (a field of v) within the index TTL.
func (e *Env) FreshIndex(p string, v any, fetched *time.Time) bool {
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, v) != nil {
		return false
	}
	ttl := e.IndexTTL
	if ttl == 0 {
		ttl = DefaultIndexTTL
	}
	return e.Offline || time.Since(*fetched) < ttl
}

// CacheKey turns a URL into a file name.
func CacheKey(url string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"))
}
