package push

import (
	"bytes"
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Subscription is a browser's PushSubscription: where to POST, and the keys
// to encrypt for. Its JSON is the browser's own (PushSubscription.toJSON),
// so json.Marshal and ParseSubscription round-trip.
type Subscription struct {
	Endpoint string
	P256DH   []byte // the browser's public key, an uncompressed P-256 point (65 bytes)
	Auth     []byte // the browser's auth secret (16 bytes)
}

// ErrInvalidSubscription is matched (errors.Is) by every error about a
// subscription's JSON, endpoint or keys; the error's text says what is wrong
// in words fit for a 400's message.
var ErrInvalidSubscription = errors.New("invalid push subscription")

type invalidError string

func (e invalidError) Error() string        { return string(e) }
func (e invalidError) Is(target error) bool { return target == ErrInvalidSubscription }

func invalidf(format string, args ...any) error {
	return invalidError(fmt.Sprintf(format, args...))
}

// maxSubscriptionJSON bounds what ParseSubscription reads; a real one is a
// few hundred bytes.
const maxSubscriptionJSON = 8 << 10

// maxEndpoint bounds an endpoint URL (the push services' are 100-600 bytes).
const maxEndpoint = 2048

// Policy says which endpoints this server pushes to. The zero Policy is
// production's: https only, to public hosts, never an address on this
// machine or its private networks (a subscription is the citizen's input,
// and the server POSTs to it).
type Policy struct {
	// AllowLoopback also admits http and https endpoints on loopback
	// (127.0.0.0/8, ::1, localhost): for tests, whose push services are
	// httptest servers.
	AllowLoopback bool
}

// ParseSubscription decodes a PushSubscription's JSON under the zero Policy.
func ParseSubscription(data []byte) (Subscription, error) {
	return Policy{}.ParseSubscription(data)
}

// ParseSubscription decodes a PushSubscription's JSON,
// {"endpoint", "keys": {"p256dh", "auth"}}, ignoring other fields
// (expirationTime...), and checks the endpoint and the keys.
func (p Policy) ParseSubscription(data []byte) (Subscription, error) {
	if len(data) > maxSubscriptionJSON {
		return Subscription{}, invalidf("push subscription: more than %d bytes", maxSubscriptionJSON)
	}
	var raw struct {
		Endpoint *string `json:"endpoint"`
		Keys     *struct {
			P256DH *string `json:"p256dh"`
			Auth   *string `json:"auth"`
		} `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Subscription{}, invalidf("push subscription: not a JSON object with endpoint and keys")
	}
	if dec.More() {
		return Subscription{}, invalidf("push subscription: more than one JSON value")
	}
	switch {
	case raw.Endpoint == nil:
		return Subscription{}, invalidf("push subscription: endpoint is missing")
	case raw.Keys == nil:
		return Subscription{}, invalidf("push subscription: keys is missing (the browser gives keys.p256dh and keys.auth)")
	case raw.Keys.P256DH == nil:
		return Subscription{}, invalidf("push subscription: keys.p256dh is missing")
	case raw.Keys.Auth == nil:
		return Subscription{}, invalidf("push subscription: keys.auth is missing")
	}
	s := Subscription{Endpoint: *raw.Endpoint}
	var err error
	if s.P256DH, err = decodeBase64URL(*raw.Keys.P256DH); err != nil {
		return Subscription{}, invalidf("push subscription: keys.p256dh is not base64url")
	}
	if s.Auth, err = decodeBase64URL(*raw.Keys.Auth); err != nil {
		return Subscription{}, invalidf("push subscription: keys.auth is not base64url")
	}
	if err := p.Check(s); err != nil {
		return Subscription{}, err
	}
	return s, nil
}

// Check validates a subscription's endpoint and keys.
func (p Policy) Check(s Subscription) error {
	if err := p.CheckEndpoint(s.Endpoint); err != nil {
		return err
	}
	if len(s.P256DH) != keyLen {
		return invalidf("push subscription: keys.p256dh must be %d bytes (an uncompressed P-256 point), got %d", keyLen, len(s.P256DH))
	}
	if _, err := ecdh.P256().NewPublicKey(s.P256DH); err != nil {
		return invalidf("push subscription: keys.p256dh is not a point on P-256")
	}
	if len(s.Auth) != authLen {
		return invalidf("push subscription: keys.auth must be %d bytes, got %d", authLen, len(s.Auth))
	}
	return nil
}

// CheckEndpoint validates an endpoint URL: absolute, https (http only on
// loopback when allowed), no user info, a host that is a name or a public
// address.
func (p Policy) CheckEndpoint(endpoint string) error {
	if endpoint == "" {
		return invalidf("push subscription: endpoint is empty")
	}
	if len(endpoint) > maxEndpoint {
		return invalidf("push subscription: endpoint is longer than %d bytes", maxEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return invalidf("push subscription: endpoint is not an absolute URL")
	}
	if u.User != nil {
		return invalidf("push subscription: endpoint must not carry a user name or password")
	}
	host := u.Hostname()
	loopback := isLoopbackHost(host)
	switch {
	case loopback && !p.AllowLoopback:
		return invalidf("push subscription: endpoint %s is on this machine", host)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback:
	default:
		return invalidf("push subscription: endpoint must be https, got %s", u.Scheme)
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !loopback && !publicAddr(ip) {
		return invalidf("push subscription: endpoint %s is not a public address", host)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// publicAddr reports whether ip may be pushed to: a global unicast address
// outside the private, shared (CGNAT) and loopback ranges.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !sharedSpace.Contains(ip)
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// dialAllowed reports whether the Sender may connect to addr ("ip:port"),
// checked on the address actually dialled, so that a name that resolves to
// a private address is refused too.
func (p Policy) dialAllowed(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("push: dial %s: not an IP address", addr)
	}
	if publicAddr(ip) || (p.AllowLoopback && ip.Unmap().IsLoopback()) {
		return nil
	}
	return fmt.Errorf("push: refusing to connect to %s: not a public address", ip)
}

type subscriptionJSON struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// MarshalJSON writes the subscription as the browser does.
func (s Subscription) MarshalJSON() ([]byte, error) {
	var j subscriptionJSON
	j.Endpoint = s.Endpoint
	j.Keys.P256DH = b64.EncodeToString(s.P256DH)
	j.Keys.Auth = b64.EncodeToString(s.Auth)
	return json.Marshal(j)
}
