package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[queue.Code]int{
	queue.CodeInvalid:           http.StatusBadRequest,
	queue.CodeNotFound:          http.StatusNotFound,
	queue.CodeUnauthorized:      http.StatusUnauthorized,
	queue.CodeForbidden:         http.StatusForbidden,
	queue.CodeInstitutionClosed: http.StatusConflict,
	queue.CodeDuplicateTicket:   http.StatusConflict,
	queue.CodeQueueFull:         http.StatusConflict,
	queue.CodeInvalidState:      http.StatusConflict,
	queue.CodeConflict:          http.StatusConflict,
	queue.CodeRateLimited:       http.StatusTooManyRequests,
	queue.CodeUnavailable:       http.StatusServiceUnavailable,
	queue.CodeTooLarge:          http.StatusRequestEntityTooLarge,
	queue.CodeInternal:          http.StatusInternalServerError,
}

// ErrorBody is the contract's error body.
type ErrorBody struct {
	Code      queue.Code `json:"code"`
	Message   string     `json:"message"`
	RequestID string     `json:"request_id"`
}

// httpError carries a status that the code table does not decide (405, 415).
type httpError struct {
	status int
	err    *queue.Error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// errorHandler writes every error as the contract's body.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := s.classify(err)
	ctx := c.Request().Context()
	if status >= 500 {
		// A 503 is overload or a dependency away: expected, and frequent in
		// a flash crowd, so a warning; anything else is a bug.
		s.log.Log(ctx, logLevel(status), "request failed", "status", status, "error", err.Error(),
			"method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfterSeconds))
	}
	body := ErrorBody{Code: code, Message: msg, RequestID: requestID(c)}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := c.JSON(status, body); werr != nil {
		s.log.DebugContext(ctx, "write error body", "error", werr)
	}
}

func (s *Server) classify(err error) (int, queue.Code, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.err.Code, he.err.Message
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		switch ee.Code {
		case http.StatusNotFound:
			return ee.Code, queue.CodeNotFound, "No such route."
		case http.StatusMethodNotAllowed:
			return ee.Code, queue.CodeInvalid, "Method not allowed on this route."
		case http.StatusRequestEntityTooLarge:
			return ee.Code, queue.CodeTooLarge, "The request body is over 64 KiB."
		case http.StatusUnauthorized:
			return ee.Code, queue.CodeUnauthorized, "A valid bearer token is required."
		case http.StatusTooManyRequests:
			return ee.Code, queue.CodeRateLimited, "Too many requests; slow down."
		case http.StatusServiceUnavailable:
			return ee.Code, queue.CodeUnavailable, "The service is temporarily unavailable; please retry."
		}
		if ee.Code >= 400 && ee.Code < 500 {
			return ee.Code, queue.CodeInvalid, http.StatusText(ee.Code)
		}
		return http.StatusInternalServerError, queue.CodeInternal, "Something went wrong on our side; please try again."
	}
	code, msg := queue.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status, code, msg
}

func invalid(format string, args ...any) error {
	return queue.Errorf(queue.CodeInvalid, format, args...)
}

func logLevel(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// requestLogLevel is the level of a request's log line: debug when it
// succeeded, else as logLevel.
func requestLogLevel(status int) slog.Level {
	if status < 400 {
		return slog.LevelDebug
	}
	return logLevel(status)
}
