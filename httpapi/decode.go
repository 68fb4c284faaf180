package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
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
//
// Every request that may change something (every POST, PUT and PATCH
// reads its body here) must say Content-Type: application/json, body or
// not: a browser sends a cross-site form or a text/plain fetch without a
// CORS preflight, so that any web page could otherwise make its visitors
// take numbers, cancel tickets or check in.
func readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	if !isJSON(r.Header.Get(echo.HeaderContentType)) {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, err: queue.Errorf(queue.CodeInvalid, "Content-Type must be application/json")}
	}
	// The request's context does not interrupt a read: the connection's
	// read deadline cuts off a client that sends its body a byte at a time.
	// It is cleared once the body is in, because net/http goes on reading
	// in the background, and a deadline firing then would cancel the
	// context of every later request on the connection; should it have
	// fired, the connection is closed after this answer.
	rc := http.NewResponseController(c.Response())
	if deadline, ok := r.Context().Deadline(); ok && rc.SetReadDeadline(deadline) == nil {
		defer func() {
			_ = rc.SetReadDeadline(time.Time{})
			if !time.Now().Before(deadline) {
				c.Response().Header().Set(echo.HeaderConnection, "close")
			}
		}()
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
	if !utf8.Valid(body) {
		return nil, invalid("the request body is not valid UTF-8")
	}
	return body, nil
}

// isJSON reports whether a Content-Type is application/json or a +json type.
func isJSON(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"))
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
	keys, err := checkShape(body)
	if err != nil {
		return err
	}
	if err := exactFields(v, keys); err != nil {
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
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// bodyKey holds a request's body once read, as a bufferedBody.
const bodyKey = "queueless.body"

type bufferedBody struct{ b []byte }

// requestBody is readBody, once per request: middleware and handler share
// what it read.
func requestBody(c echo.Context) ([]byte, error) {
	if b, ok := c.Get(bodyKey).(bufferedBody); ok {
		return b.b, nil
	}
	body, err := readBody(c)
	if err != nil {
		return nil, err
	}
	c.Set(bodyKey, bufferedBody{body})
	return body, nil
}

// bufferBody reads the body before the next handlers run.
func bufferBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := requestBody(c); err != nil {
			return err
		}
		return next(c)
	}
}

// checkShape rejects a body that is not an object, nests too deep, repeats
// a key (encoding/json would silently keep the last one) or holds a NUL
// character (PostgreSQL text cannot store one). It returns the keys of the
// top-level object.
func checkShape(body []byte) (keys []string, err error) {
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
			return nil, invalid("the request body is not valid JSON")
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return nil, invalid("the request body must be a JSON object")
			}
			first = false
		}
		if str, ok := tok.(string); ok && strings.IndexByte(str, 0) >= 0 {
			return nil, invalid("the request body must not contain NUL characters")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return nil, invalid("field %q appears more than once", key)
				}
				top.keys[key] = true
				if len(stack) == 1 {
					keys = append(keys, key)
				}
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
					return nil, invalid("the request body nests deeper than %d levels", maxJSONDepth)
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
	return keys, nil
}

// exactFields rejects a key that names a field of the struct v points to
// only when case is ignored, as encoding/json would take it: "PHONE" next
// to "phone" would otherwise slip past the check for repeated keys, and a
// body must mean the same to this server as to any proxy or log reader.
func exactFields(v any, keys []string) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	names := jsonNames(t.Elem())
	for _, k := range keys {
		if !names[k] {
			return invalid("unknown field %q", k)
		}
	}
	return nil
}

var jsonNamesCache sync.Map // reflect.Type -> map[string]bool

// jsonNames returns the JSON names of a struct's fields, as encoding/json
// finds them.
func jsonNames(t reflect.Type) map[string]bool {
	if m, ok := jsonNamesCache.Load(t); ok {
		return m.(map[string]bool)
	}
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && f.Tag.Get("json") == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n := range jsonNames(ft) {
					names[n] = true
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	jsonNamesCache.Store(t, names)
	return names
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
