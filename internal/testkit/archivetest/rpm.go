package archivetest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// RPM describes a package for RPMFile: its name, version-release and
// arch, and its files (paths without the leading "/").
type RPM struct {
	Name, Version, Release, Arch string
	Files                        map[string][]byte
	// Key signs it; V3 makes an old-style (rpm before 4.14, CentOS 6 and
	// 7) header-and-payload version 3 RSA signature, else the package gets
	// a header-only version 4 signature and a payload digest (rpm 4.14+).
	Key *openpgp.Entity
	V3  bool
	// ListedAs is the version-release a YumRepo's primary.xml gives it
	// (a mirror passing one signed package off as another); its own when "".
	ListedAs string
}

type hdrEntry struct {
	tag, typ uint32
	count    uint32
	data     []byte
}

func strEntry(tag uint32, s string) hdrEntry {
	return hdrEntry{tag: tag, typ: 6, count: 1, data: append([]byte(s), 0)}
}
func binEntry(tag uint32, b []byte) hdrEntry {
	return hdrEntry{tag: tag, typ: 7, count: uint32(len(b)), data: b}
}
func int32Entry(tag uint32, v uint32) hdrEntry {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return hdrEntry{tag: tag, typ: 4, count: 1, data: b}
}

// rpmHeader lays out a header structure (magic, counts, index, store).
func rpmHeader(es []hdrEntry) []byte {
	sort.Slice(es, func(i, j int) bool { return es[i].tag < es[j].tag })
	var store bytes.Buffer
	var index bytes.Buffer
	for _, e := range es {
		if e.typ == 4 {
			for store.Len()%4 != 0 {
				store.WriteByte(0)
			}
		}
		for _, v := range []uint32{e.tag, e.typ, uint32(store.Len()), e.count} {
			binary.Write(&index, binary.BigEndian, v)
		}
		store.Write(e.data)
	}
	var out bytes.Buffer
	out.WriteString("\x8e\xad\xe8\x01\x00\x00\x00\x00")
	binary.Write(&out, binary.BigEndian, uint32(len(es)))
	binary.Write(&out, binary.BigEndian, uint32(store.Len()))
	out.Write(index.Bytes())
	out.Write(store.Bytes())
	return out.Bytes()
}

// Cpio writes files as a newc cpio archive.
func Cpio(files map[string][]byte) []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	write := func(name string, mode int, body []byte) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 0, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		pad()
		b.Write(body)
		pad()
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		write("./"+n, 0o100644, files[n])
	}
	write("TRAILER!!!", 0, nil)
	return b.Bytes()
}

// RPMFile builds the package: lead, signature header, header and a gzip
// cpio payload, signed as r says.
func (r RPM) RPMFile() ([]byte, error) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(Cpio(r.Files))
	zw.Close()
	payload := z.Bytes()
	psum := sha256.Sum256(payload)
	hdr := rpmHeader([]hdrEntry{
		strEntry(1000, r.Name), strEntry(1001, r.Version), strEntry(1002, r.Release), strEntry(1022, r.Arch),
		strEntry(1124, "cpio"), strEntry(1125, "gzip"),
		{tag: 5092, typ: 8, count: 1, data: append([]byte(hex.EncodeToString(psum[:])), 0)},
		int32Entry(5093, 8),
	})
	var sigs []hdrEntry
	hsum := sha256.Sum256(hdr)
	sigs = append(sigs, strEntry(273, hex.EncodeToString(hsum[:])), int32Entry(1000, uint32(len(hdr)+len(payload))))
	if r.Key != nil {
		if r.V3 {
			sig, err := v3Signature(r.Key, append(append([]byte{}, hdr...), payload...))
			if err != nil {
				return nil, err
			}
			sigs = append(sigs, binEntry(1002, sig))
		} else {
			var sig bytes.Buffer
			if err := openpgp.DetachSign(&sig, r.Key, bytes.NewReader(hdr), nil); err != nil {
				return nil, err
			}
			sigs = append(sigs, binEntry(268, sig.Bytes()))
		}
	}
	sigHdr := rpmHeader(sigs)
	lead := make([]byte, 96)
	copy(lead, "\xed\xab\xee\xdb\x03\x00")
	copy(lead[10:], r.Name+"-"+r.Version+"-"+r.Release)
	binary.BigEndian.PutUint16(lead[78:], 5) // signature type: header structure
	var out bytes.Buffer
	out.Write(lead)
	out.Write(sigHdr)
	for out.Len()%8 != 0 {
		out.WriteByte(0)
	}
	out.Write(hdr)
	out.Write(payload)
	return out.Bytes(), nil
}

