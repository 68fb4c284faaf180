package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// hostile is one request an attacker, a broken client or a fuzzer might
// send, and the answer the contract gives it.
type hostile struct {
	name   string
	method string
	path   string // sent as is: escape what must be escaped
	body   any    // string or []byte, sent as is; an io.Reader is sent chunked
	header map[string]string
	status int
	code   string // the contract's error code; "" for a success or a non-API answer
}

// sendHostile sends h without any of testapp's conveniences: Content-Type
// is application/json when there is a body or the method is POST, PUT or
// PATCH, unless h.header sets it ("" to send none), and empty header values
// are sent.
func sendHostile(t *testing.T, s *testapp.Server, h hostile) testapp.Response {
	t.Helper()
	var body io.Reader
	switch b := h.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = struct{ io.Reader }{b} // hides the length: chunked
	default:
		t.Fatalf("body of type %T", h.body)
	}
	req, err := http.NewRequest(h.method, s.URL+h.path, body)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if body != nil || h.method == "POST" || h.method == "PUT" || h.method == "PATCH" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h.header {
		if k == "Content-Type" && v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", h.method, h.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", h.method, h.path, err)
	}
	return testapp.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func nested(open, close string, depth int, inner string) string {
	return `{"phone":` + strings.Repeat(open, depth) + inner + strings.Repeat(close, depth) + `}`
}

