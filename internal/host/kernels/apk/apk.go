// Package apk reads Alpine's package repositories: the signed APKINDEX
// and .apk packages, each a concatenation of gzip streams (signature,
// control, data) whose signatures and digests chain from Alpine's RSA
// keys to every file. Format: https://wiki.alpinelinux.org/wiki/Apk_spec
// and apk-tools' src/package.c.
package apk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
)

// maxSegment bounds one decompressed signature or control segment.
const maxSegment = 16 << 20

// segments splits b into its gzip members, as raw (compressed) bytes.
func segments(b []byte, max int) ([][]byte, error) {
	var out [][]byte
	r := bytes.NewReader(b) // an io.ByteReader: gzip reads no further than each member
	for r.Len() > 0 && len(out) < max {
		start := len(b) - r.Len()
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", len(out)+1, err)
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, io.LimitReader(zr, unpack.DefaultMaxTotal)); err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", len(out)+1, err)
		}
		out = append(out, b[start:len(b)-r.Len()])
	}
	return out, nil
}

// tarFiles reads the regular files of a gzip tar segment (bounded).
func tarFiles(seg []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(seg))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	tr := tar.NewReader(io.LimitReader(zr, maxSegment))
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxSegment))
		if err != nil {
			return nil, err
		}
		out[h.Name] = b
	}
}

// verifySegment checks that sig (the first segment) signs next with one
// of keys: a file .SIGN.RSA.KEYNAME (SHA-1) or .SIGN.RSA256.KEYNAME
// (SHA-256), PKCS #1 v1.5 over the raw bytes of the next gzip member.
func verifySegment(sig, next []byte, keys map[string]*rsa.PublicKey) (string, error) {
	files, err := tarFiles(sig)
	if err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	var tried []string
	for name, s := range files {
		var hash crypto.Hash
		var keyName string
		switch {
		case strings.HasPrefix(name, ".SIGN.RSA256."):
			hash, keyName = crypto.SHA256, strings.TrimPrefix(name, ".SIGN.RSA256.")
		case strings.HasPrefix(name, ".SIGN.RSA."):
			hash, keyName = crypto.SHA1, strings.TrimPrefix(name, ".SIGN.RSA.")
		default:
			continue
		}
		key, ok := keys[keyName]
		if !ok {
			tried = append(tried, keyName+" (not Alpine's)")
			continue
		}
		h := hash.New()
		h.Write(next)
		if err := rsa.VerifyPKCS1v15(key, hash, h.Sum(nil), s); err != nil {
			tried = append(tried, keyName+" (does not verify)")
			continue
		}
		return keyName, nil
	}
	if len(tried) == 0 {
		return "", errors.New("not signed")
	}
	return "", fmt.Errorf("signed by %s", strings.Join(tried, ", "))
}

// Entry is one package of an APKINDEX.
type Entry struct {
	Name, Version, Arch string
	// Checksum is the SHA-1 of the package's control segment ("Q1…").
	Checksum string
	Size     int64
}

// Filename is the package's file name in its repository.
func (e Entry) Filename() string { return e.Name + "-" + e.Version + ".apk" }

// ReadIndex verifies an APKINDEX.tar.gz with keys and returns its entries.
func ReadIndex(b []byte, keys map[string]*rsa.PublicKey) ([]Entry, error) {
	segs, err := segments(b, 3)
	if err != nil {
		return nil, fmt.Errorf("APKINDEX: %w", err)
	}
	if len(segs) != 2 {
		return nil, fmt.Errorf("APKINDEX: %d gzip members, want a signature and the index", len(segs))
	}
	if _, err := verifySegment(segs[0], segs[1], keys); err != nil {
		return nil, fmt.Errorf("APKINDEX: %w", err)
	}
	files, err := tarFiles(segs[1])
	if err != nil {
		return nil, fmt.Errorf("APKINDEX: %w", err)
	}
	idx, ok := files["APKINDEX"]
	if !ok {
		return nil, errors.New("APKINDEX: no APKINDEX file in the archive")
	}
	var out []Entry
	var e Entry
	sc := bufio.NewScanner(bytes.NewReader(idx))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	flush := func() {
		if e.Name != "" {
			out = append(out, e)
		}
		e = Entry{}
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "P":
			e.Name = v
		case "V":
			e.Version = v
		case "A":
			e.Arch = v
		case "C":
			e.Checksum = v
		case "S":
			fmt.Sscan(v, &e.Size)
		}
	}
	flush()
	return out, sc.Err()
}

// Verify checks a package against its index entry and keys: its control
// segment's SHA-1 is the entry's checksum, the control segment is signed
// by an Alpine key, and the data segment's SHA-256 is the datahash its
// .PKGINFO states. It returns the data segment.
func Verify(b []byte, e Entry, keys map[string]*rsa.PublicKey) ([]byte, error) {
	segs, err := segments(b, 4)
	if err != nil {
		return nil, err
	}
	if len(segs) != 3 {
		return nil, fmt.Errorf("%d gzip members, want signature, control and data", len(segs))
	}
	sum := sha1.Sum(segs[1])
	if got := "Q1" + base64.StdEncoding.EncodeToString(sum[:]); got != e.Checksum {
		return nil, fmt.Errorf("control checksum %s, APKINDEX says %s", got, e.Checksum)
	}
	if _, err := verifySegment(segs[0], segs[1], keys); err != nil {
		return nil, err
	}
	control, err := tarFiles(segs[1])
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(control[".PKGINFO"]), "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			info[k] = strings.TrimSpace(v)
		}
	}
	// The checksum binds the control segment to the index entry; its
	// .PKGINFO must then name the package the entry names.
	if info["pkgname"] != e.Name || info["pkgver"] != e.Version {
		return nil, fmt.Errorf(".PKGINFO names %s-%s, APKINDEX lists %s-%s", info["pkgname"], info["pkgver"], e.Name, e.Version)
	}
	datahash := info["datahash"]
	if datahash == "" {
		return nil, errors.New(".PKGINFO states no datahash")
	}
	d := sha256.Sum256(segs[2])
	if got := hex.EncodeToString(d[:]); got != datahash {
		return nil, fmt.Errorf("data sha256 %s, .PKGINFO says %s", got, datahash)
	}
	return segs[2], nil
}

// Extract extracts the files of a verified data segment under root.
func Extract(data []byte, root string, opt unpack.Options) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return unpack.Tar(zr, root, opt)
}
