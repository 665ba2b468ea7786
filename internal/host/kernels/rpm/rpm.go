// Package rpm reads RPM packages (format v3/v4: lead, signature header,
// header, compressed cpio payload), verifies their OpenPGP signatures
// against a keyring, and extracts their payload. Layout:
// https://rpm-software-management.github.io/rpm/manual/format_v4.html and
// https://rpm-software-management.github.io/rpm/manual/signatures_digests.html.
package rpm

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
)

// Tags read here (lib/rpmtag.h).
const (
	tagName              = 1000
	tagVersion           = 1001
	tagRelease           = 1002
	tagArch              = 1022
	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagPayloadDigest     = 5092
	tagPayloadDigestAlgo = 5093
	sigTagRSA            = 268  // header only
	sigTagDSA            = 267  // header only
	sigTagSHA256         = 273  // header only, hex
	sigTagPGP            = 1002 // header and payload, RSA
	sigTagGPG            = 1005 // header and payload, DSA
	pgpHashSHA256        = 8
	maxHeader            = 64 << 20
	leadSize             = 96
	headerMagic          = "\x8e\xad\xe8\x01"
)

// Package is an RPM file opened for reading.
type Package struct {
	f *os.File
	// sig and hdr are the signature header's and the header's entries;
	// hdrBytes is the header as signed (magic to end of its store).
	sig, hdr   header
	hdrBytes   []byte
	payloadOff int64
	size       int64
	// Name, Version, Release and Arch are the package's (e.g. kernel,
	// 2.6.32, 431.el6, x86_64).
	Name, Version, Release, Arch string
}

// header is a parsed header structure: tag → (type, raw value).
type header map[uint32]entry

type entry struct {
	typ   uint32
	count uint32
	data  []byte // from the entry's offset to the end of the store
}

func (h header) str(tag uint32) string {
	e, ok := h[tag]
	if !ok || (e.typ != 6 && e.typ != 8 && e.typ != 9) { // STRING, STRING_ARRAY, I18NSTRING
		return ""
	}
	s, _, _ := bytes.Cut(e.data, []byte{0})
	return string(s)
}

func (h header) bin(tag uint32) []byte {
	e, ok := h[tag]
	if !ok || e.typ != 7 || int(e.count) > len(e.data) { // BIN
		return nil
	}
	return e.data[:e.count]
}

func (h header) int32s(tag uint32) []uint32 {
	e, ok := h[tag]
	if !ok || e.typ != 4 || int(e.count)*4 > len(e.data) { // INT32
		return nil
	}
	out := make([]uint32, e.count)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(e.data[4*i:])
	}
	return out
}

// readHeader reads a header structure at r and returns it and its bytes.
func readHeader(r io.Reader) (header, []byte, error) {
	intro := make([]byte, 16)
	if _, err := io.ReadFull(r, intro); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if string(intro[:4]) != headerMagic {
		return nil, nil, errors.New("header: bad magic")
	}
	n := binary.BigEndian.Uint32(intro[8:])
	size := binary.BigEndian.Uint32(intro[12:])
	if n > 1<<16 || size > maxHeader {
		return nil, nil, fmt.Errorf("header: %d entries, %d bytes: too large", n, size)
	}
	rest := make([]byte, int(n)*16+int(size))
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	store := rest[n*16:]
	h := header{}
	for i := uint32(0); i < n; i++ {
		e := rest[i*16:]
		tag, typ, off, count := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		if off > size {
			return nil, nil, fmt.Errorf("header: tag %d points past the store", tag)
		}
		h[tag] = entry{typ: typ, count: count, data: store[off:]}
	}
	return h, append(intro, rest...), nil
}

