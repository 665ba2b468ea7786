// Package distkeys holds the signing keys of the distributions whose
// kernels runmatrix fetches, embedded and pinned by fingerprint: a key
// file that does not hold exactly its pinned keys is refused. The keys
// come from Debian's distribution-gpg-keys 1.123+ds-1 (the Mock project's
// collection) and ubuntu-keyring 2023.11.28.1-0.2, both taken from
// Debian's archive through its signed index; keys/README.md says which
// file of which package each one is.
package distkeys

import (
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

//go:embed keys
var files embed.FS

// pinned are the primary-key fingerprints each key file must hold.
var pinned = map[string][]string{
	"alma-8":          {"5E9B8F5617B5066CE92057C3488FCF7C3ABB34F8", "BC5EDDCADF502C077F1582882AE81E8ACED7258B"},
	"alma-9":          {"BF18AC2876178908D6E71267D36CB86CB86B3716"},
	"centos-6":        {"C1DAC52D1664E8A4386DBA430946FCA2C105B9DE"},
	"centos-7":        {"6341AB2753D78A78A7C27BB124C6A8A7F4A80EB5"},
	"centos-official": {"99DB70FAE1D7CE227FB6488205B555B38483C65D"},
	"fedora-28":       {"128CF232A9371991C8A65695E08E7E629DB62FB1"},
	"fedora-29":       {"5A03B4DD8254ECA02FDA1637A20AA56B429476B4"},
	"fedora-30":       {"F1D8EC98F241AAF20DF69420EF3C111FCFC659B9"},
	"fedora-31":       {"7D22D5867F2A4236474BF7B850CB390B3C3359C4"},
	"fedora-32":       {"97A1AE57C3A2372CCA3A4ABA6C13026D12C944D0"},
	"fedora-33":       {"963A2BEB02009608FE67EA4249FD77499570FF31"},
	"fedora-34":       {"8C5BA6990BDB26E19F2A1A801161AE6945719A39"},
	"fedora-35":       {"787EA6AE1147EEE56C40B30CDB4639719867C58F"},
	"fedora-36":       {"53DED2CB922D8B8D9E63FD18999F7CBF38AB71F4"},
	"fedora-37":       {"ACB5EE4E831C74BB7C168D27F55AD3FB5323552A"},
	"fedora-38":       {"6A51BBABBA3D5467B6171221809A8D7CEB10B464"},
	"fedora-39":       {"E8F23996F23218640CB44CBE75CF5AC418B8E74C"},
	"fedora-40":       {"115DF9AEF857853EE8445D0A0727707EA15B79CC"},
	"fedora-41":       {"466CF2D8B60BC3057AA9453ED0622462E99D6AD1"},
	"fedora-42":       {"B0F4950458F69E1150C6C5EDC8AC4916105EF944"},
	"fedora-43":       {"C6E7F081CF80E13146676E88829B606631645531"},
	"fedora-44":       {"36F612DCF27F7D1A48A835E4DBFCF71C6D9F90A6"},
	"fedora-45":       {"4F50A6114CD5C6976A7F1179655A4B02F577861E"},
	"fedora-46":       {"D924B10D3E810DABDD8B56B596E7E91491211FCE"},
	"fedora-47":       {"B2E766FA50CA6FA2D5ED06FC09D879E09488FB64"},
	"rocky-8":         {"7051C470A929F454CEBE37B715AF5DAC6D745A60"},
	"rocky-9":         {"21CB256AE16FC54C6E652949702D426D350D275D"},
	"ubuntu-archive":  {"790BC7277767219C42C86F933B4FE6ACC0B21F32", "843938DF228D22F7B3742BC0D94AA3F0EFE21092", "F6ECB3762474EDA9D21B7022871920D1991BC93C"},
}

// OpenPGP returns the keys of one key file ("centos-6", "fedora-39",
// "ubuntu-archive"), after checking them against their pins.
func OpenPGP(name string) (openpgp.EntityList, error) {
	want, ok := pinned[name]
	if !ok {
		return nil, fmt.Errorf("no embedded keys named %q", name)
	}
	b, err := files.ReadFile("keys/" + name + ".asc")
	if err != nil {
		return nil, err
	}
	// A file may hold several armored blocks (AlmaLinux 8's old and new
	// keys); ReadArmoredKeyRing reads only the first.
	var keys openpgp.EntityList
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	for _, block := range strings.SplitAfter(string(b), "-----END PGP PUBLIC KEY BLOCK-----") {
		if i := strings.Index(block, begin); i >= 0 {
			ks, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block[i:]))
			if err != nil {
				return nil, fmt.Errorf("embedded keys %s: %w", name, err)
			}
			keys = append(keys, ks...)
		}
	}
	var got []string
	for _, k := range keys {
		got = append(got, strings.ToUpper(fmt.Sprintf("%x", k.PrimaryKey.Fingerprint)))
	}
	if !slices.Equal(got, want) {
		return nil, fmt.Errorf("embedded keys %s hold %v, pinned %v", name, got, want)
	}
	return keys, nil
}

// Names lists the OpenPGP key files with a prefix ("fedora-").
func Names(prefix string) []string {
	var out []string
	for n := range pinned {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Alpine returns Alpine's package-signing RSA keys by the name APK
// signatures give them ("alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub").
func Alpine() (map[string]*rsa.PublicKey, error) {
	entries, err := files.ReadDir("keys/alpine")
	if err != nil {
		return nil, err
	}
	out := map[string]*rsa.PublicKey{}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("keys/alpine", e.Name()))
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("embedded Alpine key %s: not PEM", e.Name())
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("embedded Alpine key %s: %w", e.Name(), err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("embedded Alpine key %s: not RSA", e.Name())
		}
		out[e.Name()] = rk
	}
	return out, nil
}
