package push_test

// What a browser and its push service do with a push, written here from
// the RFCs, apart from the package's code (no shared helper, HKDF on
// crypto/hmac), and checked against the RFCs' own examples before it is
// believed about the Sender's messages.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/queueless/queueless/push"
)

var raw = base64.RawURLEncoding

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := raw.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// browser is what a browser keeps for one push subscription: its key pair
// and auth secret (the Push API's p256dh and auth).
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		t.Fatal(err)
	}
	return &browser{key: key, auth: auth}
}

// subscriptionJSON is PushSubscription.toJSON() as a browser gives it.
func (b *browser) subscriptionJSON(endpoint string) []byte {
	j, _ := json.Marshal(map[string]any{
		"endpoint":       endpoint,
		"expirationTime": nil,
		"keys": map[string]string{
			"p256dh": raw.EncodeToString(b.key.PublicKey().Bytes()),
			"auth":   raw.EncodeToString(b.auth),
		},
	})
	return j
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// hkdf is RFC 5869 for outputs of at most one block: extract, then the
// first block of expand.
func hkdf(salt, ikm, info []byte, n int) []byte {
	prk := hmacSHA256(salt, ikm)
	return hmacSHA256(prk, info, []byte{1})[:n]
}

// ece is an RFC 8188 message read apart: its header and its plaintext.
type ece struct {
	salt      []byte
	rs        uint32
	keyID     []byte
	plaintext []byte
	records   int
}

// openECE decrypts an aes128gcm body of any number of records with ikm
// (RFC 8188 §2): each record's nonce is the derived nonce XOR its
// sequence number; its padding is zeros after a delimiter, 0x01 in every
// record but the last, 0x02 in the last.
func openECE(body, ikm []byte) (ece, error) {
	var m ece
	if len(body) < 21 {
		return m, errors.New("body shorter than a header")
	}
	m.salt, m.rs = body[:16], binary.BigEndian.Uint32(body[16:20])
	idlen := int(body[20])
	if len(body) < 21+idlen {
		return m, errors.New("body shorter than its key id")
	}
	m.keyID = body[21 : 21+idlen]
	if m.rs < 18 {
		return m, fmt.Errorf("record size %d below 18", m.rs)
	}
	cek := hkdf(m.salt, ikm, []byte("Content-Encoding: aes128gcm\x00"), 16)
	nonce := hkdf(m.salt, ikm, []byte("Content-Encoding: nonce\x00"), 12)
	gcm := newGCM(cek)
	rest := body[21+idlen:]
	for seq := uint64(0); len(rest) > 0; seq++ {
		n := min(int(m.rs), len(rest))
		rec := rest[:n]
		rest = rest[n:]
		iv := bytes.Clone(nonce)
		binary.BigEndian.PutUint64(iv[4:], binary.BigEndian.Uint64(iv[4:])^seq)
		p, err := gcm.Open(nil, iv, rec, nil)
		if err != nil {
			return m, fmt.Errorf("record %d: %w", seq, err)
		}
		p = bytes.TrimRight(p, "\x00")
		if len(p) == 0 {
			return m, fmt.Errorf("record %d: no delimiter", seq)
		}
		last := len(rest) == 0
		switch d := p[len(p)-1]; {
		case last && d != 2:
			return m, fmt.Errorf("last record %d: delimiter %#x, want 0x02", seq, d)
		case !last && d != 1:
			return m, fmt.Errorf("record %d: delimiter %#x, want 0x01", seq, d)
		}
		m.plaintext = append(m.plaintext, p[:len(p)-1]...)
		m.records++
	}
	return m, nil
}

// decrypt opens a push as the browser does (RFC 8291 §3.4): the sender's
// key is the header's key id; the ECDH secret and the auth secret give the
// IKM, bound to both public keys.
func (b *browser) decrypt(body []byte) (ece, error) {
	if len(body) < 21+65 || body[20] != 65 {
		return ece{}, errors.New("key id is not a 65-byte key")
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+65])
	if err != nil {
		return ece{}, fmt.Errorf("sender key: %w", err)
	}
	secret, err := b.key.ECDH(asPub)
	if err != nil {
		return ece{}, err
	}
	info := append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...)
	info = append(info, asPub.Bytes()...)
	ikm := hkdf(b.auth, secret, info, 32)
	return openECE(body, ikm)
}

type vapidClaims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Sub string `json:"sub"`
}