// Open reads an RPM's lead and headers.
func Open(path string) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p, err := read(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

func read(f *os.File) (*Package, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	lead := make([]byte, leadSize)
	if _, err := io.ReadFull(br, lead); err != nil || string(lead[:4]) != "\xed\xab\xee\xdb" {
		return nil, errors.New("not an RPM package (no lead)")
	}
	sig, sigBytes, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("signature %w", err)
	}
	if pad := (8 - len(sigBytes)%8) % 8; pad > 0 {
		if _, err := io.CopyN(io.Discard, br, int64(pad)); err != nil {
			return nil, fmt.Errorf("signature header: %w", err)
		}
	}
	hdr, hdrBytes, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	p := &Package{f: f, sig: sig, hdr: hdr, hdrBytes: hdrBytes, size: fi.Size(),
		Name: hdr.str(tagName), Version: hdr.str(tagVersion), Release: hdr.str(tagRelease), Arch: hdr.str(tagArch)}
	p.payloadOff = int64(leadSize + len(sigBytes) + (8-len(sigBytes)%8)%8 + len(hdrBytes))
	if p.payloadOff > p.size {
		return nil, errors.New("truncated RPM: no payload")
	}
	return p, nil
}

// Close closes the package's file.
func (p *Package) Close() error { return p.f.Close() }

func (p *Package) payload() io.Reader {
	return io.NewSectionReader(p.f, p.payloadOff, p.size-p.payloadOff)
}

// Verify checks the package's signature with keys: a header-and-payload
// signature (RSA or DSA, tags 1002/1005), or a header-only one (268/267)
// together with the header's SHA-256 payload digest (tag 5092), as rpm
// writes from 4.14 on. It returns the signer's key ID.
func (p *Package) Verify(keys openpgp.EntityList) (string, error) {
	var errs []string
	for _, tag := range []uint32{sigTagPGP, sigTagGPG} {
		sig := p.sig.bin(tag)
		if sig == nil {
			continue
		}
		signed := io.MultiReader(bytes.NewReader(p.hdrBytes), p.payload())
		id, err := verifySignature(keys, signed, sig)
		if err == nil {
			return id, nil
		}
		errs = append(errs, err.Error())
	}
	for _, tag := range []uint32{sigTagRSA, sigTagDSA} {
		sig := p.sig.bin(tag)
		if sig == nil {
			continue
		}
		id, err := verifySignature(keys, bytes.NewReader(p.hdrBytes), sig)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		// The header is signed; it must name the payload's digest.
		want := p.hdr.str(tagPayloadDigest)
		algo := p.hdr.int32s(tagPayloadDigestAlgo)
		if want == "" || len(algo) != 1 || algo[0] != pgpHashSHA256 {
			errs = append(errs, "the signed header carries no SHA-256 payload digest, and no signature covers the payload")
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, p.payload()); err != nil {
			return "", err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return "", fmt.Errorf("payload digest %s, the signed header says %s", got, want)
		}
		return id, nil
	}
	if len(errs) == 0 {
		return "", errors.New("the package is not signed")
	}
	return "", errors.New(strings.Join(errs, "; "))
}

// Extract decompresses the cpio payload and extracts its files under root.
func (p *Package) Extract(root string, opt unpack.Options) ([]string, error) {
	if f := p.hdr.str(tagPayloadFormat); f != "" && f != "cpio" {
		return nil, fmt.Errorf("payload format %q is not cpio", f)
	}
	comp := p.hdr.str(tagPayloadCompressor)
	var r io.Reader
	var err error
	br := bufio.NewReaderSize(p.payload(), 1<<20)
	switch comp {
	case "gzip", "":
		r, err = gzip.NewReader(br)
	case "bzip2":
		r = bzip2.NewReader(br)
	case "xz":
		r, err = xz.NewReader(br)
	case "lzma":
		r, err = lzma.NewReader(br)
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(br)
		if err == nil {
			defer d.Close()
			r = d
		}
	default:
		return nil, fmt.Errorf("payload compressor %q is not one runmatrix reads", comp)
	}
	if err != nil {
		return nil, fmt.Errorf("payload (%s): %w", comp, err)
	}
	names, err := unpack.Cpio(r, root, opt)
	if err != nil {
		return names, fmt.Errorf("payload: %w", err)
	}
	return names, nil
}
