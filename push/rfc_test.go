package push

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"
)

// The worked example of RFC 8291 (§5 and Appendix A): both key pairs and the
// salt are fixed there, so the whole message, and every value derived on
// the way, can be checked byte for byte.
const (
	rfcPlaintext  = "When I grow up, I want to be a watermelon"
	rfcASPrivate  = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcASPublic   = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	rfcUAPublic   = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcAuthSecret = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcSalt       = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcECDHSecret = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"
	rfcIKM        = "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg"
	rfcCEK        = "oIhVW04MRdy2XN9CiKLxTg"
	rfcNonce      = "4h_95klXJ5E_qnoN"
	rfcBody       = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
		"mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
		"pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func rfcSender(t *testing.T) *ecdh.PrivateKey {
	t.Helper()
	as, err := ecdh.P256().NewPrivateKey(unb64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(as.PublicKey().Bytes()); got != rfcASPublic {
		t.Fatalf("the RFC's sender public key = %s, want %s", got, rfcASPublic)
	}
	return as
}

func TestRFC8291AppendixAIntermediateValues(t *testing.T) {
	t.Parallel()
	as := rfcSender(t)
	ua, err := ecdh.P256().NewPublicKey(unb64(t, rfcUAPublic))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(secret); got != rfcECDHSecret {
		t.Errorf("ecdh_secret = %s, want %s", got, rfcECDHSecret)
	}
	ikm, err := webPushIKM(secret, unb64(t, rfcAuthSecret), unb64(t, rfcUAPublic), unb64(t, rfcASPublic))
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(ikm); got != rfcIKM {
		t.Errorf("IKM = %s, want %s", got, rfcIKM)
	}
	cek, nonce, err := contentKeys(ikm, unb64(t, rfcSalt))
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(cek); got != rfcCEK {
		t.Errorf("CEK = %s, want %s", got, rfcCEK)
	}
	if got := b64.EncodeToString(nonce); got != rfcNonce {
		t.Errorf("NONCE = %s, want %s", got, rfcNonce)
	}
}

// The RFC's message has no padding: a record of the plaintext and the
// delimiter only.
func TestRFC8291AppendixAMessage(t *testing.T) {
	t.Parallel()
	got, err := encrypt([]byte(rfcPlaintext), unb64(t, rfcUAPublic), unb64(t, rfcAuthSecret),
		rfcSender(t), unb64(t, rfcSalt), len(rfcPlaintext)+1)
	if err != nil {
		t.Fatal(err)
	}
	if want := unb64(t, rfcBody); !bytes.Equal(got, want) {
		t.Errorf("body:\n got %s\nwant %s", b64.EncodeToString(got), rfcBody)
	}
}

// RFC 8188 §3.1: one record, rs 4096, no key id, no padding, from a given IKM.
func TestRFC8188Example1(t *testing.T) {
	t.Parallel()
	const want = "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg"
	plain := []byte("I am the walrus")
	got, err := sealRecord(unb64(t, "yqdlZ-tYemfogSmv7Ws5PQ"), unb64(t, "I1BsxtFttlv3u_Oo94xnmw"), 4096, nil, plain, len(plain)+1)
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(got); got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
}

// The header of every message Encrypt makes (RFC 8188 §2.1, RFC 8291 §4):
// a fresh salt, rs 4096, the fresh sender key as the key id, and a length
// that is the padded record's.
func TestEncryptHeaderAndPadding(t *testing.T) {
	t.Parallel()
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sub := Subscription{Endpoint: "https://push.example.net/x", P256DH: ua.PublicKey().Bytes(), Auth: make([]byte, 16)}
	seen := map[string]bool{}
	for _, n := range []int{0, 1, 126, 127, 128, 500, MaxPlaintext - 1, MaxPlaintext} {
		body, err := Encrypt(bytes.Repeat([]byte("x"), n), sub)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
		keyID := body[21 : 21+idlen]
		if rs != 4096 || idlen != 65 || keyID[0] != 0x04 {
			t.Errorf("%d bytes: rs %d, idlen %d, keyid[0] %#x; want 4096, 65, 0x04", n, rs, idlen, keyID[0])
		}
		if _, err := ecdh.P256().NewPublicKey(keyID); err != nil {
			t.Errorf("%d bytes: key id is not a P-256 point: %v", n, err)
		}
		if seen[string(salt)] || seen[string(keyID)] {
			t.Errorf("%d bytes: a salt or a sender key was used twice", n)
		}
		seen[string(salt)], seen[string(keyID)] = true, true
		record := len(body) - headerLen - tagLen
		if want := paddedLen(n); record != want {
			t.Errorf("%d bytes: record of %d, want %d", n, record, want)
		}
		if record < n+1 || (record%padBlock != 0 && record != MaxPlaintext+1) {
			t.Errorf("%d bytes: record of %d is not the message, the delimiter and padding to %d", n, record, padBlock)
		}
		if len(body) > maxBody {
			t.Errorf("%d bytes: body of %d, more than %d", n, len(body), maxBody)
		}
	}
	if _, err := Encrypt(make([]byte, MaxPlaintext+1), sub); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Encrypt(MaxPlaintext+1) = %v, want ErrTooLarge", err)
	}
}

func TestSealRecordRefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	ikm, salt := make([]byte, 16), make([]byte, 16)
	for name, f := range map[string]func() error{
		"record beyond rs": func() error { _, err := sealRecord(ikm, salt, 100, nil, make([]byte, 90), 90); return err },
		"no room for the delimiter": func() error {
			_, err := sealRecord(ikm, salt, 4096, nil, make([]byte, 10), 10)
			return err
		},
		"short salt": func() error { _, err := sealRecord(ikm, salt[:8], 4096, nil, nil, 1); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDialAllowed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr     string
		loopback bool
		ok       bool
	}{
		{"142.250.72.10:443", false, true},
		{"[2a00:1450:4001:82b::200a]:443", false, true},
		{"127.0.0.1:443", false, false},
		{"127.0.0.1:443", true, true},
		{"[::1]:443", true, true},
		{"[::ffff:127.0.0.1]:443", false, false},
		{"10.1.2.3:443", true, false},
		{"192.168.1.1:443", false, false},
		{"172.16.0.1:443", false, false},
		{"169.254.169.254:80", false, false}, // cloud metadata
		{"100.64.0.1:443", false, false},
		{"0.0.0.0:443", false, false},
		{"[fe80::1]:443", false, false},
		{"[fc00::1]:443", false, false},
		{"example.com:443", false, false}, // the dialer gives addresses, never names
	}
	for _, c := range cases {
		err := Policy{AllowLoopback: c.loopback}.dialAllowed(c.addr)
		if (err == nil) != c.ok {
			t.Errorf("dialAllowed(%s, loopback %v) = %v, want ok %v", c.addr, c.loopback, err, c.ok)
		}
	}
}
