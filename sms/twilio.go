package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Twilio sends texts with Twilio's Messages API: a form-encoded POST to
// {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json with HTTP Basic
// auth (account SID, auth token). BaseURL is https://api.twilio.com, or a
// stand-in speaking the same API (mockapi's SMS gateway).
type Twilio struct {
	BaseURL     string
	AccountSID  string
	AuthToken   string
	From        string // the sending number, E.164
	CountryCode string // of citizens' local numbers, e.g. "63"
	Client      *http.Client
}

var _ Gateway = (*Twilio)(nil)

// Send implements Gateway.
func (t *Twilio) Send(ctx context.Context, m Message) (string, error) {
	form := url.Values{"To": {E164(m.To, t.CountryCode)}, "From": {t.From}, "Body": {m.Body}}
	u := strings.TrimRight(t.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: twilio request: %v", ErrRejected, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	resp, err := t.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		detail := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			detail = fmt.Sprintf("%s (code %d)", e.Message, e.Code)
		}
		if len(detail) > 200 {
			detail = detail[:200]
		}
		return "", statusError("twilio", resp.StatusCode, detail)
	}
	var ok struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.SID == "" {
		return "", fmt.Errorf("twilio answered %d without a message sid", resp.StatusCode)
	}
	return ok.SID, nil
}

// TwilioSignature is the X-Twilio-Signature of a form POST to fullURL (as
// Twilio requested it, query included) with params: base64 of HMAC-SHA1,
// keyed with the auth token, over the URL followed by every parameter's
// name and value, names in sorted order.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ValidTwilioSignature reports, in constant time, whether sig is the
// signature of the request.
func ValidTwilioSignature(authToken, fullURL string, params url.Values, sig string) bool {
	if sig == "" {
		return false
	}
	return hmac.Equal([]byte(TwilioSignature(authToken, fullURL, params)), []byte(sig))
}
