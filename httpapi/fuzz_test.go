package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/queueless/queueless/queue"
)

// Plain `go test` runs every fuzz target on its seeds (those below and the
// files under testdata/fuzz); `go test -fuzz=FuzzDecodeJoin ./httpapi`
// searches for more.

var jsonSeeds = []string{
	``, `{}`, ` {} `, `null`, `[]`, `"x"`, `1`, `{}{}`, `{} x`, `{`, `}`,
	`{"phone":"09171234567","near_turn_threshold":3}`,
	`{"phone":null}`, `{"phone":""}`, `{"phone":"0' OR '1'='1"}`,
	`{"phone":"09171234567","phone":"09171234568"}`,
	`{"phone":"09171234567","PHONE":"09171234568"}`, `{"Phone":"09171234567"}`,
	`{"near_turn_threshold":1e308}`, `{"near_turn_threshold":-1}`, `{"near_turn_threshold":2.5}`,
	`{"near_turn_threshold":99999999999999999999}`, `{"near_turn_threshold":"3"}`,
	`{"a":{"b":{"c":[1,2,{"d":null}]}}}`, `{"a":[{"a":1},{"a":2}]}`, `{"a":{"a":1,"a":2}}`,
	`{"phone":"0917\u0000"}`, "{\"phone\":\"\xff\"}", "\xef\xbb\xbf{}", `{"__proto__":{}}`,
	`{"message":"hello"}`, `{"count":50,"counter":"3"}`, `{"name":"x","kind":"bank","capacity":null}`,
	strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"a":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 21),
}

// FuzzDecodeJoin: decoding a join body never panics, fails only with
// invalid_request, and accepts only a single JSON object with no repeated
// or unknown keys and no NUL, meaning what encoding/json says it means.
func FuzzDecodeJoin(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b joinBody
		err := decodeJSON(body, &b)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if body == nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which is not one object: %v", body, err)
		}
		for k := range m {
			if k != "phone" && k != "near_turn_threshold" {
				t.Fatalf("accepted %q with the key %q", body, k)
			}
		}
		if b.Phone != nil && strings.ContainsRune(*b.Phone, 0) {
			t.Fatalf("accepted a NUL in %q", body)
		}
		// Plain encoding/json reads the same values.
		var plain joinBody
		if err := json.Unmarshal(body, &plain); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !equalPtr(plain.Phone, b.Phone) || !equalPtr(plain.NearTurnThreshold, b.NearTurnThreshold) {
			t.Fatalf("%q decoded as %v/%v, encoding/json reads %v/%v", body, b.Phone, b.NearTurnThreshold, plain.Phone, plain.NearTurnThreshold)
		}
	})
}

// FuzzCheckShape: the structural check never panics, fails only with
// invalid_request, and passes only input whose first token opens an object,
// with no key twice in one object.
func FuzzCheckShape(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, err := checkShape(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Fatalf("checkShape(%q) passed the top-level key %q twice", body, k)
			}
			seen[k] = true
		}
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] != '{' {
			t.Fatalf("checkShape(%q) passed input that is not an object", body)
		}
	})
}

// FuzzParsePositive: path ids are exactly the decimal integers 1..2^63-1 of
// at most 19 digits, no sign, no spaces.
func FuzzParsePositive(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "+1", "01", " 1", "1 ", "1e3", "0x1", "9223372036854775807",
		"9223372036854775808", "99999999999999999999", "", "١", "1_000", "1;DROP TABLE tickets", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parsePositive(s, "id")
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		want, perr := strconv.ParseInt(s, 10, 64)
		ok := digits && len(s) <= 19 && perr == nil && want >= 1
		if (err == nil) != ok {
			t.Fatalf("parsePositive(%q) = %d, %v; want ok=%v", s, n, err, ok)
		}
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if n != want {
			t.Fatalf("parsePositive(%q) = %d, want %d", s, n, want)
		}
	})
}

// FuzzParseTicketID: a ticket id is accepted only in the canonical 36
// character form (any case) and comes back in lower case, unchanged by a
// second parse.
func FuzzParseTicketID(f *testing.F) {
	for _, s := range []string{"0e78ab8f-3c1d-4b7e-9a3f-2d1c0b9a8f7e", "0E78AB8F-3C1D-4B7E-9A3F-2D1C0B9A8F7E",
		"{0e78ab8f-3c1d-4b7e-9a3f-2d1c0b9a8f7e}", "urn:uuid:0e78ab8f-3c1d-4b7e-9a3f-2d1c0b9a8f7e",
		"0e78ab8f3c1d4b7e9a3f2d1c0b9a8f7e", "00000000-0000-0000-0000-000000000000", "zzzzzzzz-0000-4000-8000-000000000000",
		"0e78ab8f-3c1d-4b7e-9a3f-2d1c0b9a8f7\x00", "", "not-a-uuid", "' OR '1'='1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := queue.ParseTicketID(s)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if len(id) != 36 || id != strings.ToLower(id) || !strings.EqualFold(id, s) {
			t.Fatalf("ParseTicketID(%q) = %q, want the input in canonical lower case", s, id)
		}
		if again, err := queue.ParseTicketID(id); err != nil || again != id {
			t.Fatalf("ParseTicketID(%q) = %q, %v on its own output", id, again, err)
		}
	})
}

func wantInvalid(t *testing.T, err error) {
	t.Helper()
	var qe *queue.Error
	if !errors.As(err, &qe) || qe.Code != queue.CodeInvalid || qe.Message == "" {
		t.Fatalf("error %v (%T) is not an invalid_request with a message", err, err)
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