// TestHostileRequests sends more than 60 hostile requests to every mode:
// each gets its status and, for errors, the contract's error body; none
// gets a 500 or a driver's words; the server serves on afterwards.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		other := s.CreateInstitution(nil)
		staff := s.StaffToken(id, other)
		admin := map[string]string{"Authorization": "Bearer " + testapp.AdminToken}
		bearer := map[string]string{"Authorization": "Bearer " + staff}
		join := testapp.Path("/api/v1/institutions/%d/tickets", id)
		inst := testapp.Path("/api/v1/institutions/%d", id)
		ticket := "/api/v1/tickets/"
		missing := "00000000-0000-4000-8000-000000000000"
		phone := func(n int) string { return fmt.Sprintf(`{"phone":"0917%07d"}`, n) }
		withHeader := func(k, v string) map[string]string { return map[string]string{k: v} }

		cases := []hostile{
			// SQL fragments: ids never reach SQL unparsed, and text is bound.
			{name: "sql in institution id", method: "GET", path: "/api/v1/institutions/1%3BDROP%20TABLE%20tickets", status: 400, code: "invalid_request"},
			{name: "sql in join path", method: "POST", path: "/api/v1/institutions/1%20OR%201=1/tickets", status: 400, code: "invalid_request"},
			{name: "sql in ticket id", method: "GET", path: ticket + "'%20OR%20'1'='1", status: 400, code: "invalid_request"},
			{name: "sql in phone", method: "POST", path: join, body: `{"phone":"0' OR '1'='1"}`, status: 400, code: "invalid_request"},
			{name: "sql in idempotency key", method: "POST", path: join, header: withHeader("Idempotency-Key", "x');DROP/**/TABLE/**/tickets;--"), status: 201},
			{name: "sql in status filter", method: "GET", path: inst + "/tickets?status=waiting'%3B--", header: bearer, status: 400, code: "invalid_request"},
			{name: "sql in announcement", method: "POST", path: inst + "/announcements", header: bearer, body: `{"message":"'; DELETE FROM tickets; --"}`, status: 202},
			{name: "sql in institution name", method: "POST", path: "/api/v1/institutions", header: admin, body: `{"name":"x'); DROP TABLE institutions;--","kind":"bank"}`, status: 201},

			// Numbers out of range, negative, odd forms.
			{name: "negative institution id", method: "GET", path: "/api/v1/institutions/-1", status: 400, code: "invalid_request"},
			{name: "institution id past int64", method: "GET", path: "/api/v1/institutions/9223372036854775808", status: 400, code: "invalid_request"},
			{name: "institution id of 30 digits", method: "POST", path: "/api/v1/institutions/999999999999999999999999999999/tickets", status: 400, code: "invalid_request"},
			{name: "institution id at int64 max", method: "GET", path: "/api/v1/institutions/9223372036854775807", status: 404, code: "not_found"},
			{name: "join at int64 max", method: "POST", path: "/api/v1/institutions/9223372036854775807/tickets", status: 404, code: "not_found"},
			{name: "institution id with exponent", method: "GET", path: "/api/v1/institutions/1e3", status: 400, code: "invalid_request"},
			{name: "institution id in hex", method: "GET", path: "/api/v1/institutions/0x1", status: 400, code: "invalid_request"},
			{name: "institution id with plus", method: "GET", path: "/api/v1/institutions/%2B1", status: 400, code: "invalid_request"},
			{name: "institution id with space", method: "GET", path: "/api/v1/institutions/%201", status: 400, code: "invalid_request"},
			{name: "institution id in arabic digits", method: "GET", path: "/api/v1/institutions/%D9%A1", status: 400, code: "invalid_request"},
			{name: "threshold 1e308", method: "POST", path: join, body: `{"near_turn_threshold":1e308}`, status: 400, code: "invalid_request"},
			{name: "threshold past int64", method: "POST", path: join, body: `{"near_turn_threshold":99999999999999999999}`, status: 400, code: "invalid_request"},
			{name: "threshold negative", method: "POST", path: join, body: `{"near_turn_threshold":-3}`, status: 400, code: "invalid_request"},
			{name: "threshold fraction", method: "POST", path: join, body: `{"near_turn_threshold":2.5}`, status: 400, code: "invalid_request"},
			{name: "threshold as string", method: "POST", path: join, body: `{"near_turn_threshold":"3"}`, status: 400, code: "invalid_request"},
			{name: "threshold 11", method: "POST", path: join, body: `{"near_turn_threshold":11}`, status: 400, code: "invalid_request"},
			{name: "threshold NaN", method: "POST", path: join, body: `{"near_turn_threshold":NaN}`, status: 400, code: "invalid_request"},
			{name: "advance count negative", method: "POST", path: inst + "/advance", header: bearer, body: `{"count":-1}`, status: 400, code: "invalid_request"},
			{name: "capacity negative", method: "PATCH", path: inst, header: admin, body: `{"capacity":-1}`, status: 400, code: "invalid_request"},
			{name: "capacity 1e30", method: "PATCH", path: inst, header: admin, body: `{"capacity":1e30}`, status: 400, code: "invalid_request"},
			{name: "list limit negative", method: "GET", path: inst + "/tickets?limit=-1", header: bearer, status: 400, code: "invalid_request"},
			{name: "list after past int64", method: "GET", path: inst + "/tickets?after=99999999999999999999", header: bearer, status: 400, code: "invalid_request"},
			{name: "token for institution -1", method: "POST", path: "/api/v1/tokens", header: admin, body: `{"name":"x","institution_ids":[-1]}`, status: 400, code: "invalid_request"},

			// Encodings, control characters and NUL bytes.
			{name: "invalid utf-8 value", method: "POST", path: join, body: []byte("{\"phone\":\"\xff\xfe\"}"), status: 400, code: "invalid_request"},
			{name: "invalid utf-8 key", method: "POST", path: join, body: []byte("{\"\xff\":1}"), status: 400, code: "invalid_request"},
			{name: "utf-16 body", method: "POST", path: join, body: []byte("\xff\xfe{\x00}\x00"), status: 400, code: "invalid_request"},
			{name: "byte order mark", method: "POST", path: join, body: []byte("\xef\xbb\xbf{}"), status: 400, code: "invalid_request"},
			{name: "escaped NUL in phone", method: "POST", path: join, body: `{"phone":"0917123456\u0000"}`, status: 400, code: "invalid_request"},
			{name: "raw NUL in body", method: "POST", path: join, body: []byte("{\"phone\":\"0\x00\"}"), status: 400, code: "invalid_request"},
			{name: "NUL in announcement", method: "POST", path: inst + "/announcements", header: bearer, body: `{"message":"hello\u0000world"}`, status: 400, code: "invalid_request"},
			{name: "NUL in institution name", method: "POST", path: "/api/v1/institutions", header: admin, body: `{"name":"a\u0000b","kind":"bank"}`, status: 400, code: "invalid_request"},
			{name: "NUL in token name", method: "POST", path: "/api/v1/tokens", header: admin, body: `{"name":"a\u0000b","role":"admin"}`, status: 400, code: "invalid_request"},
			{name: "escape sequence in counter", method: "POST", path: inst + "/advance", header: bearer, body: `{"counter":"\u001b[2J"}`, status: 400, code: "invalid_request"},
			{name: "newline after phone", method: "POST", path: join, body: `{"phone":"09171234567\n"}`, status: 400, code: "invalid_request"},
			{name: "phone in arabic digits", method: "POST", path: join, body: `{"phone":"٠٩١٧١٢٣٤٥٦٧"}`, status: 400, code: "invalid_request"},
			{name: "phone of 12 digits", method: "POST", path: join, body: `{"phone":"091712345678"}`, status: 400, code: "invalid_request"},
			{name: "phone empty", method: "POST", path: join, body: `{"phone":""}`, status: 400, code: "invalid_request"},
			{name: "phone null", method: "POST", path: join, body: `{"phone":null}`, status: 201},

			// JSON structure.
			{name: "deep arrays", method: "POST", path: join, body: nested("[", "]", 30000, "1"), status: 400, code: "invalid_request"},
			{name: "objects one level too deep", method: "POST", path: join, body: nested(`{"a":`, "}", 16, "1"), status: 400, code: "invalid_request"},
			{name: "duplicate key", method: "POST", path: join, body: `{"phone":"09171234567","phone":"09171234568"}`, status: 400, code: "invalid_request"},
			{name: "duplicate key in other case", method: "POST", path: join, body: `{"phone":"09171234567","PHONE":"09171234568"}`, status: 400, code: "invalid_request"},
			{name: "field name in other case", method: "POST", path: join, body: `{"Phone":"09171234569"}`, status: 400, code: "invalid_request"},
			{name: "unknown field", method: "POST", path: join, body: `{"admin":true}`, status: 400, code: "invalid_request"},
			{name: "__proto__", method: "POST", path: join, body: `{"__proto__":{"admin":true}}`, status: 400, code: "invalid_request"},
			{name: "empty body", method: "POST", path: join, status: 201},
			{name: "empty object", method: "POST", path: join, body: `{}`, status: 201},
			{name: "blank body", method: "POST", path: join, body: " \r\n\t ", status: 201},
			{name: "null body", method: "POST", path: join, body: `null`, status: 400, code: "invalid_request"},
			{name: "array body", method: "POST", path: join, body: `[]`, status: 400, code: "invalid_request"},
			{name: "string body", method: "POST", path: join, body: `"phone"`, status: 400, code: "invalid_request"},
			{name: "two objects", method: "POST", path: join, body: `{}{}`, status: 400, code: "invalid_request"},
			{name: "truncated object", method: "POST", path: join, body: `{"phone":"09171234567"`, status: 400, code: "invalid_request"},
			{name: "trailing garbage", method: "POST", path: join, body: `{} x`, status: 400, code: "invalid_request"},
			{name: "trailing comma", method: "POST", path: join, body: `{"near_turn_threshold":3,}`, status: 400, code: "invalid_request"},
			{name: "single quotes", method: "POST", path: join, body: `{'near_turn_threshold':3}`, status: 400, code: "invalid_request"},
			{name: "comment", method: "POST", path: join, body: `{/* hi */}`, status: 400, code: "invalid_request"},

			// Content type and size.
			{name: "text/plain", method: "POST", path: join, body: `{}`, header: withHeader("Content-Type", "text/plain"), status: 415, code: "invalid_request"},
			{name: "no content type", method: "POST", path: join, body: `{}`, header: withHeader("Content-Type", ""), status: 415, code: "invalid_request"},
			{name: "malformed content type", method: "POST", path: join, body: `{}`, header: withHeader("Content-Type", "application/json;;;=="), status: 415, code: "invalid_request"},
			// A browser sends these cross-site without a CORS preflight: any
			// web page could make its visitors take numbers or cancel tickets.
			{name: "cross-site text/plain join, empty body", method: "POST", path: join, header: map[string]string{"Content-Type": "text/plain", "Origin": "https://popular.example"}, status: 415, code: "invalid_request"},
			{name: "cross-site form join, empty body", method: "POST", path: join, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://popular.example"}, status: 415, code: "invalid_request"},
			{name: "cross-site multipart join", method: "POST", path: join, body: "--b\r\n\r\n--b--\r\n", header: map[string]string{"Content-Type": "multipart/form-data; boundary=b", "Origin": "https://popular.example"}, status: 415, code: "invalid_request"},
			{name: "join without content type or body", method: "POST", path: join, header: withHeader("Content-Type", ""), status: 415, code: "invalid_request"},
			{name: "cancel without content type", method: "POST", path: ticket + missing + "/cancel", header: map[string]string{"Content-Type": "", "Origin": "https://popular.example"}, status: 415, code: "invalid_request"},
			{name: "check-in as text/plain", method: "POST", path: ticket + missing + "/check-in", header: withHeader("Content-Type", "text/plain"), status: 415, code: "invalid_request"},
			{name: "patch without content type", method: "PATCH", path: inst, header: map[string]string{"Content-Type": "", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "+json content type", method: "POST", path: join, body: `{}`, header: withHeader("Content-Type", "application/vnd.queueless+json"), status: 201},
			// v1.1's changing routes (services, counters, calls, priority,
			// walk-ins) obey the same rule.
			{name: "services as text/plain", method: "PUT", path: inst + "/services", body: `{"services":[{"code":"A","name":"A"}]}`, header: map[string]string{"Content-Type": "text/plain", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "service patch without content type", method: "PATCH", path: inst + "/services/A", body: `{"name":"B"}`, header: map[string]string{"Content-Type": "", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "counters as a form", method: "PUT", path: inst + "/counters", body: `counters=1`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "call without content type", method: "POST", path: ticket + missing + "/call", header: map[string]string{"Content-Type": "", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "ticket patch as text/plain", method: "PATCH", path: ticket + missing, body: `{"priority":null}`, header: map[string]string{"Content-Type": "text/plain", "Authorization": admin["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "walk-in as text/plain", method: "POST", path: join, header: map[string]string{"Content-Type": "text/plain", "Authorization": bearer["Authorization"]}, status: 415, code: "invalid_request"},
			{name: "body over 64 KiB", method: "POST", path: join, body: `{"phone":"` + strings.Repeat("0", 70000) + `"}`, status: 413, code: "too_large"},
			{name: "chunked body over 64 KiB", method: "POST", path: join, body: io.Reader(strings.NewReader(`{"phone":"` + strings.Repeat("0", 70000) + `"}`)), status: 413, code: "too_large"},
			{name: "body of exactly 64 KiB", method: "POST", path: join, body: `{}` + strings.Repeat(" ", 64<<10-2), status: 201},
			{name: "body over 64 KiB on a staff route", method: "POST", path: inst + "/announcements", header: bearer, body: `{"message":"` + strings.Repeat("a", 70000) + `"}`, status: 413, code: "too_large"},

			// Methods.
			{name: "PUT on join", method: "PUT", path: join, body: `{}`, status: 405, code: "invalid_request"},
			{name: "DELETE on ticket", method: "DELETE", path: ticket + missing, status: 405, code: "invalid_request"},
			// PATCH on a ticket is a v1.1 route (priority); PUT is not one.
			{name: "PUT on ticket", method: "PUT", path: ticket + missing, body: `{"status":"served"}`, status: 405, code: "invalid_request"},
			{name: "TRACE", method: "TRACE", path: inst, status: 405, code: "invalid_request"},
			{name: "lower-case method", method: "post", path: join, status: 405, code: "invalid_request"},
			{name: "method override header ignored", method: "GET", path: inst, header: withHeader("X-HTTP-Method-Override", "DELETE"), status: 200},

			// Ticket ids.
			{name: "uuid in upper case", method: "GET", path: ticket + strings.ToUpper(missing), status: 404, code: "not_found"},
			{name: "uuid in braces", method: "GET", path: ticket + "%7B" + missing + "%7D", status: 400, code: "invalid_request"},
			{name: "uuid as urn", method: "GET", path: ticket + "urn:uuid:" + missing, status: 400, code: "invalid_request"},
			{name: "uuid without dashes", method: "GET", path: ticket + strings.ReplaceAll(missing, "-", ""), status: 400, code: "invalid_request"},
			{name: "uuid not hex", method: "GET", path: ticket + "zzzzzzzz-0000-4000-8000-000000000000", status: 400, code: "invalid_request"},
			{name: "nil uuid", method: "GET", path: ticket + "00000000-0000-0000-0000-000000000000", status: 404, code: "not_found"},
			{name: "uuid with NUL", method: "POST", path: ticket + missing[:35] + "%00/cancel", status: 400, code: "invalid_request"},
			{name: "uuid with CRLF", method: "GET", path: ticket + missing[:34] + "%0D%0A/notifications", status: 400, code: "invalid_request"},
			{name: "path traversal", method: "GET", path: ticket + "..%2F..%2Fetc%2Fpasswd", status: 400, code: "invalid_request"},

			// Headers.
			{name: "forged X-Forwarded-For", method: "POST", path: join, header: withHeader("X-Forwarded-For", "1.2.3.4, 127.0.0.1"), status: 201},
			{name: "junk X-Forwarded-For", method: "POST", path: join, header: withHeader("X-Forwarded-For", "' OR 1=1, [::1]:99, ,,"), status: 201},
			{name: "header over 64 KiB", method: "GET", path: inst, header: withHeader("X-Junk", strings.Repeat("a", 100<<10)), status: 431},
			{name: "header of 32 KiB", method: "POST", path: join, header: withHeader("X-Junk", strings.Repeat("a", 32<<10)), status: 201},
			{name: "idempotency key with a space", method: "POST", path: join, header: withHeader("Idempotency-Key", "order 42"), status: 201},
			{name: "idempotency key with a tab", method: "POST", path: join, header: withHeader("Idempotency-Key", "a\tb"), status: 400, code: "invalid_request"},
			{name: "idempotency key not ascii", method: "POST", path: join, header: withHeader("Idempotency-Key", "ключ"), status: 400, code: "invalid_request"},
			{name: "idempotency key empty", method: "POST", path: join, header: withHeader("Idempotency-Key", ""), status: 400, code: "invalid_request"},
			{name: "bearer token of 10 KiB", method: "POST", path: inst + "/advance", header: withHeader("Authorization", "Bearer "+strings.Repeat("t", 10<<10)), status: 401, code: "unauthorized"},
			{name: "basic auth", method: "POST", path: inst + "/advance", header: withHeader("Authorization", "Basic YWRtaW46YWRtaW4="), status: 401, code: "unauthorized"},
			{name: "admin token with a space after", method: "POST", path: "/api/v1/tokens", header: withHeader("Authorization", "Bearer  "+testapp.AdminToken+"x"), body: `{"name":"x","role":"admin"}`, status: 401, code: "unauthorized"},
			{name: "script in X-Request-ID", method: "POST", path: join, body: phone(1), header: withHeader("X-Request-ID", "<script>alert(1)</script>"), status: 201},
		}
		if len(cases) < 40 {
			t.Fatalf("only %d hostile requests", len(cases))
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := sendHostile(t, s, c)
				if r.Status >= 500 {
					t.Fatalf("status %d (body %s)", r.Status, r.Body)
				}
				if c.code != "" {
					wantError(t, r, c.status, c.code)
				} else if r.Status != c.status {
					t.Fatalf("status = %d, want %d (body %.300s)", r.Status, c.status, r.Body)
				}
				if r.Status < 300 && strings.HasPrefix(c.path, "/api/v1/institutions/") && bytes.Contains(r.Body, []byte(`"phone":`)) { // a key; "source":"phone" is no number
					t.Fatalf("a public answer shows a phone number: %s", r.Body)
				}
				if rid := r.Header.Get("X-Request-ID"); c.status != 431 && !uuidPattern.MatchString(rid) && !strings.HasPrefix(rid, "my-") {
					t.Fatalf("X-Request-ID = %q", rid)
				}
			})
		}
		// Nothing above broke the store: a join still gets the next number.
		r := s.Do(testapp.Request{Method: "POST", Path: join, Body: map[string]any{"phone": "09179999999"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("join after the hostile requests: %d %s", r.Status, r.Body)
		}
	})
}

// TestSlowBodyDeadline: a client that sends half a body and stalls gets an
// answer by the request deadline, not when it pleases.
func TestSlowBodyDeadline(t *testing.T) {
	t.Parallel()
	const deadline = time.Second
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) { c.RequestTimeout = deadline })
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), deadline+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/v1/institutions/1/tickets", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 100
	go func() { _, _ = pw.Write([]byte(`{"phone":`)) }() // and nothing more
	start := time.Now()
	resp, err := s.Client.Do(req)
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("a stalled body got no answer in %s, with a %s deadline", took, deadline)
	}
	if err == nil {
		defer resp.Body.Close()
		var body struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusBadRequest || body.Code != "invalid_request" {
			t.Fatalf("stalled body: %d %q, want 400 invalid_request", resp.StatusCode, body.Code)
		}
	}
	if took > deadline+2*time.Second {
		t.Fatalf("a stalled body held the request %s, past the %s deadline", took, deadline)
	}
	t.Logf("stalled body answered after %s (err %v)", took, err)
	// The connection of the stalled request is not reused with its
	// deadline spent: the next requests are served.
	for range 3 {
		if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/institutions/1/tickets", Body: map[string]any{}}); r.Status != http.StatusCreated {
			t.Fatalf("join after the stalled one: %d %s", r.Status, r.Body)
		}
	}
}

