package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Keys is the server's VAPID key pair (RFC 8292): a P-256 key that signs
// every push, whose public half the browser gives to its push service when
// it subscribes (applicationServerKey), so that only this server can push to
// that subscription.
type Keys struct {
	private *ecdsa.PrivateKey
	public  []byte // the uncompressed point, 65 bytes
}

// GenerateKeys makes a new VAPID key pair.
func GenerateKeys() (*Keys, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate VAPID key: %w", err)
	}
	return newKeys(k)
}

func newKeys(k *ecdsa.PrivateKey) (*Keys, error) {
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("VAPID key: %w", err)
	}
	return &Keys{private: k, public: pub}, nil
}

// ParsePrivateKey reads a VAPID private key: base64url (padded or not) of the
// 32-byte P-256 scalar, as web-push's generate-vapid-keys prints it, or a PEM
// block ("EC PRIVATE KEY" from openssl ecparam, or PKCS #8 "PRIVATE KEY").
// Its errors never repeat the key.
func ParsePrivateKey(s string) (*Keys, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("VAPID private key is empty")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		return parsePEM(s)
	}
	d, err := decodeBase64URL(s)
	if err != nil {
		return nil, errors.New("VAPID private key is neither base64url nor PEM")
	}
	if len(d) != 32 {
		return nil, fmt.Errorf("VAPID private key must be 32 bytes (a P-256 scalar), got %d", len(d))
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, errors.New("VAPID private key is not a valid P-256 scalar")
	}
	return newKeys(k)
}

func parsePEM(s string) (*Keys, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("VAPID private key: bad PEM block")
	}
	var k *ecdsa.PrivateKey
	switch block.Type {
	case "EC PRIVATE KEY":
		ec, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("VAPID private key: bad EC PRIVATE KEY block")
		}
		k = ec
	case "PRIVATE KEY":
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("VAPID private key: bad PRIVATE KEY block")
		}
		ec, ok := parsed.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("VAPID private key: the PEM key is not an EC key")
		}
		k = ec
	default:
		return nil, fmt.Errorf("VAPID private key: PEM block %q, want EC PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("VAPID private key is on %s, want P-256", k.Curve.Params().Name)
	}
	return newKeys(k)
}

// PublicKey is the public key as GET /api/v1/push/key gives it and as
// pushManager.subscribe takes it: base64url, without padding, of the
// uncompressed P-256 point (65 bytes, starting 0x04).
func (k *Keys) PublicKey() string { return b64.EncodeToString(k.public) }

// PrivateKey is the private key in VAPID_PRIVATE_KEY's form: base64url,
// without padding, of the 32-byte scalar. It is for a KeyStore, never for a
// log line.
func (k *Keys) PrivateKey() string {
	d, err := k.private.Bytes()
	if err != nil { // only for keys not on a supported curve, which Keys never holds
		panic("push: " + err.Error())
	}
	return b64.EncodeToString(d)
}

// String keeps the private key out of logs and %v.
func (k *Keys) String() string { return "VAPID key " + k.PublicKey() }

// b64 is the encoding of every key, salt and token in Web Push: base64url
// without padding.
var b64 = base64.RawURLEncoding

// decodeBase64URL accepts base64url with or without padding: browsers give
// none, some tools add it.
func decodeBase64URL(s string) ([]byte, error) {
	return b64.DecodeString(strings.TrimRight(s, "="))
}

// ErrNoKey means that no VAPID key is configured and none may be generated:
// push is off.
var ErrNoKey = errors.New("no VAPID key: set VAPID_PRIVATE_KEY")

// KeyStore keeps a generated VAPID private key, so that every instance and
// every restart that shares the store signs with the same key (a
// subscription is bound to the public key it was made with).
type KeyStore interface {
	// LoadOrStore returns the private key already stored, or stores
	// candidate and returns it when there is none: the first writer wins,
	// so that instances that start together agree.
	LoadOrStore(ctx context.Context, candidate string) (string, error)
}

// MemoryKeyStore keeps the key in the process: embedded mode, whose tickets
// and subscriptions live no longer than the process either.
type MemoryKeyStore struct {
	mu  sync.Mutex
	key string
}

var _ KeyStore = (*MemoryKeyStore)(nil)

// LoadOrStore implements KeyStore.
func (m *MemoryKeyStore) LoadOrStore(_ context.Context, candidate string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == "" {
		m.key = candidate
	}
	return m.key, nil
}

// KeySource says where the VAPID keys come from: the VAPID_PRIVATE_KEY value
// when it is set (production), else a key generated once and kept in Store
// (embedded mode). With neither, Keys returns ErrNoKey.
type KeySource struct {
	Private string   // the VAPID_PRIVATE_KEY value; wins when set
	Store   KeyStore // where a generated key is kept; nil: never generate
}

// Keys returns the key pair to sign with.
func (s KeySource) Keys(ctx context.Context) (*Keys, error) {
	if strings.TrimSpace(s.Private) != "" {
		k, err := ParsePrivateKey(s.Private)
		if err != nil {
			return nil, fmt.Errorf("VAPID_PRIVATE_KEY: %w", err)
		}
		return k, nil
	}
	if s.Store == nil {
		return nil, ErrNoKey
	}
	fresh, err := GenerateKeys()
	if err != nil {
		return nil, err
	}
	stored, err := s.Store.LoadOrStore(ctx, fresh.PrivateKey())
	if err != nil {
		return nil, fmt.Errorf("load or store VAPID key: %w", err)
	}
	if stored == fresh.PrivateKey() {
		return fresh, nil
	}
	k, err := ParsePrivateKey(stored)
	if err != nil {
		return nil, fmt.Errorf("stored VAPID key: %w", err)
	}
	return k, nil
}
