package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// APK describes an Alpine package for APKFile.
type APK struct {
	Name, Version, Arch string
	Files               map[string][]byte
	// ListedAs is the NAME VERSION an APKRepo's index lists it under (an
	// index whose entry names another package than its .PKGINFO); its
	// own when "".
	ListedAs string
}

// tarGz writes files as one gzip tar member; end writes the two zero
// blocks that end a tar (Alpine leaves them out of signature and control).
func tarGz(files map[string][]byte, end bool) []byte {
	var t bytes.Buffer
	tw := tar.NewWriter(&t)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Flush()
	b := t.Bytes()
	if end {
		tw.Close()
		b = t.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// signSegment is the signature member over next: .SIGN.RSA.KEYNAME.
func signSegment(key *rsa.PrivateKey, keyName string, next []byte) ([]byte, error) {
	h := sha1.Sum(next)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, h[:])
	if err != nil {
		return nil, err
	}
	return tarGz(map[string][]byte{".SIGN.RSA." + keyName: sig}, false), nil
}

// APKFile builds the package (signature, control with .PKGINFO and its
// datahash, data) signed by key, and returns it with its APKINDEX
// checksum ("Q1" and the base64 SHA-1 of the control member).
func (a APK) APKFile(key *rsa.PrivateKey, keyName string) (apk []byte, checksum string, err error) {
	data := tarGz(a.Files, true)
	dh := sha256.Sum256(data)
	info := fmt.Sprintf("pkgname = %s\npkgver = %s\narch = %s\ndatahash = %s\n", a.Name, a.Version, a.Arch, hex.EncodeToString(dh[:]))
	control := tarGz(map[string][]byte{".PKGINFO": []byte(info)}, false)
	sig, err := signSegment(key, keyName, control)
	if err != nil {
		return nil, "", err
	}
	c := sha1.Sum(control)
	return append(append(sig, control...), data...), "Q1" + base64.StdEncoding.EncodeToString(c[:]), nil
}

// APKRepo is one repository folder (v3.18/main/x86_64): APKINDEX.tar.gz
// signed by key, and the packages. Files returns them by name.
func APKRepo(key *rsa.PrivateKey, keyName string, pkgs ...APK) (map[string][]byte, error) {
	out := map[string][]byte{}
	var idx bytes.Buffer
	for _, p := range pkgs {
		b, sum, err := p.APKFile(key, keyName)
		if err != nil {
			return nil, err
		}
		if p.ListedAs != "" {
			p.Name, p.Version, _ = strings.Cut(p.ListedAs, " ")
		}
		out[p.Name+"-"+p.Version+".apk"] = b
		fmt.Fprintf(&idx, "C:%s\nP:%s\nV:%s\nA:%s\nS:%d\nI:0\nT:Linux kernel\n\n", sum, p.Name, p.Version, p.Arch, len(b))
	}
	index := tarGz(map[string][]byte{"DESCRIPTION": []byte("v3.18-test"), "APKINDEX": idx.Bytes()}, true)
	sig, err := signSegment(key, keyName, index)
	if err != nil {
		return nil, err
	}
	out["APKINDEX.tar.gz"] = append(sig, index...)
	return out, nil
}
