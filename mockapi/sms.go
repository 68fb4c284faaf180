package mockapi

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// The mock SMS gateway speaks Twilio's Messages API, so that QueueLess's
// `twilio` gateway can be pointed at it (its base URL is configurable):
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP
// Basic auth with the account SID and auth token. It records every message,
// answers 429, 500 or slowly on demand, and sends inbound replies signed
// with X-Twilio-Signature as Twilio does (its own implementation of
// Twilio's documented algorithm).

// SMSConfig are the mock gateway's credentials.
type SMSConfig struct {
	AccountSID string // default ACmock
	AuthToken  string // default mock-auth-token
	From       string // the number replies come to; default +15005550006
}

// SMSMessage is a text the gateway accepted.
type SMSMessage struct {
	SID         string    `json:"sid"`
	To          string    `json:"to"`
	From        string    `json:"from"`
	Body        string    `json:"body"`
	DateCreated time.Time `json:"date_created"`
}

// SMSFaults make the gateway misbehave: a share of requests (Rate, 0..1)
// answered Status (429 or 500..599), each answer LatencyMS late.
type SMSFaults struct {
	Status    int     `json:"status"`
	Rate      float64 `json:"rate"`
	LatencyMS int     `json:"latency_ms"`
}

func (f SMSFaults) validate() error {
	if f.Status != 0 && f.Status != http.StatusTooManyRequests && (f.Status < 500 || f.Status > 599) {
		return fmt.Errorf("status must be 0, 429 or 500..599")
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("rate must be from 0 to 1")
	}
	if f.LatencyMS < 0 || f.LatencyMS > 600_000 {
		return fmt.Errorf("latency_ms must be from 0 to 600000")
	}
	return nil
}

type smsGateway struct {
	cfg    SMSConfig
	client *http.Client
	mu     sync.Mutex
	msgs   []SMSMessage
	faults SMSFaults
	rng    *rand.Rand
}

func newSMSGateway(cfg SMSConfig, seed uint64, client *http.Client) *smsGateway {
	if cfg.AccountSID == "" {
		cfg.AccountSID = "ACmock"
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = "mock-auth-token"
	}
	if cfg.From == "" {
		cfg.From = "+15005550006"
	}
	return &smsGateway{cfg: cfg, client: client, rng: rand.New(rand.NewPCG(seed, 0x5e5))}
}

func (g *smsGateway) routes(m *http.ServeMux, admin func(http.HandlerFunc) http.HandlerFunc) {
	m.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", g.send)
	m.HandleFunc("GET /admin/sms/messages", admin(g.list))
	m.HandleFunc("DELETE /admin/sms/messages", admin(g.clear))
	m.HandleFunc("GET /admin/sms/faults", admin(g.getFaults))
	m.HandleFunc("PUT /admin/sms/faults", admin(g.putFaults))
	m.HandleFunc("POST /admin/sms/reply", admin(g.reply))
}

// twilioError is Twilio's error body.
func twilioError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "status": status})
}

func (g *smsGateway) send(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || r.PathValue("sid") != g.cfg.AccountSID || user != g.cfg.AccountSID ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(g.cfg.AuthToken)) != 1 {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	g.mu.Lock()
	f := g.faults
	hit := f.Status != 0 && g.rng.Float64() < f.Rate
	g.mu.Unlock()
	if f.LatencyMS > 0 {
		select {
		case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	if hit {
		if f.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			twilioError(w, f.Status, 20429, "Too Many Requests")
		} else {
			twilioError(w, f.Status, 20500, "Internal Server Error")
		}
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 21600, "malformed form")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	if !strings.HasPrefix(to, "+") || len(to) < 8 {
		twilioError(w, http.StatusBadRequest, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", to))
		return
	}
	if from == "" || body == "" {
		twilioError(w, http.StatusBadRequest, 21602, "Message body and From are required")
		return
	}
	var b [16]byte
	_, _ = crand.Read(b[:])
	m := SMSMessage{SID: "SM" + hex.EncodeToString(b[:]), To: to, From: from, Body: body, DateCreated: time.Now().UTC()}
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid": m.SID, "account_sid": g.cfg.AccountSID, "to": m.To, "from": m.From, "body": m.Body,
		"status": "queued", "num_segments": "1", "direction": "outbound-api",
		"date_created": m.DateCreated.Format(time.RFC1123Z),
	})
}

func (g *smsGateway) list(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	g.mu.Lock()
	out := []SMSMessage{}
	for _, m := range g.msgs {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

func (g *smsGateway) clear(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	g.msgs = nil
	g.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (g *smsGateway) getFaults(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	f := g.faults
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

func (g *smsGateway) putFaults(w http.ResponseWriter, r *http.Request) {
	var f SMSFaults
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if err := f.validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	g.mu.Lock()
	g.faults = f
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

// reply sends an inbound text, as Twilio would to a messaging webhook:
// {"url": "<QueueLess's inbound URL>", "from": "+63...", "body": "STATUS"}.
// It answers with the status and body QueueLess gave.
func (g *smsGateway) reply(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL  string `json:"url"`
		From string `json:"from"`
		Body string `json:"body"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.URL == "" || in.From == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"url\", \"from\", \"body\"}")
		return
	}
	status, body, err := g.sendInbound(r.Context(), in.URL, in.From, in.Body)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "body": body})
}

func (g *smsGateway) sendInbound(ctx context.Context, target, from, text string) (int, string, error) {
	var b [16]byte
	_, _ = crand.Read(b[:])
	form := url.Values{
		"MessageSid": {"SM" + hex.EncodeToString(b[:])}, "SmsSid": {"SM" + hex.EncodeToString(b[:])},
		"AccountSid": {g.cfg.AccountSID}, "From": {from}, "To": {g.cfg.From}, "Body": {text},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "ApiVersion": {"2010-04-01"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSignature(g.cfg.AuthToken, target, form))
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body), nil
}

// twilioSignature is Twilio's request signature: base64 HMAC-SHA1, keyed
// with the auth token, of the URL followed by each field's name and value
// in name order.
func twilioSignature(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := u
	for _, k := range keys {
		for _, v := range form[k] {
			data += k + v
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
