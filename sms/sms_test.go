package sms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/queueless/queueless/webhooks"
)

// The worked example of Twilio's webhook security documentation: auth
// token 12345, this URL and these form fields give this signature.
func TestTwilioSignatureDocumentedExample(t *testing.T) {
	t.Parallel()
	const token, u, want = "12345", "https://mycompany.com/myapp.php?foo=1&bar=2", "GvWf1cFY/Q7PnoempGyD5oXAezc="
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675310"},
		"Digits":  {"1234"},
		"From":    {"+14158675310"},
		"To":      {"+18005551212"},
	}
	if got := TwilioSignature(token, u, params); got != want {
		t.Fatalf("TwilioSignature = %q, want Twilio's %q", got, want)
	}
	if !ValidTwilioSignature(token, u, params, want) {
		t.Errorf("the documented signature does not validate")
	}
	tampered := url.Values{}
	for k, v := range params {
		tampered[k] = v
	}
	tampered.Set("Digits", "9999")
	for name, ok := range map[string]bool{
		"tampered field": ValidTwilioSignature(token, u, tampered, want),
		"other URL":      ValidTwilioSignature(token, strings.Replace(u, "https", "http", 1), params, want),
		"other token":    ValidTwilioSignature("54321", u, params, want),
		"no signature":   ValidTwilioSignature(token, u, params, ""),
	} {
		if ok {
			t.Errorf("%s: signature accepted", name)
		}
	}
}

func TestTwilioGatewaySpeaksTheMessagesAPI(t *testing.T) {
	t.Parallel()
	var status = http.StatusCreated
	var got url.Values
	var path, user, pass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		user, pass, _ = r.BasicAuth()
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q, want form-encoded", ct)
		}
		_ = r.ParseForm()
		got = r.PostForm
		w.WriteHeader(status)
		if status == http.StatusCreated {
			_, _ = io.WriteString(w, `{"sid": "SM0123", "status": "queued"}`)
		} else {
			_, _ = io.WriteString(w, `{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}`)
		}
	}))
	defer srv.Close()
	g := &Twilio{BaseURL: srv.URL + "/", AccountSID: "AC123", AuthToken: "tok", From: "+15005550006", CountryCode: "63", Client: srv.Client()}
	sid, err := g.Send(context.Background(), Message{To: "09171234567", Body: "hello", ID: "x"})
	if err != nil || sid != "SM0123" {
		t.Fatalf("Send = %q, %v; want SM0123", sid, err)
	}
	if path != "/2010-04-01/Accounts/AC123/Messages.json" || user != "AC123" || pass != "tok" {
		t.Errorf("POST %s as %s:%s, want /2010-04-01/Accounts/AC123/Messages.json as AC123:tok", path, user, pass)
	}
	if got.Get("To") != "+639171234567" || got.Get("From") != "+15005550006" || got.Get("Body") != "hello" {
		t.Errorf("form %v", got)
	}
	for s, rejected := range map[int]bool{400: true, 401: true, 429: false, 500: false, 503: false} {
		status = s
		_, err := g.Send(context.Background(), Message{To: "09171234567", Body: "hello"})
		if err == nil || errors.Is(err, ErrRejected) != rejected {
			t.Errorf("status %d: %v; want an error, rejected (not worth a retry) = %t", s, err, rejected)
		}
	}
}

func TestHTTPGatewaySigns(t *testing.T) {
	t.Parallel()
	var body []byte
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		sig = r.Header.Get(webhooks.HeaderSignature)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	g := &HTTP{URL: srv.URL, Secret: "s3cret", Client: srv.Client()}
	if _, err := g.Send(context.Background(), Message{To: "09171234567", Body: "hi", ID: "n-1"}); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil || m["to"] != "09171234567" || m["body"] != "hi" || m["id"] != "n-1" {
		t.Errorf("body %s: want {to, body, id}", body)
	}
	if !webhooks.Verify("s3cret", body, sig) {
		t.Errorf("signature %q does not verify", sig)
	}
}

func TestTextsAreShortAndComplete(t *testing.T) {
	t.Parallel()
	c := "3"
	tk := Ticket{Office: "Civil Service Commission", Name: "42", Counter: &c, Link: "https://q.example/p/0e78ab8f-1111-4222-8333-444455556666"}
	for _, ev := range []string{"near_turn", "turn_called", "expired"} {
		s := Text(ev, tk)
		for _, part := range []string{tk.Office, "42", tk.Link} {
			if !strings.Contains(s, part) {
				t.Errorf("%s text %q lacks %q", ev, s, part)
			}
		}
		if n := utf8.RuneCountInString(s); n > 160 {
			t.Errorf("%s text is %d characters, want at most 160", ev, n)
		}
	}
	if s := Text("turn_called", tk); !strings.Contains(s, "counter 3") {
		t.Errorf("called text %q does not name the counter", s)
	}
	if Text("completed", tk) != "" {
		t.Errorf("completed sends a text")
	}
	if E164("09171234567", "63") != "+639171234567" || Local("+639171234567", "63") != "09171234567" || Local("+15005550006", "63") != "+15005550006" {
		t.Errorf("E164/Local round trip")
	}
}
