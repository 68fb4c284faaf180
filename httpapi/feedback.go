package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/feedbackstore"
	"github.com/queueless/queueless/queue"
)

// FeedbackService is what the feedback endpoints need (package
// feedbackstore).
type FeedbackService interface {
	Give(ctx context.Context, ticketID string, b feedback.Body) (feedbackstore.Feedback, error)
	Get(ctx context.Context, ticketID string) (feedbackstore.Feedback, error)
}

// POST /api/v1/tickets/{id}/feedback (API.md v1.1, "Feedback"): the ticket
// id is the citizen's capability. 201 with the stored feedback; 400 for a
// bad body; 409 invalid_state when not served, already given or too late.
func (s *Server) giveFeedback(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if s.cfg.Feedback == nil {
		return queue.Errorf(queue.CodeNotFound, "feedback is not configured on this server")
	}
	raw, err := requestBody(c)
	if err != nil {
		return err
	}
	b, err := feedback.Decode(raw)
	if err != nil {
		var ve *feedback.ValidationError
		if errors.As(err, &ve) {
			return invalid("%s", ve.Message)
		}
		return invalid("the feedback body is not valid")
	}
	fb, err := s.cfg.Feedback.Give(c.Request().Context(), id, b)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, fb)
}

// GET /api/v1/tickets/{id}/feedback (an extension): the feedback given,
// 404 when none was; the phone page asks it before offering the form.
func (s *Server) getFeedback(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if s.cfg.Feedback == nil {
		return queue.Errorf(queue.CodeNotFound, "feedback is not configured on this server")
	}
	if _, err := s.q.Ticket(c.Request().Context(), id); err != nil {
		return err
	}
	fb, err := s.cfg.Feedback.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fb)
}
