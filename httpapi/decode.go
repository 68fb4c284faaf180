package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

// maxJSONDepth bounds nesting; no request of the contract nests past 3.
const maxJSONDepth = 16

// readBody returns the request body, checked for size, content type and
// UTF-8. An empty body is returned as nil.
func readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, invalid("the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return nil, &httpError{status: http.StatusUnsupportedMediaType, err: queue.Errorf(queue.CodeInvalid, "Content-Type must be application/json")}
		}
	} else {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, err: queue.Errorf(queue.CodeInvalid, "Content-Type must be application/json")}
	}
	if !utf8.Valid(body) {
		return nil, invalid("the request body is not valid UTF-8")
	}
	return body, nil
}

func tooLarge() error {
	return queue.Errorf(queue.CodeTooLarge, "the request body is over %d KiB", MaxBodyBytes>>10)
}

// decodeJSON decodes body strictly into v: one JSON object, no unknown or
// repeated fields, no trailing data, bounded depth. A nil body leaves v as is.
func decodeJSON(body []byte, v any) error {
	if body == nil {
		return nil
	}
	if err := checkShape(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("the request body must hold a single JSON object")
	}
	return nil
}

// decodeBody reads and decodes the request body into v.
func decodeBody(c echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// checkShape rejects a body that is not an object, nests too deep or repeats
// a key (encoding/json would silently keep the last one).
func checkShape(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // in an object: the next string token is a key
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return invalid("the request body is not valid JSON")
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return invalid("the request body must be a JSON object")
			}
			first = false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return invalid("field %q appears more than once", key)
				}
				top.keys[key] = true
				top.expect = false
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.expect = true
				}
				if len(stack) >= maxJSONDepth {
					return invalid("the request body nests deeper than %d levels", maxJSONDepth)
				}
				stack = append(stack, &frame{object: d == '{', keys: map[string]bool{}, expect: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		default:
			if top != nil && top.object {
				top.expect = true
			}
		}
	}
	return nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return invalid("field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return invalid("a field of the request body has a value of the wrong type")
	case errors.As(err, &se):
		return invalid("the request body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("the request body is not valid JSON")
	}
	var qe *queue.Error
	if errors.As(err, &qe) {
		return qe
	}
	return invalid("the request body is not valid: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer in range"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "slice":
		return "an array"
	}
	return "of another type"
}

// maxID is the largest id the API accepts (PostgreSQL bigint).
const maxID = 1<<63 - 1

// pathID parses a positive integer path parameter.
func pathID(c echo.Context, name string) (int64, error) {
	return parsePositive(c.Param(name), name)
}

func parsePositive(s, name string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '+' || s[0] == '-' {
		return 0, invalid("%s must be a positive integer", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > maxID {
		return 0, invalid("%s must be a positive integer", name)
	}
	return n, nil
}

// pathTicketID parses the ticket id path parameter.
func pathTicketID(c echo.Context) (string, error) { return queue.ParseTicketID(c.Param("ticket_id")) }

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(c echo.Context, name string, def, lo, hi int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, invalid("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// optional is a JSON field that may be absent, null or a value.
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

func requireValue[T any](o optional[T], name string) (*T, error) {
	if !o.Set {
		return nil, nil
	}
	if o.Value == nil {
		return nil, invalid("%s must not be null", name)
	}
	return o.Value, nil
}
