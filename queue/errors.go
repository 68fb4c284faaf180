package queue

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code of the public contract.
type Code string

// The error codes of the contract (../shared/API.md).
const (
	CodeInvalid           Code = "invalid_request"
	CodeNotFound          Code = "not_found"
	CodeUnauthorized      Code = "unauthorized"
	CodeForbidden         Code = "forbidden"
	CodeInstitutionClosed Code = "institution_closed"
	CodeDuplicateTicket   Code = "duplicate_ticket"
	CodeQueueFull         Code = "queue_full"
	CodeInvalidState      Code = "invalid_state"
	CodeRateLimited       Code = "rate_limited"
	CodeConflict          Code = "conflict"
	CodeUnavailable       Code = "unavailable"
	CodeTooLarge          Code = "too_large"
	CodeInternal          Code = "internal"
)

// Error is a domain error: a contract code and a sentence meant for people.
// A sentinel (an Error with an empty Message) matches, under errors.Is, every
// Error of its code, so callers write errors.Is(err, queue.ErrNotFound).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errorf returns an Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels, one per code that the domain produces.
var (
	ErrInvalid           = &Error{Code: CodeInvalid}
	ErrNotFound          = &Error{Code: CodeNotFound}
	ErrUnauthorized      = &Error{Code: CodeUnauthorized}
	ErrForbidden         = &Error{Code: CodeForbidden}
	ErrInstitutionClosed = &Error{Code: CodeInstitutionClosed}
	ErrDuplicateTicket   = &Error{Code: CodeDuplicateTicket}
	ErrQueueFull         = &Error{Code: CodeQueueFull}
	ErrInvalidState      = &Error{Code: CodeInvalidState}
	ErrConflict          = &Error{Code: CodeConflict}
	ErrUnavailable       = &Error{Code: CodeUnavailable}
)

// ErrOutcomeUnknown marks a change whose commit was sent but never
// confirmed (the connection broke, the deadline passed): it may have been
// saved. Errors that carry it are unavailable errors too.
var ErrOutcomeUnknown = errors.New("the commit was sent but not confirmed")

func isOutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// outcomeUnknown is a join's error when its outcome is unknown: a distinct
// message that says how to find out, safely.
func outcomeUnknown(cause error) error {
	if cause == nil {
		cause = ErrOutcomeUnknown
	}
	return &dbError{err: errJoinUnknown, cause: fmt.Errorf("%w: %w", ErrOutcomeUnknown, cause)}
}

// ErrorCode returns the code and message of err: the Error it wraps, or
// internal with a generic message (never a driver's text).
func ErrorCode(err error) (Code, string) {
	var e *Error
	if errors.As(err, &e) {
		msg := e.Message
		if msg == "" {
			msg = defaultMessages[e.Code]
		}
		return e.Code, msg
	}
	return CodeInternal, "Something went wrong on our side; please try again."
}

var defaultMessages = map[Code]string{
	CodeInvalid:           "The request is not valid.",
	CodeNotFound:          "Not found.",
	CodeUnauthorized:      "A valid bearer token is required.",
	CodeForbidden:         "This token may not do that.",
	CodeInstitutionClosed: "The institution is not taking tickets right now.",
	CodeDuplicateTicket:   "This phone already holds an active ticket here.",
	CodeQueueFull:         "The queue is full.",
	CodeInvalidState:      "The ticket is not in a state that allows this.",
	CodeRateLimited:       "Too many requests; slow down.",
	CodeConflict:          "The request conflicts with the current state.",
	CodeUnavailable:       "The service is temporarily unavailable; please retry.",
	CodeTooLarge:          "The request body is too large.",
	CodeInternal:          "Something went wrong on our side; please try again.",
}

// IsNotFound reports whether err is a not_found error.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
