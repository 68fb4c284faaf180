package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testapp"
)

// served joins a ticket and has staff call it (out of order), check it
// in and serve it.
func served(t *testing.T, s *testapp.Server, id int64, staff string) string {
	t.Helper()
	r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}})
	tid, _ := r.Map(t)["id"].(string)
	if r.Status != http.StatusCreated {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	}
	if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid + "/call", Token: staff, Body: map[string]any{"reason": "feedback test"}}); r.Status != http.StatusOK {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}
	s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid + "/check-in"})
	s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff})
	if st := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tid}).Map(t)["status"]; st != "served" {
		t.Fatalf("ticket is %v, not served", st)
	}
	return tid
}

// TestHTTPFeedback: feedback only after served, once, within 24 h, with a
// strict body; two posts at once give one 201; both modes.
func TestHTTPFeedback(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			clock := &testClock{}
			s := testapp.Start(t, mode, alertOpts(clock)...)
			id := s.CreateInstitution(nil)
			staff := s.StaffToken(id)
			post := func(tid string, body any) testapp.Response {
				return s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid + "/feedback", Body: body})
			}
			good := map[string]any{"rating": 4, "answers": map[string]any{"SQD0": 5, "SQD3": nil, "SQD8": 2}, "comment": "Quick, thank you"}

			waiting := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}}).Map(t)["id"].(string)
			wantError(t, post(waiting, good), http.StatusConflict, "invalid_state")
			wantError(t, post("0e78ab8f-1111-4222-8333-444455556666", good), http.StatusNotFound, "not_found")
			r := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + waiting + "/feedback"})
			wantError(t, r, http.StatusNotFound, "not_found")

			tid := served(t, s, id, staff)
			for _, bad := range []any{
				map[string]any{},
				map[string]any{"rating": 6},
				map[string]any{"rating": 3, "answers": map[string]any{"SQD9": 1}},
				map[string]any{"rating": 3, "answers": map[string]any{"SQD1": 0}},
				map[string]any{"rating": 3, "comment": string(make([]byte, 501))},
				map[string]any{"rating": 3, "extra": 1},
				`{"rating": 3, "rating": 4}`,
				`[1]`,
			} {
				wantError(t, post(tid, bad), http.StatusBadRequest, "invalid_request")
			}
			r = post(tid, good)
			if r.Status != http.StatusCreated {
				t.Fatalf("feedback: %d %s", r.Status, r.Body)
			}
			var fb struct {
				TicketID      string `json:"ticket_id"`
				InstitutionID int64  `json:"institution_id"`
				Rating        int
				Answers       map[string]*int
				Comment       string
				CreatedAt     time.Time `json:"created_at"`
			}
			r.JSON(t, &fb)
			if fb.TicketID != tid || fb.InstitutionID != id || fb.Rating != 4 || fb.Comment != "Quick, thank you" ||
				fb.Answers["SQD0"] == nil || *fb.Answers["SQD0"] != 5 || fb.Answers["SQD3"] != nil || *fb.Answers["SQD8"] != 2 || len(fb.Answers) != 9 {
				t.Fatalf("stored feedback = %s", r.Body)
			}
			if g := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tid + "/feedback"}); g.Status != http.StatusOK || g.Map(t)["rating"] != 4.0 {
				t.Fatalf("GET feedback: %d %s", g.Status, g.Body)
			}
			wantError(t, post(tid, good), http.StatusConflict, "invalid_state")

			// Two (eight) posts at once: exactly one 201.
			tid2 := served(t, s, id, staff)
			var wg sync.WaitGroup
			codes := make(chan int, 8)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := s.Try(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid2 + "/feedback", Body: map[string]any{"rating": 5}})
					if err != nil {
						t.Error(err)
						return
					}
					codes <- r.Status
				}()
			}
			wg.Wait()
			close(codes)
			count := map[int]int{}
			for c := range codes {
				count[c]++
			}
			if count[http.StatusCreated] != 1 || count[http.StatusConflict] != 7 {
				t.Fatalf("concurrent feedback: %v, want one 201 and seven 409", count)
			}

			// 24 hours after being served, and not a moment later.
			tid3 := served(t, s, id, staff)
			tid4 := served(t, s, id, staff)
			clock.Set(24*time.Hour - time.Minute)
			if r := post(tid3, good); r.Status != http.StatusCreated {
				t.Fatalf("feedback a minute before 24 h: %d %s", r.Status, r.Body)
			}
			clock.Set(24*time.Hour + time.Minute)
			wantError(t, post(tid4, good), http.StatusConflict, "invalid_state")
		})
	}
}
