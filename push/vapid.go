package push

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// MaxTokenLifetime is RFC 8292 §2's bound on a VAPID token's exp: no more
// than 24 hours after the request.
const MaxTokenLifetime = 24 * time.Hour

// tokenLifetime is what the Sender asks for: half the bound, so that a push
// service whose clock runs ahead still accepts it.
const tokenLifetime = 12 * time.Hour

// ValidateSubject checks a VAPID subject (the JWT's sub): a mailto: address
// or an https: URL where the push service's operators can reach this
// server's.
func ValidateSubject(sub string) error {
	switch {
	case strings.HasPrefix(sub, "mailto:"):
		addr := strings.TrimPrefix(sub, "mailto:")
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return fmt.Errorf("VAPID subject %q: want mailto:name@example.org", sub)
		}
		return nil
	case strings.HasPrefix(sub, "https://"):
		u, err := url.Parse(sub)
		if err != nil || u.Host == "" {
			return fmt.Errorf("VAPID subject %q is not a valid https URL", sub)
		}
		return nil
	default:
		return fmt.Errorf("VAPID subject %q: want a mailto: address or an https: URL", sub)
	}
}

// Audience is the JWT's aud for an endpoint: its origin (RFC 8292 §2),
// scheme://host[:port], without path.
func Audience(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("push: no origin in endpoint %q", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Authorization is the header value RFC 8292 §3 defines for a push to
// endpoint: "vapid t=<JWT>, k=<public key>", the JWT signed with ES256 and
// carrying aud (the endpoint's origin), exp and sub.
func (k *Keys) Authorization(endpoint, subject string, exp time.Time) (string, error) {
	aud, err := Audience(endpoint)
	if err != nil {
		return "", err
	}
	t, err := k.token(aud, subject, exp)
	if err != nil {
		return "", err
	}
	return "vapid t=" + t + ", k=" + k.PublicKey(), nil
}

// jwtHeader is the JOSE header of every token, encoded once.
var jwtHeader = b64.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))

type claims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Sub string `json:"sub,omitempty"`
}

// token is the signed JWT (RFC 7515 compact form; RFC 7518 §3.4: the
// signature is r||s, 32 bytes each, not DER).
func (k *Keys) token(aud, sub string, exp time.Time) (string, error) {
	body, err := json.Marshal(claims{Aud: aud, Exp: exp.Unix(), Sub: sub})
	if err != nil {
		return "", fmt.Errorf("push: claims: %w", err)
	}
	signing := jwtHeader + "." + b64.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k.private, sum[:])
	if err != nil {
		return "", fmt.Errorf("push: sign VAPID token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64.EncodeToString(sig), nil
}
