package notify_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/mockapi"
)

// mockSMS is the mockapi's mock Twilio, as a test talks to it.
type mockSMS struct {
	t   *testing.T
	srv *httptest.Server
}

const mockAdmin = "mock-admin-token-0123"

func newMockSMS(t *testing.T) *mockSMS {
	t.Helper()
	m, err := mockapi.New(mockapi.Config{AdminToken: mockAdmin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return &mockSMS{t: t, srv: srv}
}

// gateway points a QueueLess server at the mock, with quick retries.
func (m *mockSMS) gateway(c *app.Config) {
	c.Notify.SMSGateway = "twilio"
	c.Notify.TwilioURL = m.srv.URL
	c.Notify.TwilioAccountSID, c.Notify.TwilioAuthToken, c.Notify.TwilioFrom = "ACmock", "mock-auth-token", "+15005550006"
	c.Notify.SMSRetryBase = 50 * time.Millisecond
}

func (m *mockSMS) do(method, path string, body any) (int, []byte) {
	m.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, m.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+mockAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []byte
	out, _ = readAll(resp)
	return resp.StatusCode, out
}

func (m *mockSMS) messages(to string) []mockapi.SMSMessage {
	_, body := m.do("GET", "/admin/sms/messages?to="+strings.ReplaceAll(to, "+", "%2B"), nil)
	var out struct{ Messages []mockapi.SMSMessage }
	_ = json.Unmarshal(body, &out)
	return out.Messages
}

// waitFor waits for the n-th text (1-based) to a number and returns it.
func (m *mockSMS) waitFor(to string, n int) mockapi.SMSMessage {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if msgs := m.messages(to); len(msgs) >= n {
			return msgs[n-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("no text #%d to %s within 30s; got %+v", n, to, m.messages(to))
	return mockapi.SMSMessage{}
}

// reply sends an inbound text to QueueLess through the mock, signed as
// Twilio signs; it returns QueueLess's status.
func (m *mockSMS) reply(s *testapp.Server, from, body string) int {
	m.t.Helper()
	_, out := m.do("POST", "/admin/sms/reply", map[string]string{"url": s.URL + "/api/v1/sms/inbound", "from": from, "body": body})
	var r struct{ Status int }
	_ = json.Unmarshal(out, &r)
	return r.Status
}

func readAll(resp *http.Response) ([]byte, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String()), nil
		}
	}
}

func createOffice(t *testing.T, s *testapp.Server, name string) int64 {
	t.Helper()
	resp := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: testapp.AdminToken,
		Body: map[string]any{"name": name, "kind": "government", "status": "open"}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create institution: %d %s", resp.Status, resp.Body)
	}
	var inst struct{ ID int64 }
	resp.JSON(t, &inst)
	return inst.ID
}

type ticketOut struct {
	ID          string
	Label       string
	Status      string
	PeopleAhead int64 `json:"people_ahead"`
}

func joinWith(t *testing.T, s *testapp.Server, inst int64, body map[string]any) ticketOut {
	t.Helper()
	resp := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst), Body: body})
	if resp.Status != http.StatusCreated {
		t.Fatalf("join: %d %s", resp.Status, resp.Body)
	}
	var tk ticketOut
	resp.JSON(t, &tk)
	return tk
}

func getTicket(t *testing.T, s *testapp.Server, id string) ticketOut {
	t.Helper()
	var tk ticketOut
	s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + id}).JSON(t, &tk)
	return tk
}

func advance(t *testing.T, s *testapp.Server, inst int64, counter string) {
	t.Helper()
	resp := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/advance", inst), Token: testapp.AdminToken,
		Body: map[string]any{"count": 1, "counter": counter}})
	if resp.Status != http.StatusOK {
		t.Fatalf("advance: %d %s", resp.Status, resp.Body)
	}
}

type notificationOut struct {
	ID         int64
	Event      string
	Deliveries []struct {
		Channel   string
		Status    string
		Attempts  *int
		LastError *string `json:"last_error"`
	}
}

func notifications(t *testing.T, s *testapp.Server, id, token string) []notificationOut {
	t.Helper()
	var out struct{ Items []notificationOut }
	s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + id + "/notifications", Token: token}).JSON(t, &out)
	return out.Items
}

var codeRE = regexp.MustCompile(`code is (\d{6})`)