// v3Signature makes a version 3 RSA/SHA-256 signature packet over data,
// as rpm --addsign wrote them with gpg --force-v3-sigs.
func v3Signature(key *openpgp.Entity, data []byte) ([]byte, error) {
	priv, ok := key.PrivateKey.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("V3 signatures need an RSA key")
	}
	created := make([]byte, 4)
	binary.BigEndian.PutUint32(created, uint32(time.Date(2014, 10, 14, 0, 0, 0, 0, time.UTC).Unix()))
	h := sha256.New()
	h.Write(data)
	h.Write([]byte{0})
	h.Write(created)
	digest := h.Sum(nil)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	body.Write([]byte{3, 5, 0})
	body.Write(created)
	binary.Write(&body, binary.BigEndian, key.PrimaryKey.KeyId)
	body.Write([]byte{1, 8})
	body.Write(digest[:2])
	bits := new(big.Int).SetBytes(sig).BitLen()
	binary.Write(&body, binary.BigEndian, uint16(bits))
	body.Write(new(big.Int).SetBytes(sig).Bytes())
	var pkt bytes.Buffer
	pkt.WriteByte(0x89) // old format, tag 2, two-byte length
	binary.Write(&pkt, binary.BigEndian, uint16(body.Len()))
	pkt.Write(body.Bytes())
	return pkt.Bytes(), nil
}

// YumRepo is a repository in createrepo's layout: repodata/repomd.xml
// (with repomd.xml.asc when SignWith is set), repodata/primary.xml.gz and
// Packages/NAME.rpm. Files returns them by path under the repository.
type YumRepo struct {
	Packages []RPM
	SignWith *openpgp.Entity
}

// Files builds the repository's files.
func (y YumRepo) Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	var primary strings.Builder
	fmt.Fprintf(&primary, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">`+"\n", len(y.Packages))
	for _, p := range y.Packages {
		b, err := p.RPMFile()
		if err != nil {
			return nil, err
		}
		if p.ListedAs != "" {
			p.Version, p.Release, _ = strings.Cut(p.ListedAs, "-")
		}
		loc := fmt.Sprintf("Packages/%s-%s-%s.%s.rpm", p.Name, p.Version, p.Release, p.Arch)
		out[loc] = b
		fmt.Fprintf(&primary, `<package type="rpm"><name>%s</name><arch>%s</arch><version epoch="0" ver="%s" rel="%s"/><checksum type="sha256" pkgid="YES">%s</checksum><summary>The Linux kernel</summary><location href="%s"/><size package="%d" installed="0" archive="0"/></package>`+"\n",
			p.Name, p.Arch, p.Version, p.Release, SHA256(b), loc, len(b))
	}
	primary.WriteString("</metadata>\n")
	pz := Gzip([]byte(primary.String()))
	pname := "repodata/" + SHA256(pz) + "-primary.xml.gz"
	out[pname] = pz
	md := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1413300000</revision>
  <data type="primary">
    <checksum type="sha256">%s</checksum>
    <location href="%s"/>
    <size>%d</size>
  </data>
</repomd>
`, SHA256(pz), pname, len(pz))
	out["repodata/repomd.xml"] = []byte(md)
	if y.SignWith != nil {
		var sig bytes.Buffer
		if err := openpgp.ArmoredDetachSign(&sig, y.SignWith, strings.NewReader(md), nil); err != nil {
			return nil, err
		}
		out["repodata/repomd.xml.asc"] = sig.Bytes()
	}
	return out, nil
}
