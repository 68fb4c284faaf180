package web_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/push"
	"github.com/queueless/queueless/web"
)

// TestBrowserPush runs web/e2e/push.test.mjs in Chromium against the pages
// and the two push endpoints, played here by stand-ins that speak the
// contract: GET /api/v1/push/key gives a real VAPID key; POST
// /api/v1/tickets/{id}/push parses what the page sends with push.Policy.
func TestBrowserPush(t *testing.T) {
	kit := newBrowserKit(t)

	keys, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	// The subscription the fake pushManager.subscribe answers with: a
	// browser's keys, made here.
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	want := push.Subscription{Endpoint: "https://fcm.googleapis.com/fcm/send/browser-test", P256DH: ua.PublicKey().Bytes(), Auth: auth}
	subJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}

	e := echo.New()
	if err := web.Register(e); err != nil {
		t.Fatal(err)
	}
	got := make(chan push.Subscription, 4)
	e.GET("/api/v1/push/key", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"public_key": keys.PublicKey()})
	})
	e.POST("/api/v1/tickets/:id/push", func(c echo.Context) error {
		if c.Param("id") != "t-42" {
			return c.JSON(http.StatusNotFound, map[string]string{"code": "not_found", "message": "no such ticket"})
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		s, err := push.ParseSubscription(body)
		if err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"code": "invalid_request", "message": err.Error()})
		}
		got <- s
		return c.NoContent(http.StatusCreated)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	env := append(os.Environ(),
		"QL_BASE_URL="+srv.URL,
		"QL_CHROMIUM="+kit.chromium,
		"QL_PUSH_KEY="+keys.PublicKey(),
		"QL_PUSH_SUBSCRIPTION="+string(subJSON),
	)
	kit.test(t, env, "push.test.mjs")

	close(got)
	var posted []push.Subscription
	for s := range got {
		posted = append(posted, s)
	}
	if len(posted) != 1 {
		t.Fatalf("POST /api/v1/tickets/t-42/push received %d subscriptions, want 1 (the refused opt-in posts none)", len(posted))
	}
	if p := posted[0]; p.Endpoint != want.Endpoint || base64.RawURLEncoding.EncodeToString(p.P256DH) != base64.RawURLEncoding.EncodeToString(want.P256DH) ||
		base64.RawURLEncoding.EncodeToString(p.Auth) != base64.RawURLEncoding.EncodeToString(want.Auth) {
		t.Errorf("the page posted %+v, want %+v", p, want)
	}
}
