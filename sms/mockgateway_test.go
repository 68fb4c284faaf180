package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/queueless/queueless/mockapi"
	"github.com/queueless/queueless/sms"
)

func adminDo(t *testing.T, method, u string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, r)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// The mock SMS gateway speaks Twilio's Messages API well enough for the
// twilio gateway, misbehaves on demand, and signs the replies it sends the
// way Twilio does: its own implementation and this package's agree.
func TestTwilioGatewayAgainstTheMockGateway(t *testing.T) {
	t.Parallel()
	mock, err := mockapi.New(mockapi.Config{SMS: mockapi.SMSConfig{AccountSID: "ACtest", AuthToken: "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mock)
	defer srv.Close()
	g := &sms.Twilio{BaseURL: srv.URL, AccountSID: "ACtest", AuthToken: "tok-123", From: "+15005550006", CountryCode: "63", Client: srv.Client()}
	ctx := context.Background()

	sid, err := g.Send(ctx, sms.Message{To: "09171234567", Body: "Your turn is near"})
	if err != nil || sid == "" {
		t.Fatalf("Send = %q, %v", sid, err)
	}
	var list struct{ Messages []mockapi.SMSMessage }
	adminDo(t, "GET", srv.URL+"/admin/sms/messages?to=%2B639171234567", nil, &list)
	if len(list.Messages) != 1 || list.Messages[0].SID != sid || list.Messages[0].Body != "Your turn is near" {
		t.Fatalf("recorded messages %+v, want the one sent", list.Messages)
	}

	bad := *g
	bad.AuthToken = "wrong"
	if _, err := bad.Send(ctx, sms.Message{To: "09171234567", Body: "x"}); !errors.Is(err, sms.ErrRejected) {
		t.Errorf("wrong credentials: %v, want a rejection", err)
	}
	for _, c := range []struct {
		faults mockapi.SMSFaults
	}{{mockapi.SMSFaults{Status: 429, Rate: 1}}, {mockapi.SMSFaults{Status: 500, Rate: 1}}} {
		if st := adminDo(t, "PUT", srv.URL+"/admin/sms/faults", c.faults, nil); st != 200 {
			t.Fatalf("set faults: %d", st)
		}
		if _, err := g.Send(ctx, sms.Message{To: "09171234567", Body: "x"}); err == nil || errors.Is(err, sms.ErrRejected) {
			t.Errorf("faults %+v: %v, want an error worth retrying", c.faults, err)
		}
	}
	adminDo(t, "PUT", srv.URL+"/admin/sms/faults", mockapi.SMSFaults{LatencyMS: 300}, nil)
	slow := *g
	slow.Client = &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := slow.Send(ctx, sms.Message{To: "09171234567", Body: "x"}); err == nil || errors.Is(err, sms.ErrRejected) {
		t.Errorf("slow gateway past the client's timeout: %v, want an error worth retrying", err)
	}
	if st := adminDo(t, "PUT", srv.URL+"/admin/sms/faults", map[string]any{"status": 404, "rate": 1}, nil); st != 400 {
		t.Errorf("fault status 404 accepted: %d", st)
	}

	// A reply, signed by the mock, checked here.
	var gotSig, gotURL string
	var gotForm url.Values
	inbound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		gotForm, gotSig, gotURL = r.PostForm, r.Header.Get("X-Twilio-Signature"), "http://"+r.Host+r.URL.RequestURI()
		_, _ = io.WriteString(w, "<Response/>")
	}))
	defer inbound.Close()
	var answer struct {
		Status int
		Body   string
	}
	target := inbound.URL + "/api/v1/sms/inbound?x=1"
	if st := adminDo(t, "POST", srv.URL+"/admin/sms/reply", map[string]string{"url": target, "from": "+639171234567", "body": "STATUS"}, &answer); st != 200 || answer.Status != 200 {
		t.Fatalf("reply: %d %+v", st, answer)
	}
	if gotURL != target || gotForm.Get("Body") != "STATUS" || sms.Local(gotForm.Get("From"), "63") != "09171234567" {
		t.Errorf("inbound %s %v", gotURL, gotForm)
	}
	if !sms.ValidTwilioSignature("tok-123", target, gotForm, gotSig) {
		t.Errorf("the mock's X-Twilio-Signature %q does not validate", gotSig)
	}
	if sms.ValidTwilioSignature("other-token", target, gotForm, gotSig) {
		t.Errorf("the signature validates with another token")
	}
}
