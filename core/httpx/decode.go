package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes bounds a request body that DecodeJSON reads when no
// limit was set by the server's body-limit middleware (handlers under test,
// tools that mount a module on a bare mux).
const DefaultMaxBodyBytes int64 = 4 << 20

// ErrTooLarge reports a request body over the size limit; handlers answer
// 413. Test with errors.Is: the returned error wraps it with the limit.
var ErrTooLarge = errors.New("request body too large")

// ErrEmptyBody is wrapped by the BadRequestError DecodeJSON returns for an
// empty body, so a handler whose body is optional can tell it apart:
// errors.Is(err, httpx.ErrEmptyBody).
var ErrEmptyBody = errors.New("request body is empty")

// BadRequestError is a request body that is not acceptable JSON for the
// target: malformed, of the wrong type, with an unknown field or trailing
// data. Handlers answer 400 with Error(); the message names the field when
// there is one, because that is what the user has to fix.
type BadRequestError struct {
	// Field is the dotted path of the offending field ("config.max_topics"),
	// empty when the problem is not tied to a field.
	Field string
	// Msg is the human-readable reason, already including Field.
	Msg string
	// Err is the underlying decoder error, if any.
	Err error
}

func (e *BadRequestError) Error() string { return e.Msg }

func (e *BadRequestError) Unwrap() error { return e.Err }

// DecodeJSON decodes r's body into dst strictly: unknown fields are
// rejected, the body must hold exactly one JSON value, and it may not
// exceed the body limit. It returns a *BadRequestError (400), an error
// wrapping ErrTooLarge (413), or, for a dst that cannot be decoded into at
// all, the decoder's error unchanged (a programming error: 500).
//
// When the server's middleware has already limited the body (see
// WithBodyLimit) that limit applies; otherwise DecodeJSON applies
// DefaultMaxBodyBytes itself, using w so that net/http closes the
// connection after an oversized body.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	_, limited := BodyLimit(r.Context())
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	if !limited {
		body = http.MaxBytesReader(w, body, DefaultMaxBodyBytes)
		r.Body = body
	}
	return decodeJSON(body, dst)
}

// decodeJSON does DecodeJSON's work on any reader, so the fuzzer can drive
// it without an HTTP round trip.
func decodeJSON(body io.Reader, dst any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return classify(err)
	}
	// Exactly one value: anything but whitespace after it is an error.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return &BadRequestError{Msg: "request body must hold a single JSON value; found data after it"}
	default:
		if tooLarge(err) != nil {
			return tooLarge(err)
		}
		return &BadRequestError{Msg: "request body must hold a single JSON value; found data after it", Err: err}
	}
}

// classify turns a decoder error into one of DecodeJSON's typed errors.
func classify(err error) error {
	if tl := tooLarge(err); tl != nil {
		return tl
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		invalid   *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &BadRequestError{Msg: ErrEmptyBody.Error(), Err: ErrEmptyBody}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &BadRequestError{Msg: "malformed JSON: unexpected end of body", Err: err}
	case errors.As(err, &syntaxErr):
		return &BadRequestError{
			Msg: fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: ")),
			Err: err,
		}
	case errors.As(err, &typeErr):
		want := jsonKind(typeErr.Type.Kind().String())
		if typeErr.Field == "" {
			return &BadRequestError{
				Msg: fmt.Sprintf("request body must be a JSON %s, got %s", want, typeErr.Value),
				Err: err,
			}
		}
		return &BadRequestError{
			Field: typeErr.Field,
			Msg:   fmt.Sprintf("field %q must be %s, got %s", typeErr.Field, withArticle(want), typeErr.Value),
			Err:   err,
		}
	case errors.As(err, &invalid):
		return err
	}
	// DisallowUnknownFields reports with an untyped error; its text is the
	// only way to recognise it. The name in it is Go-quoted (%q): unquote
	// it, or a name with a quote, backslash or control character would be
	// reported escaped, and escaped again in Msg.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, uerr := strconv.Unquote(name)
		if uerr != nil {
			field = strings.Trim(name, `"`)
		}
		return &BadRequestError{Field: field, Msg: fmt.Sprintf("unknown field %q", field), Err: err}
	}
	return &BadRequestError{Msg: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
}

// tooLarge returns an error wrapping ErrTooLarge if err came from
// http.MaxBytesReader, else nil.
func tooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: limit is %d bytes", ErrTooLarge, mbe.Limit)
	}
	return nil
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64",
		"uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return goKind
}

// withArticle prefixes a/an for the message "must be an integer".
func withArticle(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}
