package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// The phone throttle and the join handler both need the decoded join; the
// body is decoded once per request and both get the same request (and the
// same error for a body the join refuses).
func TestJoinRequestDecodedOnce(t *testing.T) {
	t.Parallel()
	e := echo.New()
	newCtx := func(body string) echo.Context {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/institutions/1/tickets", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return e.NewContext(r, httptest.NewRecorder())
	}
	c := newCtx(`{"phone":"09171234567","near_turn_threshold":3}`)
	first, err := joinRequest(c)
	if err != nil {
		t.Fatal(err)
	}
	second, err := joinRequest(c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Phone == nil || *first.Phone != "09171234567" || first.Threshold != 3 {
		t.Fatalf("decoded %+v", first)
	}
	if first.Phone != second.Phone {
		t.Fatal("the body was decoded twice: the second call made a new phone number")
	}

	bad := newCtx(`{"phone":"09171234567","phone":"09171234568"}`)
	_, err1 := joinRequest(bad)
	_, err2 := joinRequest(bad)
	if err1 == nil || err1 != err2 {
		t.Fatalf("a refused body: first error %v, second %v (want the same error)", err1, err2)
	}
}
