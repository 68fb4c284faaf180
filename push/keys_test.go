package push_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/queueless/queueless/push"
)

func TestKeyEncodingRoundTrips(t *testing.T) {
	t.Parallel()
	k, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	if len(pub) != 87 || strings.ContainsAny(pub, "+/=") {
		t.Errorf("PublicKey() = %q: want 87 characters of base64url without padding", pub)
	}
	if b := mustB64(t, pub); len(b) != 65 || b[0] != 0x04 {
		t.Errorf("public key is %d bytes starting %#x, want the uncompressed point", len(b), b[0])
	}
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), mustB64(t, pub)); err != nil {
		t.Errorf("public key is not a P-256 point: %v", err)
	}
	priv := k.PrivateKey()
	if len(mustB64(t, priv)) != 32 {
		t.Errorf("PrivateKey() is %d bytes, want 32", len(mustB64(t, priv)))
	}
	if strings.Contains(k.String(), priv) || strings.Contains(fmt.Sprintf("%v", k), priv) {
		t.Error("the private key shows in String or when printed")
	}

	d := mustB64(t, priv)
	ecKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	for name, form := range map[string]string{
		"base64url":         priv,
		"base64url, padded": base64.URLEncoding.EncodeToString(d),
		"with spaces":       "  " + priv + "\n",
		"PEM EC":            string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})),
		"PEM PKCS8":         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	} {
		back, err := push.ParsePrivateKey(form)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if back.PublicKey() != pub || back.PrivateKey() != priv {
			t.Errorf("%s: a different key came back", name)
		}
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	t.Parallel()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	secret := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcde")) // 31 bytes
	cases := map[string]struct{ in, want string }{
		"empty":       {"", "empty"},
		"not base64":  {"not a key!", "neither base64url nor PEM"},
		"short":       {secret, "32 bytes"},
		"public key":  {"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8", "got 65"},
		"zero scalar": {base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "not a valid P-256 scalar"},
		"P-384 PEM":   {string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER})), "on P-384, want P-256"},
		"RSA PEM":     {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), "not an EC key"},
		"certificate": {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), "want EC PRIVATE KEY"},
		"broken PEM":  {"-----BEGIN EC PRIVATE KEY-----\nAAAA", "bad PEM"},
	}
	for name, c := range cases {
		_, err := push.ParsePrivateKey(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", name, err, c.want)
			continue
		}
		if c.in != "" && len(c.in) > 8 && strings.Contains(err.Error(), strings.TrimSpace(c.in)) {
			t.Errorf("%s: the error repeats the key", name)
		}
	}
}

func TestKeySource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fixed, _ := push.GenerateKeys()

	t.Run("VAPID_PRIVATE_KEY wins", func(t *testing.T) {
		store := &push.MemoryKeyStore{}
		k, err := push.KeySource{Private: fixed.PrivateKey(), Store: store}.Keys(ctx)
		if err != nil || k.PublicKey() != fixed.PublicKey() {
			t.Fatalf("got %v, %v; want the configured key", k, err)
		}
		// Nothing was generated into the store.
		other, _ := push.GenerateKeys()
		if got, _ := store.LoadOrStore(ctx, other.PrivateKey()); got != other.PrivateKey() {
			t.Error("the store was written although the key was configured")
		}
	})
	t.Run("a bad VAPID_PRIVATE_KEY is an error that names it", func(t *testing.T) {
		_, err := push.KeySource{Private: "nope", Store: &push.MemoryKeyStore{}}.Keys(ctx)
		if err == nil || !strings.Contains(err.Error(), "VAPID_PRIVATE_KEY") {
			t.Fatalf("error %v, want one naming VAPID_PRIVATE_KEY", err)
		}
	})
	t.Run("neither", func(t *testing.T) {
		if _, err := (push.KeySource{}).Keys(ctx); !errors.Is(err, push.ErrNoKey) {
			t.Fatalf("error %v, want ErrNoKey", err)
		}
	})
	t.Run("generated once, then kept", func(t *testing.T) {
		store := &push.MemoryKeyStore{}
		const n = 16
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k, err := push.KeySource{Store: store}.Keys(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = k.PublicKey()
			})
		}
		wg.Wait()
		for i := range got {
			if got[i] != got[0] || got[i] == "" {
				t.Fatalf("instance %d got key %q, instance 0 %q: every caller must share one", i, got[i], got[0])
			}
		}
		if got[0] == fixed.PublicKey() {
			t.Error("generated key equals an unrelated one")
		}
	})
	t.Run("store failure", func(t *testing.T) {
		_, err := push.KeySource{Store: failingStore{}}.Keys(ctx)
		if err == nil || !strings.Contains(err.Error(), "store down") {
			t.Fatalf("error %v, want the store's", err)
		}
	})
}

type failingStore struct{}

func (failingStore) LoadOrStore(context.Context, string) (string, error) {
	return "", errors.New("store down")
}

func TestValidateSubject(t *testing.T) {
	t.Parallel()
	for s, ok := range map[string]bool{
		"mailto:ops@queueless.example":       true,
		"https://queueless.example/contact":  true,
		"https://queueless.example":          true,
		"mailto:":                            false,
		"mailto:not an address":              false,
		"mailto:Ops <ops@queueless.example>": false,
		"ops@queueless.example":              false,
		"http://queueless.example":           false,
		"https://":                           false,
		"":                                   false,
	} {
		if err := push.ValidateSubject(s); (err == nil) != ok {
			t.Errorf("ValidateSubject(%q) = %v, want ok %v", s, err, ok)
		}
	}
}

func TestAudience(t *testing.T) {
	t.Parallel()
	for endpoint, want := range map[string]string{
		"https://fcm.googleapis.com/fcm/send/abc:def":          "https://fcm.googleapis.com",
		"https://updates.push.services.mozilla.com/wpush/v2/x": "https://updates.push.services.mozilla.com",
		"https://web.push.apple.com/QGf?x=1#y":                 "https://web.push.apple.com",
		"http://127.0.0.1:8080/push/1":                         "http://127.0.0.1:8080",
	} {
		if got, err := push.Audience(endpoint); err != nil || got != want {
			t.Errorf("Audience(%q) = %q, %v; want %q", endpoint, got, err, want)
		}
	}
	if _, err := push.Audience("/relative"); err == nil {
		t.Error("Audience of a relative URL: no error")
	}
}
