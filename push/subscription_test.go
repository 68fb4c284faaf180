package push_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/queueless/queueless/push"
)

func TestParseSubscription(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	p256dh := raw.EncodeToString(b.key.PublicKey().Bytes())
	auth := raw.EncodeToString(b.auth)
	compressed := append([]byte{0x02 | b.key.PublicKey().Bytes()[64]&1}, b.key.PublicKey().Bytes()[1:33]...)
	offCurve := bytes.Clone(b.key.PublicKey().Bytes())
	offCurve[64] ^= 1
	sub := func(endpoint, p, a string) string {
		j, _ := json.Marshal(map[string]any{"endpoint": endpoint, "keys": map[string]string{"p256dh": p, "auth": a}})
		return string(j)
	}
	const fcm = "https://fcm.googleapis.com/fcm/send/dXNlcjE:APA91bH"
	cases := []struct {
		name     string
		json     string
		loopback bool   // Policy.AllowLoopback
		want     string // "" for valid, else a part of the error
	}{
		{"browser's own JSON", string(b.subscriptionJSON(fcm)), false, ""},
		{"extra fields ignored", `{"endpoint":"` + fcm + `","expirationTime":1767225600000,"keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `","x":1},"extra":[1,2]}`, false, ""},
		{"padded base64url", sub(fcm, base64.URLEncoding.EncodeToString(b.key.PublicKey().Bytes()), base64.URLEncoding.EncodeToString(b.auth)), false, ""},
		{"mozilla", sub("https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk", p256dh, auth), false, ""},
		{"apple", sub("https://web.push.apple.com/QGf3-hGD_k", p256dh, auth), false, ""},
		{"not JSON", `endpoint=x`, false, "not a JSON object"},
		{"JSON array", `[]`, false, "not a JSON object"},
		{"two values", sub(fcm, p256dh, auth) + `{}`, false, "more than one JSON value"},
		{"no endpoint", `{"keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `"}}`, false, "endpoint is missing"},
		{"no keys", `{"endpoint":"` + fcm + `"}`, false, "keys is missing"},
		{"keys null", `{"endpoint":"` + fcm + `","keys":null}`, false, "keys is missing"},
		{"no p256dh", `{"endpoint":"` + fcm + `","keys":{"auth":"` + auth + `"}}`, false, "keys.p256dh is missing"},
		{"no auth", `{"endpoint":"` + fcm + `","keys":{"p256dh":"` + p256dh + `"}}`, false, "keys.auth is missing"},
		{"endpoint not a string", `{"endpoint":7,"keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `"}}`, false, "not a JSON object"},
		{"empty endpoint", sub("", p256dh, auth), false, "endpoint is empty"},
		{"relative endpoint", sub("/fcm/send/x", p256dh, auth), false, "not an absolute URL"},
		{"http endpoint", sub("http://fcm.googleapis.com/fcm/send/x", p256dh, auth), false, "must be https"},
		{"ftp endpoint", sub("ftp://fcm.googleapis.com/x", p256dh, auth), false, "must be https"},
		{"javascript endpoint", sub("javascript:alert(1)", p256dh, auth), false, "not an absolute URL"},
		{"user info", sub("https://user:pw@fcm.googleapis.com/x", p256dh, auth), false, "user name"},
		{"long endpoint", sub("https://fcm.googleapis.com/"+strings.Repeat("a", 2100), p256dh, auth), false, "longer than"},
		{"loopback", sub("https://127.0.0.1/push", p256dh, auth), false, "on this machine"},
		{"localhost", sub("https://localhost:8443/push", p256dh, auth), false, "on this machine"},
		{"ipv6 loopback", sub("https://[::1]/push", p256dh, auth), false, "on this machine"},
		{"private address", sub("https://10.0.0.8/push", p256dh, auth), true, "not a public address"},
		{"link-local metadata", sub("https://169.254.169.254/latest", p256dh, auth), true, "not a public address"},
		{"loopback http in tests", sub("http://127.0.0.1:3456/push", p256dh, auth), true, ""},
		{"localhost https in tests", sub("https://localhost:3456/push", p256dh, auth), true, ""},
		{"public http even in tests", sub("http://fcm.googleapis.com/x", p256dh, auth), true, "must be https"},
		{"p256dh not base64", sub(fcm, "not base64!", auth), false, "keys.p256dh is not base64url"},
		{"p256dh standard base64", sub(fcm, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 65)), auth), false, "keys.p256dh is not base64url"},
		{"p256dh compressed", sub(fcm, raw.EncodeToString(compressed), auth), false, "must be 65 bytes"},
		{"p256dh off the curve", sub(fcm, raw.EncodeToString(offCurve), auth), false, "not a point on P-256"},
		{"p256dh empty", sub(fcm, "", auth), false, "must be 65 bytes"},
		{"auth short", sub(fcm, p256dh, raw.EncodeToString(b.auth[:12])), false, "keys.auth must be 16 bytes, got 12"},
		{"auth long", sub(fcm, p256dh, raw.EncodeToString(append(b.auth, 0))), false, "keys.auth must be 16 bytes, got 17"},
		{"auth not base64", sub(fcm, p256dh, "@@@"), false, "keys.auth is not base64url"},
		{"huge", `{"endpoint":"` + strings.Repeat("a", 9000) + `"}`, false, "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := push.Policy{AllowLoopback: c.loopback}.ParseSubscription([]byte(c.json))
			if c.want == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				if len(s.P256DH) != 65 || len(s.Auth) != 16 || s.Endpoint == "" {
					t.Errorf("parsed %+v", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one saying %q", c.want)
			}
			if !errors.Is(err, push.ErrInvalidSubscription) {
				t.Errorf("error %v does not match ErrInvalidSubscription", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one saying %q", err, c.want)
			}
		})
	}
}

func TestSubscriptionJSONRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	in := b.subscriptionJSON("https://fcm.googleapis.com/fcm/send/abc")
	s, err := push.ParseSubscription(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	_ = json.Unmarshal(out, &got)
	_ = json.Unmarshal(in, &want)
	delete(want, "expirationTime")
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("JSON after a round trip:\n got %s\nwant %s", g, w)
	}
	again, err := push.ParseSubscription(out)
	if err != nil || again.Endpoint != s.Endpoint || !bytes.Equal(again.P256DH, s.P256DH) || !bytes.Equal(again.Auth, s.Auth) {
		t.Errorf("reparsed %+v, %v; want %+v", again, err, s)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Whatever a client posts, ParseSubscription answers with a subscription
// that round-trips or with an ErrInvalidSubscription, never a panic.
func FuzzParseSubscription(f *testing.F) {
	b := &browser{auth: bytes.Repeat([]byte{7}, 16)}
	key, _ := ecdhP256Key()
	b.key = key
	f.Add(b.subscriptionJSON("https://fcm.googleapis.com/fcm/send/x"))
	f.Add([]byte(`{"endpoint":"https://a.example/","keys":{"p256dh":"","auth":""}}`))
	f.Add([]byte(`{"endpoint":"http://[::1]:80/","keys":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"endpoint":"https://%zz","keys":{"p256dh":"BA","auth":"AA=="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []push.Policy{{}, {AllowLoopback: true}} {
			s, err := p.ParseSubscription(data)
			if err != nil {
				if !errors.Is(err, push.ErrInvalidSubscription) {
					t.Fatalf("error %v is not ErrInvalidSubscription", err)
				}
				continue
			}
			out, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.ParseSubscription(out); err != nil {
				t.Fatalf("accepted %q, then refused its own JSON %s: %v", data, out, err)
			}
		}
	})
}
