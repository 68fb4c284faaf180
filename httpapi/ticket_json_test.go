package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// The join's answer is written without c.JSON's second pass; it must be
// the same bytes and headers c.JSON writes, for a waiting and a held
// ticket, with characters encoding/json escapes, and with ?pretty.
func TestTicketJSONMatchesEchoJSON(t *testing.T) {
	t.Parallel()
	e := echo.New()
	counter := "<A&B>"
	at := time.Date(2026, 11, 30, 1, 2, 3, 456000, time.UTC)
	tickets := []queue.Ticket{
		{ID: "t1", InstitutionID: 7, Number: 12, Status: queue.TicketWaiting, NearTurnThreshold: 3,
			IssuedAt: at, UpdatedAt: at, Service: "A", Label: "A012", Counter: &counter, PeopleAhead: 4},
		{ID: "t2", InstitutionID: 7, Status: queue.TicketHeld, NearTurnThreshold: 3, IssuedAt: at, UpdatedAt: at, PeopleAhead: 9},
	}
	for _, target := range []string{"/api/v1/institutions/7/tickets", "/api/v1/institutions/7/tickets?pretty"} {
		for _, tk := range tickets {
			for _, status := range []int{http.StatusCreated, http.StatusOK} {
				want, got := httptest.NewRecorder(), httptest.NewRecorder()
				if err := e.NewContext(httptest.NewRequest(http.MethodPost, target, nil), want).JSON(status, tk); err != nil {
					t.Fatal(err)
				}
				if err := ticketJSON(e.NewContext(httptest.NewRequest(http.MethodPost, target, nil), got), status, tk); err != nil {
					t.Fatal(err)
				}
				if got.Code != want.Code || got.Body.String() != want.Body.String() ||
					got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
					t.Fatalf("%s %s: ticketJSON wrote %d %q %q, c.JSON %d %q %q", target, tk.Status,
						got.Code, got.Header().Get("Content-Type"), got.Body, want.Code, want.Header().Get("Content-Type"), want.Body)
				}
			}
		}
	}
}
