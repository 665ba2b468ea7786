package archivetest

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// AptPackage is one binary package of an AptSuite: its files go into the .deb.
type AptPackage struct {
	Name, Version, Depends string
	Files                  map[string][]byte
}

// AptSuite is dists/SUITE of an APT archive (Debian's and Ubuntu's
// layout: a clearsigned InRelease listing main/binary-ARCH/Packages.gz,
// whose entries point at pool/ files by SHA256).
type AptSuite struct {
	Suite, Codename, Arch string
	Packages              []AptPackage
}

// Files returns the suite's files by path under the archive root, signed by key.
func (s AptSuite) Files(key *openpgp.Entity) (map[string][]byte, error) {
	out := map[string][]byte{}
	var packages bytes.Buffer
	pkgs := append([]AptPackage{}, s.Packages...)
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	for _, p := range pkgs {
		files := map[string][]byte{}
		for n, b := range p.Files {
			files["./"+n] = b
		}
		deb, err := Deb(files)
		if err != nil {
			return nil, err
		}
		file := fmt.Sprintf("pool/main/l/linux/%s_%s_%s.deb", p.Name, p.Version, s.Arch)
		out[file] = deb
		fmt.Fprintf(&packages, "Package: %s\nSource: linux\nVersion: %s\nArchitecture: %s\n", p.Name, p.Version, s.Arch)
		if p.Depends != "" {
			fmt.Fprintf(&packages, "Depends: %s\n", p.Depends)
		}
		fmt.Fprintf(&packages, "Filename: %s\nSize: %d\nSHA256: %s\nDescription: Linux for tests\n\n", file, len(deb), SHA256(deb))
	}
	idx := Gzip(packages.Bytes())
	name := "main/binary-" + s.Arch + "/Packages.gz"
	dist := "dists/" + s.Suite + "/"
	out[dist+name] = idx
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Ubuntu\nLabel: Ubuntu\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: %s\nComponents: main\nSHA256:\n %s %d %s\n",
		s.Suite, s.Codename, time.Now().UTC().Format(time.RFC1123), s.Arch, SHA256(idx), len(idx), name)
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, key.PrivateKey, nil)
	if err != nil {
		return nil, err
	}
	w.Write(rel.Bytes())
	if err := w.Close(); err != nil {
		return nil, err
	}
	out[dist+"InRelease"] = in.Bytes()
	return out, nil
}