// TestCORS: cross-origin requests are answered for the allowed origins
// only, compared exactly, preflight included; never with a wildcard.
func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://queue.example.gov.ph"
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) {
		c.AllowedOrigins = []string{allowed, "http://localhost:3000/"}
	})
	id := s.CreateInstitution(nil)
	join := testapp.Path("/api/v1/institutions/%d/tickets", id)
	preflight := func(origin string) testapp.Response {
		return sendHostile(t, s, hostile{method: "OPTIONS", path: join, header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "content-type,idempotency-key"}})
	}

	r := preflight(allowed)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Fatalf("preflight from %s: %d, Allow-Origin %q", allowed, r.Status, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if m := r.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
		t.Fatalf("Access-Control-Allow-Methods = %q", m)
	}
	if h := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "idempotency-key") || !strings.Contains(h, "content-type") {
		t.Fatalf("Access-Control-Allow-Headers = %q", h)
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" || r.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight headers: %v", r.Header)
	}
	if r := preflight("http://localhost:3000"); r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("preflight from the second origin: %v", r.Header)
	}
	for _, origin := range []string{"https://evil.example", "null", allowed + ".evil.example", "https://x.queue.example.gov.ph",
		"http://queue.example.gov.ph", allowed + ":8443", "*"} {
		if r := preflight(origin); r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Fatalf("preflight from %s allowed: %v", origin, r.Header)
		}
		r := sendHostile(t, s, hostile{method: "GET", path: "/api/v1/institutions", header: map[string]string{"Origin": origin}})
		if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("GET from %s: %d, Allow-Origin %q", origin, r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	r = sendHostile(t, s, hostile{method: "POST", path: join, header: map[string]string{"Origin": allowed}})
	if r.Status != http.StatusCreated || r.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Fatalf("join from %s: %d, Allow-Origin %q", allowed, r.Status, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if e := r.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(e, "Retry-After") || !strings.Contains(e, "X-Request-Id") && !strings.Contains(e, "X-Request-ID") {
		t.Fatalf("Access-Control-Expose-Headers = %q", e)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("Vary = %q", r.Header.Values("Vary"))
	}

	// With no ALLOWED_ORIGINS there is no CORS at all.
	closed := testapp.Start(t, testapp.Embedded)
	r = sendHostile(t, closed, hostile{method: "OPTIONS", path: "/api/v1/institutions/1/tickets", header: map[string]string{
		"Origin": allowed, "Access-Control-Request-Method": "POST"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS without ALLOWED_ORIGINS: %v", r.Header)
	}
}

// TestSecurityHeaders: every answer, error or not, carries the security
// headers; HSTS only behind TLS.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := testapp.Start(t, testapp.Embedded)
	for _, h := range []hostile{
		{method: "GET", path: "/api/v1/institutions"},
		{method: "GET", path: "/api/v1/tickets/nope"},
		{method: "POST", path: "/api/v1/institutions/1/tickets", body: "x", header: map[string]string{"Content-Type": "text/plain"}},
		{method: "GET", path: "/no/such/route"},
		{method: "GET", path: "/healthz"},
	} {
		r := sendHostile(t, s, h)
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := r.Header.Get(k); got != want {
				t.Fatalf("%s %s: %s = %q, want %q", h.method, h.path, k, got, want)
			}
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Fatalf("%s %s: HSTS over plain HTTP", h.method, h.path)
		}
	}
	r := sendHostile(t, s, hostile{method: "GET", path: "/healthz", header: map[string]string{"X-Forwarded-Proto": "https"}})
	if !strings.Contains(r.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("HSTS behind a TLS proxy: %q", r.Header.Get("Strict-Transport-Security"))
	}
}

// abuse is an attack that takes more than one request: a flood, a slow
// sender, a lock-out. Each runs against its own server, in every mode,
// configured by opts (on top of testapp's: throttles off, admission off).
type abuse struct {
	name string
	opts []testapp.Option
	run  func(t *testing.T, s *testapp.Server)
}

// TestHostileAbuse is the table of attacks that a single request cannot
// show: each names what it tries and checks the server holds.
func TestHostileAbuse(t *testing.T) {
	t.Parallel()
	timeout := func(d time.Duration) testapp.Option { return func(c *app.Config) { c.RequestTimeout = d } }
	admission := func(n int) testapp.Option { return func(c *app.Config) { c.JoinMaxInFlight = n } }
	rate := func(field func(c *app.Config) *limiter.Rate, r string) testapp.Option {
		return func(c *app.Config) {
			lr, err := limiter.NewRateFromFormatted(r)
			if err != nil {
				panic(err)
			}
			*field(c) = lr
		}
	}
	phoneRate := func(r string) testapp.Option {
		return rate(func(c *app.Config) *limiter.Rate { return &c.JoinPhoneRate }, r)
	}
	instRate := func(r string) testapp.Option {
		return rate(func(c *app.Config) *limiter.Rate { return &c.JoinRate }, r)
	}
	addressRate := func(r string) testapp.Option {
		return rate(func(c *app.Config) *limiter.Rate { return &c.JoinAddressRate }, r)
	}
	proxied := func(c *app.Config) {
		for _, cidr := range []string{"127.0.0.1/32", "::1/128"} {
			_, n, _ := net.ParseCIDR(cidr)
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
	}
	wsCaps := func(perAddr, total int) testapp.Option {
		return func(c *app.Config) { c.WSMaxPerIP, c.WSMaxConns = perAddr, total }
	}
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }

	cases := []abuse{
		{name: "made-up methods and paths add no metric series", run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			for i := range 40 {
				method := fmt.Sprintf("QL%dMADEUP%s", i, strings.Repeat("X", 2000))
				r := sendHostile(t, s, hostile{method: method, path: testapp.Path("/api/v1/institutions/%d/tickets", id)})
				wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
				r = sendHostile(t, s, hostile{method: method, path: fmt.Sprintf("/made/up/path/%d", i)})
				if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
					t.Fatalf("%.20s on an unknown path: %d", method, r.Status)
				}
			}
			m := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
			if bytes.Contains(m.Body, []byte("MADEUP")) || bytes.Contains(m.Body, []byte("/made/up/path")) {
				t.Fatalf("/metrics holds a method or path a client made up (%d bytes)", len(m.Body))
			}
			series := 0
			for _, line := range strings.Split(string(m.Body), "\n") {
				if strings.HasPrefix(line, "queueless_http_request_duration_seconds_count{") {
					series++
				}
			}
			if series > 10 {
				t.Fatalf("%d latency series after 80 made-up requests, want a handful", series)
			}
		}},
		{name: "join with Upgrade: websocket and a body sent a byte at a time", opts: []testapp.Option{timeout(time.Second)}, run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			status, took := slowRequest(t, s, "POST", testapp.Path("/api/v1/institutions/%d/tickets", id),
				map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Content-Type": "application/json"}, 8*time.Second)
			if status != http.StatusBadRequest || took > 4*time.Second {
				t.Fatalf("slow join with an Upgrade header: status %d after %s, want 400 by the 1s request deadline", status, took)
			}
		}},
		{name: "GET with a body sent a byte at a time", opts: []testapp.Option{timeout(time.Second)}, run: func(t *testing.T, s *testapp.Server) {
			status, took := slowRequest(t, s, "GET", "/api/v1/institutions", nil, 8*time.Second)
			if status == 0 || took > 5*time.Second {
				t.Fatalf("slow GET body: status %d after %s, want an answer or a close within the read deadline (1s + 1s)", status, took)
			}
		}},
		{name: "slowly sent joins hold no admission slot", opts: []testapp.Option{timeout(2 * time.Second), admission(2)}, run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			path := testapp.Path("/api/v1/institutions/%d/tickets", id)
			done := make(chan struct{})
			for range 4 {
				go func() {
					defer func() { done <- struct{}{} }()
					slowRequest(t, s, "POST", path, map[string]string{"Content-Type": "application/json"}, 8*time.Second)
				}()
			}
			time.Sleep(500 * time.Millisecond) // the slow ones are in, sending
			for range 3 {
				if r := s.Do(testapp.Request{Method: "POST", Path: path, Body: map[string]any{}}); r.Status != http.StatusCreated {
					t.Fatalf("join beside slow senders (JOIN_MAX_IN_FLIGHT=2): %d %s", r.Status, r.Body)
				}
			}
			for range 4 {
				<-done
			}
		}},
		{name: "joins to missing institutions with a stranger's phone", opts: []testapp.Option{phoneRate("3-H"), proxied}, run: func(t *testing.T, s *testapp.Server) {
			const stranger = `{"phone":"09175550123"}`
			for i := range 10 {
				r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", 900000+i), body: stranger, header: from("198.51.100.7")})
				wantError(t, r, http.StatusNotFound, "not_found")
			}
			a, b, c := s.CreateInstitution(nil), s.CreateInstitution(nil), s.CreateInstitution(nil)
			// Joins refused before they are tried count for nothing either.
			for range 5 {
				r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", a),
					body: `{"phone":"09175550123","near_turn_threshold":99}`, header: from("198.51.100.7")})
				wantError(t, r, http.StatusBadRequest, "invalid_request")
			}
			for _, id := range []int64{a, b, c} {
				r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", id), body: stranger, header: from("198.51.100.8")})
				if r.Status != http.StatusCreated {
					t.Fatalf("the phone's own join at %d after a stranger's 15 refused ones: %d %s", id, r.Status, r.Body)
				}
			}
			// The limit itself still holds for joins that are tried.
			d := s.CreateInstitution(nil)
			r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", d), body: stranger, header: from("198.51.100.8")})
			wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		}},
		{name: "random institution ids from one address", opts: []testapp.Option{addressRate("20-M"), instRate("5-M"), phoneRate("10-H"), proxied}, run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			for i := range 20 {
				r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", 7000000+i*7919),
					body: fmt.Sprintf(`{"phone":"0917%07d"}`, i), header: from("203.0.113.9")})
				wantError(t, r, http.StatusNotFound, "not_found")
			}
			r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", id), header: from("203.0.113.9")})
			wantError(t, r, http.StatusTooManyRequests, "rate_limited")
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			if r := sendHostile(t, s, hostile{method: "POST", path: testapp.Path("/api/v1/institutions/%d/tickets", id), header: from("203.0.113.10")}); r.Status != http.StatusCreated {
				t.Fatalf("join from another address: %d %s", r.Status, r.Body)
			}
			if s.Config.RedisURL != "" {
				opts, err := redis.ParseURL(s.Config.RedisURL)
				if err != nil {
					t.Fatal(err)
				}
				rc := redis.NewClient(opts)
				defer rc.Close()
				keys, err := rc.Keys(context.Background(), s.Config.RedisPrefix+"*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) > 4 {
					t.Fatalf("%d throttle keys in Redis after 20 joins to made-up institutions from one address, want a few: %v", len(keys), keys)
				}
			}
		}},
		{name: "live streams from one IPv6 /64", opts: []testapp.Option{wsCaps(2, 0), proxied}, run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
				if status := dialLive(t, s, id, addr); status != http.StatusSwitchingProtocols {
					t.Fatalf("stream from %s: %d", addr, status)
				}
			}
			if status := dialLive(t, s, id, "2001:db8:1:2:ffff:ffff:ffff:ffff"); status != http.StatusTooManyRequests {
				t.Fatalf("third stream from one /64 (WS_MAX_PER_IP=2): %d, want 429", status)
			}
			if status := dialLive(t, s, id, "2001:db8:1:3::1"); status != http.StatusSwitchingProtocols {
				t.Fatalf("stream from the next /64: %d", status)
			}
		}},
		{name: "live streams past WS_MAX_CONNS", opts: []testapp.Option{wsCaps(0, 3), proxied}, run: func(t *testing.T, s *testapp.Server) {
			id := s.CreateInstitution(nil)
			for i := range 3 {
				if status := dialLive(t, s, id, fmt.Sprintf("192.0.2.%d", i+1)); status != http.StatusSwitchingProtocols {
					t.Fatalf("stream %d of 3: %d", i+1, status)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+testapp.Path("/api/v1/institutions/%d/live", id),
				&websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"192.0.2.99"}}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("fourth stream with WS_MAX_CONNS=3: %v %v, want 503 with Retry-After", resp, err)
			}
			m := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
			if !bytes.Contains(m.Body, []byte("queueless_live_connections_limit 3")) || !bytes.Contains(m.Body, []byte(`queueless_live_refused_total{reason="instance_cap"} 1`)) {
				t.Fatal("/metrics does not show the cap and the refusal")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range testapp.Modes {
				t.Run(string(mode), func(t *testing.T) {
					t.Parallel()
					c.run(t, testapp.Start(t, mode, c.opts...))
				})
			}
		})
	}
}

// slowRequest sends a request whose declared 1000-byte body comes one byte
// every 200ms, and returns the status of the answer (0 for none: the
// server closed the connection or wait passed) and how long it took.
func slowRequest(t *testing.T, s *testapp.Server, method, path string, header map[string]string, wait time.Duration) (int, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n", method, path, strings.TrimPrefix(s.URL, "http://"))
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n{")
	start := time.Now()
	if _, err := conn.Write([]byte(head.String())); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(start.Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// dialLive opens a live stream of institution id as client addr (through
// the trusted proxy), kept open until the test ends, and returns the
// status of the answer: 101 when upgraded.
func dialLive(t *testing.T, s *testapp.Server, id int64, addr string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+testapp.Path("/api/v1/institutions/%d/live", id),
		&websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {addr}}})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial live as %s: %v", addr, err)
		}
		return resp.StatusCode
	}
	t.Cleanup(func() { ws.CloseNow() })
	return resp.StatusCode
}
