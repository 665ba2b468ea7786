package rpm

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// verifySignature checks an OpenPGP signature packet over signed with a
// key of keys and returns the key's ID. Version 4 packets go through
// go-crypto; version 3 ones (RPMs signed before about 2019, CentOS 6 and
// 7 among them), which go-crypto no longer reads, are checked here for
// RSA (RFC 4880, section 5.2.2).
func verifySignature(keys openpgp.EntityList, signed io.Reader, sigPacket []byte) (string, error) {
	body, err := packetBody(sigPacket)
	if err != nil {
		return "", err
	}
	if len(body) > 0 && body[0] == 3 {
		return verifyV3(keys, signed, body)
	}
	p, err := packet.Read(bytes.NewReader(sigPacket))
	if err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok || sig.IssuerKeyId == nil {
		return "", errors.New("signature: not a signature packet with an issuer")
	}
	id := fmt.Sprintf("%016x", *sig.IssuerKeyId)
	pk := findKey(keys, *sig.IssuerKeyId)
	if pk == nil {
		return "", fmt.Errorf("signed by key %s, which is not the distribution's", id)
	}
	h := sig.Hash.New()
	if _, err := io.Copy(h, signed); err != nil {
		return "", err
	}
	if err := pk.VerifySignature(h, sig); err != nil {
		return "", fmt.Errorf("signature by key %s does not verify: %w", id, err)
	}
	return id, nil
}

// packetBody returns the body of one OpenPGP packet (old or new format
// header, RFC 4880 section 4.2), which must be a signature (tag 2).
func packetBody(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return nil, errors.New("signature: not an OpenPGP packet")
	}
	var tag byte
	var n, hl int
	if b[0]&0x40 == 0 { // old format
		tag = (b[0] >> 2) & 0x0f
		switch b[0] & 3 {
		case 0:
			n, hl = int(b[1]), 2
		case 1:
			if len(b) < 3 {
				return nil, errors.New("signature: truncated")
			}
			n, hl = int(binary.BigEndian.Uint16(b[1:])), 3
		case 2:
			if len(b) < 5 {
				return nil, errors.New("signature: truncated")
			}
			n, hl = int(binary.BigEndian.Uint32(b[1:])), 5
		default:
			n, hl = len(b)-1, 1
		}
	} else {
		tag = b[0] & 0x3f
		switch l := int(b[1]); {
		case l < 192:
			n, hl = l, 2
		case l < 224:
			if len(b) < 3 {
				return nil, errors.New("signature: truncated")
			}
			n, hl = (l-192)<<8+int(b[2])+192, 3
		case l == 255:
			if len(b) < 6 {
				return nil, errors.New("signature: truncated")
			}
			n, hl = int(binary.BigEndian.Uint32(b[2:])), 6
		default:
			return nil, errors.New("signature: partial body lengths")
		}
	}
	if tag != 2 {
		return nil, fmt.Errorf("signature: packet tag %d, not a signature", tag)
	}
	if n < 0 || hl+n > len(b) {
		return nil, errors.New("signature: truncated")
	}
	return b[hl : hl+n], nil
}

// v3Hashes are the hash algorithms a version 3 signature may use here.
var v3Hashes = map[byte]crypto.Hash{2: crypto.SHA1, 8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224}

// verifyV3 checks a version 3 RSA signature: the hash of the data, the
// signature type and the creation time, signed PKCS #1 v1.5.
func verifyV3(keys openpgp.EntityList, signed io.Reader, b []byte) (string, error) {
	// version, 5, type, time[4], key ID[8], public-key algo, hash algo, left16[2], MPI
	if len(b) < 19+2 || b[1] != 5 {
		return "", errors.New("signature: malformed version 3 packet")
	}
	sigType, created := b[2], b[3:7]
	keyID := binary.BigEndian.Uint64(b[7:15])
	id := fmt.Sprintf("%016x", keyID)
	algo, hashID := b[15], b[16]
	if algo != 1 && algo != 3 { // RSA, RSA sign-only
		return "", fmt.Errorf("signature by key %s: public-key algorithm %d (only RSA version 3 signatures are checked)", id, algo)
	}
	hash, ok := v3Hashes[hashID]
	if !ok {
		return "", fmt.Errorf("signature by key %s: hash algorithm %d is not accepted", id, hashID)
	}
	bits := int(binary.BigEndian.Uint16(b[19:]))
	mpi := b[21:]
	if (bits+7)/8 != len(mpi) {
		return "", errors.New("signature: malformed RSA value")
	}
	pk := findKey(keys, keyID)
	if pk == nil {
		return "", fmt.Errorf("signed by key %s, which is not the distribution's", id)
	}
	pub, ok := pk.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("key %s is not an RSA key", id)
	}
	h := hash.New()
	if _, err := io.Copy(h, signed); err != nil {
		return "", err
	}
	h.Write([]byte{sigType})
	h.Write(created)
	digest := h.Sum(nil)
	if !bytes.Equal(digest[:2], b[17:19]) {
		return "", fmt.Errorf("signature by key %s does not verify (hash prefix differs)", id)
	}
	v := new(big.Int).SetBytes(mpi)
	if v.BitLen() > pub.Size()*8 {
		return "", fmt.Errorf("signature by key %s: the RSA value is longer than the key", id)
	}
	sig := v.FillBytes(make([]byte, pub.Size()))
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
		return "", fmt.Errorf("signature by key %s does not verify: %w", id, err)
	}
	return id, nil
}

// findKey returns the primary key or subkey of keys with the ID.
func findKey(keys openpgp.EntityList, id uint64) *packet.PublicKey {
	for _, e := range keys {
		if e.PrimaryKey != nil && e.PrimaryKey.KeyId == id {
			return e.PrimaryKey
		}
		for _, s := range e.Subkeys {
			if s.PublicKey != nil && s.PublicKey.KeyId == id {
				return s.PublicKey
			}
		}
	}
	return nil
}
