package feedback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a feedback body (../shared/API.md, v1.1 "Feedback").
const (
	MinScore         = 1
	MaxScore         = 5
	MaxCommentLength = 500 // characters, not bytes
)

// Questions are the keys of Answers: the Service Quality Dimensions SQD0
// to SQD8 of the Client Satisfaction Measurement form (docs/FEEDBACK.md).
var Questions = []string{"SQD0", "SQD1", "SQD2", "SQD3", "SQD4", "SQD5", "SQD6", "SQD7", "SQD8"}

// Answers are the SQD answers, each 1 (strongly disagree) to 5 (strongly
// agree), or nil: not applicable, or not answered. A struct, not a map, so
// that a strict decoder rejects any other key.
type Answers struct {
	SQD0 *int `json:"SQD0"`
	SQD1 *int `json:"SQD1"`
	SQD2 *int `json:"SQD2"`
	SQD3 *int `json:"SQD3"`
	SQD4 *int `json:"SQD4"`
	SQD5 *int `json:"SQD5"`
	SQD6 *int `json:"SQD6"`
	SQD7 *int `json:"SQD7"`
	SQD8 *int `json:"SQD8"`
}

// List returns the answers in Questions order.
func (a Answers) List() [9]*int {
	return [9]*int{a.SQD0, a.SQD1, a.SQD2, a.SQD3, a.SQD4, a.SQD5, a.SQD6, a.SQD7, a.SQD8}
}

// Body is the request body of POST /api/v1/tickets/{id}/feedback.
type Body struct {
	// Rating is the overall rating, 1..5; required.
	Rating *int `json:"rating"`
	// Answers may be left out, as may any of its questions.
	Answers *Answers `json:"answers"`
	// Comment is 0..500 characters.
	Comment string `json:"comment"`
}

// ValidationError is a body that breaks a rule; Field names the JSON field
// ("rating", "answers.SQD3", "comment", or "" for the body as a whole) and
// Message is a sentence naming it.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Decode reads a feedback body strictly: one JSON object, no field but
// rating, answers and comment, no key in answers but SQD0 to SQD8, each
// spelt exactly (encoding/json alone would take "RATING" or "sqd1"), no
// key twice, nothing after the object; then Validate.
func Decode(data []byte) (Body, error) {
	if err := checkKeys(data); err != nil {
		return Body{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Body
	if err := dec.Decode(&b); err != nil {
		return Body{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Body{}, invalid("", "the feedback body must be one JSON object with nothing after it")
	}
	if err := b.Validate(); err != nil {
		return Body{}, err
	}
	return b, nil
}

var topKeys = map[string]bool{"rating": true, "answers": true, "comment": true}

// checkKeys walks the tokens of data and checks its keys; values are left
// to the typed decode, except that a nested object or array where a
// number or string belongs is refused here.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	notJSON := invalid("", "the feedback body is not valid JSON")
	if tok, err := dec.Token(); err != nil {
		return notJSON
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return invalid("", "the feedback body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notJSON
		}
		key, _ := tok.(string)
		if !topKeys[key] {
			return invalid("", "the feedback body has an unknown field %q; allowed: rating, answers, comment", key)
		}
		if seen[key] {
			return invalid(key, "field %q appears more than once", key)
		}
		seen[key] = true
		val, err := dec.Token()
		if err != nil {
			return notJSON
		}
		d, isDelim := val.(json.Delim)
		switch {
		case key == "answers" && isDelim && d == '{':
			if err := checkAnswers(dec); err != nil {
				return err
			}
		case key == "answers" && isDelim:
			return invalid("answers", "answers must be an object with keys SQD0 to SQD8")
		case key == "comment" && isDelim:
			return invalid("comment", "comment must be a string of at most %d characters", MaxCommentLength)
		case isDelim:
			return invalid(key, "%s must be a whole number from %d to %d", key, MinScore, MaxScore)
		}
	}
	return nil
}

func checkAnswers(dec *json.Decoder) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid("", "the feedback body is not valid JSON")
		}
		key, _ := tok.(string)
		if !slices.Contains(Questions, key) {
			return invalid("answers", "answers has an unknown question %q; allowed: SQD0 to SQD8", key)
		}
		field := "answers." + key
		if seen[key] {
			return invalid(field, "%s appears more than once", field)
		}
		seen[key] = true
		val, err := dec.Token()
		if err != nil {
			return invalid("", "the feedback body is not valid JSON")
		}
		if _, isDelim := val.(json.Delim); isDelim {
			return invalid(field, "%s must be a whole number from %d to %d, or null", field, MinScore, MaxScore)
		}
	}
	_, err := dec.Token() // the closing brace
	if err != nil {
		return invalid("", "the feedback body is not valid JSON")
	}
	return nil
}

// decodeError turns encoding/json's errors into sentences that name the
// field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "comment":
		return invalid("comment", "comment must be a string of at most %d characters", MaxCommentLength)
	case errors.As(err, &te) && te.Field == "answers":
		return invalid("answers", "answers must be an object with keys SQD0 to SQD8")
	case errors.As(err, &te) && te.Field != "":
		return invalid(te.Field, "%s must be a whole number from %d to %d", te.Field, MinScore, MaxScore)
	case errors.As(err, &te):
		return invalid("", "the feedback body must be a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("", "the feedback body is not valid JSON")
	}
	// DisallowUnknownFields: `json: unknown field "x"`.
	return invalid("", "the feedback body has a field it may not have (%s); allowed: rating, answers (SQD0 to SQD8), comment",
		strings.TrimPrefix(err.Error(), "json: "))
}

// Validate checks the ranges: rating present and 1..5, each answer 1..5 or
// null, comment at most 500 characters.
func (b Body) Validate() error {
	if b.Rating == nil {
		return invalid("rating", "rating is required: a whole number from %d to %d", MinScore, MaxScore)
	}
	if r := *b.Rating; r < MinScore || r > MaxScore {
		return invalid("rating", "rating must be from %d to %d, not %d", MinScore, MaxScore, r)
	}
	if b.Answers != nil {
		for i, v := range b.Answers.List() {
			if v != nil && (*v < MinScore || *v > MaxScore) {
				f := "answers." + Questions[i]
				return invalid(f, "%s must be from %d to %d, or null when it does not apply, not %d", f, MinScore, MaxScore, *v)
			}
		}
	}
	if n := utf8.RuneCountInString(b.Comment); n > MaxCommentLength {
		return invalid("comment", "comment must be at most %d characters, not %d", MaxCommentLength, n)
	}
	if strings.ContainsRune(b.Comment, 0) {
		// PostgreSQL text cannot hold a NUL.
		return invalid("comment", "comment must not contain NUL characters")
	}
	return nil
}

// Feedback is feedback as stored and returned (201).
type Feedback struct {
	TicketID      string    `json:"ticket_id"`
	InstitutionID int64     `json:"institution_id"`
	Rating        int       `json:"rating"`
	Answers       Answers   `json:"answers"`
	Comment       string    `json:"comment"`
	CreatedAt     time.Time `json:"created_at"`
}

// New returns the Feedback that b, valid, makes for a ticket at now.
func New(ticketID string, institutionID int64, b Body, now time.Time) Feedback {
	f := Feedback{TicketID: ticketID, InstitutionID: institutionID, Rating: *b.Rating, Comment: b.Comment, CreatedAt: now.UTC()}
	if b.Answers != nil {
		f.Answers = *b.Answers
	}
	return f
}