// checkVAPID is a push service's check of an Authorization header
// (RFC 8292): the vapid scheme with t and k, k the key the subscription
// was made with, an ES256 JWT (r||s) that k verifies. It returns the
// claims for the caller to judge.
func checkVAPID(header string, subscribedKey []byte) (vapidClaims, error) {
	var c vapidClaims
	params, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return c, fmt.Errorf("scheme of %q is not vapid", header)
	}
	var token, k string
	for _, p := range strings.Split(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch name {
		case "t":
			token = value
		case "k":
			k = value
		default:
			return c, fmt.Errorf("unknown parameter %q", name)
		}
	}
	key, err := raw.DecodeString(k)
	if err != nil {
		return c, fmt.Errorf("k is not base64url without padding: %w", err)
	}
	if !bytes.Equal(key, subscribedKey) {
		return c, errors.New("k is not the key the subscription was made with")
	}
	return c, verifyJWT(token, key, &c)
}

func verifyJWT(token string, key []byte, claims any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("token has %d parts", len(parts))
	}
	var hdr struct{ Typ, Alg string }
	if h, err := raw.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &hdr) != nil {
		return errors.New("bad JOSE header")
	}
	if hdr.Alg != "ES256" || hdr.Typ != "JWT" {
		return fmt.Errorf("JOSE header %+v, want JWT ES256", hdr)
	}
	sig, err := raw.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("signature is not 64 bytes of base64url (%d, %v)", len(sig), err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("signature does not verify")
	}
	body, err := raw.DecodeString(parts[1])
	if err != nil {
		return errors.New("claims are not base64url")
	}
	return json.Unmarshal(body, claims)
}

// The test's own decryption reads the RFCs' examples before it reads the
// Sender's messages.
func TestBrowserDecryptionReadsTheRFCExamples(t *testing.T) {
	t.Parallel()
	t.Run("RFC 8188 3.1", func(t *testing.T) {
		m, err := openECE(mustB64(t, "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg"), mustB64(t, "yqdlZ-tYemfogSmv7Ws5PQ"))
		if err != nil || string(m.plaintext) != "I am the walrus" || m.rs != 4096 || len(m.keyID) != 0 {
			t.Errorf("got %q rs %d keyid %q, %v", m.plaintext, m.rs, m.keyID, err)
		}
	})
	t.Run("RFC 8188 3.2, two records and padding", func(t *testing.T) {
		m, err := openECE(mustB64(t, "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA"), mustB64(t, "BO3ZVPxUlnLORbVGMpbT1Q"))
		if err != nil || string(m.plaintext) != "I am the walrus" || m.rs != 25 || string(m.keyID) != "a1" || m.records != 2 {
			t.Errorf("got %q rs %d keyid %q records %d, %v", m.plaintext, m.rs, m.keyID, m.records, err)
		}
	})
	t.Run("RFC 8291 Appendix A", func(t *testing.T) {
		key, err := ecdh.P256().NewPrivateKey(mustB64(t, "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
		if err != nil {
			t.Fatal(err)
		}
		b := &browser{key: key, auth: mustB64(t, "BTBZMqHH6r4Tts7J_aSIgg")}
		body := mustB64(t, "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
		m, err := b.decrypt(body)
		if err != nil || string(m.plaintext) != "When I grow up, I want to be a watermelon" {
			t.Errorf("got %q, %v", m.plaintext, err)
		}
		body[len(body)-1] ^= 1
		if _, err := b.decrypt(body); err == nil {
			t.Error("a changed tag decrypted")
		}
	})
	t.Run("RFC 8292 2.4 token", func(t *testing.T) {
		const tok = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA"
		key := mustB64(t, "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs")
		c, err := checkVAPID("vapid t="+tok+", k="+raw.EncodeToString(key), key)
		if err != nil || c != (vapidClaims{Aud: "https://push.example.net", Exp: 1453523768, Sub: "mailto:push@example.com"}) {
			t.Errorf("claims %+v, %v", c, err)
		}
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + raw.EncodeToString([]byte(`{"aud":"https://push.example.org","exp":1453523768,"sub":"mailto:push@example.com"}`)) + "." + parts[2]
		if _, err := checkVAPID("vapid t="+forged+", k="+raw.EncodeToString(key), key); err == nil {
			t.Error("a token with a changed aud verified")
		}
	})
}

// The RFC 8291 example's key pair, read through ParsePrivateKey, gives the
// example's public key in GET /api/v1/push/key's form.
func TestKnownKeyEncoding(t *testing.T) {
	t.Parallel()
	k, err := push.ParsePrivateKey("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.PublicKey(), "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"; got != want {
		t.Errorf("PublicKey() = %s, want %s", got, want)
	}
	if got, want := k.PrivateKey(), "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"; got != want {
		t.Errorf("PrivateKey() = %s, want %s", got, want)
	}
}

func ecdhP256Key() (*ecdh.PrivateKey, error) { return ecdh.P256().GenerateKey(rand.Reader) }
