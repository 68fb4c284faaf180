package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// The message's shape (RFC 8291 §4): one RFC 8188 record, whose header
// carries the salt, the record size and, as the key id, the sender's
// ephemeral public key.
const (
	recordSize = 4096 // rs: every push service takes it; the one record is far smaller
	saltLen    = 16
	keyLen     = 65 // an uncompressed P-256 point
	authLen    = 16
	tagLen     = 16                       // AES-GCM's
	headerLen  = saltLen + 4 + 1 + keyLen // 86
	maxBody    = 2048                     // well under every push service's limit (Firefox for Android's ~3 KB, Apple's relays)
	padBlock   = 128                      // plaintexts are padded to a multiple of this, so the length says little
	delimiter  = 0x02                     // RFC 8188 §2: the last record's padding delimiter
	maxKeyInfo = len("WebPush: info\x00") + 2*keyLen
)

// MaxPlaintext is the largest plaintext a message carries: the body less
// the header, the padding delimiter and the tag.
const MaxPlaintext = maxBody - headerLen - 1 - tagLen

// ErrTooLarge means a message is longer than MaxPlaintext.
var ErrTooLarge = errors.New("push message too large")

// Encrypt encrypts plaintext for a subscription as RFC 8291 says, with a
// fresh ephemeral key pair and salt: the body of a POST with
// Content-Encoding: aes128gcm.
func Encrypt(plaintext []byte, sub Subscription) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(plaintext), MaxPlaintext)
	}
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("push: ephemeral key: %w", err)
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand)
	return encrypt(plaintext, sub.P256DH, sub.Auth, as, salt, paddedLen(len(plaintext)))
}

// paddedLen is the length of the record's plaintext (the message, the
// delimiter and zeros) for a message of n bytes: n+1 rounded up to padBlock,
// and never beyond what a body holds.
func paddedLen(n int) int {
	l := (n + 1 + padBlock - 1) / padBlock * padBlock
	return min(l, MaxPlaintext+1)
}

// encrypt is Encrypt with the sender key, the salt and the record's length
// given, so that the tests can reproduce RFC 8291's example.
func encrypt(plaintext, uaPublic, auth []byte, as *ecdh.PrivateKey, salt []byte, recordLen int) ([]byte, error) {
	if len(auth) != authLen {
		return nil, fmt.Errorf("push: auth secret is %d bytes, want %d", len(auth), authLen)
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, fmt.Errorf("push: subscription key: %w", err)
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("push: ecdh: %w", err)
	}
	asPublic := as.PublicKey().Bytes()
	ikm, err := webPushIKM(secret, auth, uaPublic, asPublic)
	if err != nil {
		return nil, err
	}
	return sealRecord(ikm, salt, recordSize, asPublic, plaintext, recordLen)
}

// webPushIKM is RFC 8291 §3.4's input keying material: the ECDH secret
// mixed with the subscription's auth secret, bound to both public keys.
//
//	IKM = HKDF(salt = auth_secret, IKM = ecdh_secret,
//	           info = "WebPush: info" || 0x00 || ua_public || as_public, L = 32)
func webPushIKM(ecdhSecret, auth, uaPublic, asPublic []byte) ([]byte, error) {
	info := make([]byte, 0, maxKeyInfo)
	info = append(info, "WebPush: info\x00"...)
	info = append(info, uaPublic...)
	info = append(info, asPublic...)
	ikm, err := hkdf.Key(sha256.New, ecdhSecret, auth, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("push: hkdf: %w", err)
	}
	return ikm, nil
}

// contentKeys derives the content-encryption key and the nonce from the
// IKM and the salt (RFC 8188 §2.2 and §2.3).
func contentKeys(ikm, salt []byte) (cek, nonce []byte, err error) {
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err == nil {
		cek, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	}
	if err == nil {
		nonce, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("push: hkdf: %w", err)
	}
	return cek, nonce, nil
}

// sealRecord encodes plaintext as an aes128gcm body of one record (RFC 8188):
// the header (salt, rs, idlen, keyid), then the plaintext, the last-record
// delimiter 0x02 and zeros up to recordLen, encrypted. One record has
// sequence number 0, so its nonce is the derived nonce itself.
func sealRecord(ikm, salt []byte, rs uint32, keyID, plaintext []byte, recordLen int) ([]byte, error) {
	switch {
	case len(salt) != saltLen:
		return nil, fmt.Errorf("push: salt is %d bytes, want %d", len(salt), saltLen)
	case len(keyID) > 255:
		return nil, fmt.Errorf("push: key id is %d bytes, at most 255", len(keyID))
	case recordLen < len(plaintext)+1:
		return nil, fmt.Errorf("push: record of %d bytes cannot hold %d and the delimiter", recordLen, len(plaintext))
	case uint64(recordLen)+tagLen > uint64(rs):
		return nil, fmt.Errorf("%w: a record of %d bytes does not fit rs %d", ErrTooLarge, recordLen+tagLen, rs)
	}
	cek, nonce, err := contentKeys(ikm, salt)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("push: aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("push: gcm: %w", err)
	}
	out := make([]byte, 0, saltLen+4+1+len(keyID)+recordLen+tagLen)
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, rs)
	out = append(out, byte(len(keyID)))
	out = append(out, keyID...)
	record := make([]byte, recordLen) // zeros after the delimiter: the padding
	copy(record, plaintext)
	record[len(plaintext)] = delimiter
	return gcm.Seal(out, nonce, record, nil), nil
}