// The whole SMS round through the mock Twilio, in both modes: a join with
// a phone gets its code, nothing else before it is entered, then the
// near-turn and called texts with the label and counter; the replies
// STATUS, LATER, STOP, START and CANCEL act and answer.
func TestSMSThroughMockTwilio(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			mock := newMockSMS(t)
			s := testapp.Start(t, mode, mock.gateway)
			inst := createOffice(t, s, "City Hall")

			const phone1, e1641 = "09171234567", "+639171234567"
			const phone2, e1642 = "09181234567", "+639181234567"
			a := joinWith(t, s, inst, map[string]any{})
			b := joinWith(t, s, inst, map[string]any{})
			c := joinWith(t, s, inst, map[string]any{"phone": phone1, "near_turn_threshold": 1})
			x := joinWith(t, s, inst, map[string]any{"phone": phone2})
			for range 4 {
				joinWith(t, s, inst, map[string]any{})
			}

			// The code comes first; a wrong one is refused, the right one verifies.
			first := mock.waitFor(e1641, 1)
			m := codeRE.FindStringSubmatch(first.Body)
			if m == nil || !strings.Contains(first.Body, "City Hall") {
				t.Fatalf("first text %q: want City Hall and a 6-digit code", first.Body)
			}
			wrong := "000000"
			if m[1] == wrong {
				wrong = "111111"
			}
			if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + c.ID + "/verify-phone", Body: map[string]string{"code": wrong}}); r.Status != 400 {
				t.Fatalf("wrong code: %d %s, want 400", r.Status, r.Body)
			}
			if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + c.ID + "/verify-phone", Body: map[string]string{"code": m[1]}}); r.Status != 200 {
				t.Fatalf("right code: %d %s, want 200", r.Status, r.Body)
			}

			// A is called: C has one ahead, within its threshold: near turn.
			advance(t, s, inst, "3")
			near := mock.waitFor(e1641, 2)
			if !strings.Contains(near.Body, "near") || !strings.Contains(near.Body, c.Label) || !strings.Contains(near.Body, "/?ticket="+c.ID) {
				t.Errorf("near-turn text %q: want 'near', label %q and the ticket's link", near.Body, c.Label)
			}

			if st := mock.reply(s, e1641, "status"); st != 200 {
				t.Fatalf("inbound STATUS: %d", st)
			}
			status := mock.waitFor(e1641, 3)
			if !strings.Contains(status.Body, c.Label) || !strings.Contains(status.Body, "1 ahead") {
				t.Errorf("STATUS answer %q: want label %q and 1 ahead", status.Body, c.Label)
			}

			// B, then C is called at counter 3.
			advance(t, s, inst, "3")
			advance(t, s, inst, "3")
			called := mock.waitFor(e1641, 4)
			if !strings.Contains(called.Body, "counter 3") || !strings.Contains(called.Body, c.Label) {
				t.Errorf("called text %q: want counter 3 and label %q", called.Body, c.Label)
			}
			// Deliveries: staff see attempts, citizens the status only.
			// The gateway has the text before the job records it sent: wait
			// for the record.
			var sawSent bool
			for deadline := time.Now().Add(10 * time.Second); !sawSent && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				for _, n := range notifications(t, s, c.ID, testapp.AdminToken) {
					for _, d := range n.Deliveries {
						if d.Channel == "sms" && n.Event == "turn_called" && d.Status == "sent" && d.Attempts != nil && *d.Attempts == 1 {
							sawSent = true
						}
					}
				}
			}
			if !sawSent {
				t.Errorf("staff view of %s's notifications has no sent sms turn_called with 1 attempt: %+v", c.ID, notifications(t, s, c.ID, testapp.AdminToken))
			}
			for _, n := range notifications(t, s, c.ID, "") {
				for _, d := range n.Deliveries {
					if d.Attempts != nil || d.LastError != nil {
						t.Errorf("citizen view shows attempts or last_error: %+v", d)
					}
				}
			}

			// Phone 2 never verified: it got only its code, and its
			// near-turn text (three ahead now) was suppressed, not sent.
			mock.waitFor(e1642, 1)
			var suppressed bool
			deadline := time.Now().Add(20 * time.Second)
			for !suppressed && time.Now().Before(deadline) {
				for _, n := range notifications(t, s, x.ID, testapp.AdminToken) {
					for _, d := range n.Deliveries {
						if n.Event == "near_turn" && d.Channel == "sms" && d.Status == "suppressed" && d.LastError != nil && *d.LastError == "phone not verified" {
							suppressed = true
						}
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !suppressed {
				t.Fatalf("unverified phone's near_turn: %+v, want sms suppressed (phone not verified)", notifications(t, s, x.ID, testapp.AdminToken))
			}
			if n := len(mock.messages(e1642)); n != 1 {
				t.Fatalf("unverified phone got %d texts, want its code only", n)
			}
			before := getTicket(t, s, x.ID).PeopleAhead
			if st := mock.reply(s, e1642, "LATER"); st != 200 {
				t.Fatalf("inbound LATER: %d", st)
			}
			if after := getTicket(t, s, x.ID).PeopleAhead; after != before+3 {
				t.Errorf("LATER: people ahead %d -> %d, want +3", before, after)
			}
			later := mock.waitFor(e1642, 2)
			if !strings.Contains(later.Body, "moved back") {
				t.Errorf("LATER answer %q", later.Body)
			}
			mock.reply(s, e1642, "STOP")
			stopped := mock.waitFor(e1642, 3)
			if !strings.Contains(stopped.Body, "no more texts") {
				t.Errorf("STOP answer %q", stopped.Body)
			}
			mock.reply(s, e1642, "STATUS") // opted out: no answer
			mock.reply(s, e1642, "start")
			started := mock.waitFor(e1642, 4)
			if !strings.Contains(started.Body, "on again") {
				t.Errorf("START answer %q (a STATUS after STOP must not be answered)", started.Body)
			}
			mock.reply(s, e1642, "CANCEL")
			cancelled := mock.waitFor(e1642, 5)
			if !strings.Contains(cancelled.Body, "cancelled") {
				t.Errorf("CANCEL answer %q", cancelled.Body)
			}
			if st := getTicket(t, s, x.ID).Status; st != "cancelled" {
				t.Errorf("after CANCEL the ticket is %s", st)
			}
			mock.reply(s, e1642, "hello?")
			if help := mock.waitFor(e1642, 6); !strings.Contains(help.Body, "reply STATUS") {
				t.Errorf("help answer %q", help.Body)
			}
			_ = a
			_ = b

			// An inbound text with a bad signature is refused.
			r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/sms/inbound", Body: "From=%2B639171234567&Body=STOP",
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bm9wZQ=="}})
			if r.Status != 401 {
				t.Errorf("badly signed inbound: %d %s, want 401", r.Status, r.Body)
			}
		})
	}
}
