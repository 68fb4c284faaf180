package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/queueless/queueless/internal/testapp"
)

// TestHTTPWebhookPatch: PATCH /api/v1/webhooks/{id} changes levels and
// events (absent fields stay), validates them, admin only; both modes.
func TestHTTPWebhookPatch(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken,
			Body: map[string]any{"url": "https://example.org/hook", "events": []string{"alert.raised", "alert.escalated"}}})
		var w struct {
			ID     int64
			Events []string
			Levels []string
			Secret string
		}
		r.JSON(t, &w)
		if r.Status != http.StatusCreated || w.Levels == nil || len(w.Levels) != 0 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		path := testapp.Path("/api/v1/webhooks/%d", w.ID)
		r = s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"levels": []string{"p1", "p0"}}})
		var got struct {
			Events []string
			Levels []string
			Secret string
		}
		r.JSON(t, &got)
		if r.Status != http.StatusOK || !slices.Equal(got.Levels, []string{"p1", "p0"}) || !slices.Equal(got.Events, w.Events) || got.Secret != "" {
			t.Fatalf("PATCH levels: %d %s", r.Status, r.Body)
		}
		r = s.Do(testapp.Request{Method: "GET", Path: path, Token: testapp.AdminToken})
		r.JSON(t, &got)
		if !slices.Equal(got.Levels, []string{"p1", "p0"}) {
			t.Fatalf("GET after PATCH: %s", r.Body)
		}
		for _, body := range []string{`{"levels": ["p9"]}`, `{"levels": ["p1", "p1"]}`, `{"events": []}`, `{"levels": null}`, `{"url": "https://elsewhere.org"}`} {
			wantError(t, s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: body}), http.StatusBadRequest, "invalid_request")
		}
		wantError(t, s.Do(testapp.Request{Method: "PATCH", Path: "/api/v1/webhooks/9999", Token: testapp.AdminToken, Body: `{"levels": []}`}), http.StatusNotFound, "not_found")
		id := s.CreateInstitution(nil)
		wantError(t, s.Do(testapp.Request{Method: "PATCH", Path: path, Token: s.StaffToken(id), Body: `{"levels": []}`}), http.StatusForbidden, "forbidden")
	})
}
