package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
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

// decodeOptions are DecodeJSON's rules beyond JSON's own: no member the
// target lacks, and names matched as encoding/json has always matched
// them, regardless of case but with every other character as written
// ("Max_Topics" is max_topics, "max-topics" is not). The decoder also
// refuses what encoding/json let through silently: a name given twice
// and invalid UTF-8.
var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
)

// decoders holds streaming decoders between requests; a decoder keeps
// its buffer, so one that read a large body is left to the collector.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(noInput{}) }}

// pooledInputLimit is the largest body whose decoder goes back to the pool.
const pooledInputLimit = 64 << 10

// noInput is the reader an idle decoder holds, so that it keeps no
// request body alive.
type noInput struct{}

func (noInput) Read([]byte) (int, error) { return 0, io.EOF }

// decodeJSON does DecodeJSON's work on any reader, so the fuzzer can drive
// it without an HTTP round trip. It decodes in one pass over the body with
// a pooled decoder, and JSON v2 caches how to fill each target type: this
// sits on the path of every write request.
func decodeJSON(body io.Reader, dst any) error {
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(body)
	err := decodeOne(dec, dst)
	if dec.InputOffset() <= pooledInputLimit {
		dec.Reset(noInput{})
		decoders.Put(dec)
	}
	return err
}

// decodeOne reads exactly one JSON value from dec into dst.
func decodeOne(dec *jsontext.Decoder, dst any) error {
	if dec.PeekKind() == 0 {
		// Nothing but whitespace before the end is an empty body;
		// anything else is the first byte's syntax or read error.
		if _, err := dec.ReadToken(); err != nil && err != io.EOF {
			return classify(err)
		}
		return &BadRequestError{Msg: ErrEmptyBody.Error(), Err: ErrEmptyBody}
	}
	if err := json.UnmarshalDecode(dec, dst, decodeOptions); err != nil {
		return classify(err)
	}
	// Exactly one value: anything but whitespace after it is an error.
	if dec.PeekKind() == 0 {
		_, err := dec.ReadToken()
		if err == io.EOF {
			return nil
		}
		if tl := tooLarge(err); tl != nil {
			return tl
		}
		return &BadRequestError{Msg: trailingData, Err: err}
	}
	return &BadRequestError{Msg: trailingData}
}

const trailingData = "request body must hold a single JSON value; found data after it"

// classify turns a decoder error into one of DecodeJSON's typed errors.
func classify(err error) error {
	if tl := tooLarge(err); tl != nil {
		return tl
	}
	var (
		syntaxErr *jsontext.SyntacticError
		semErr    *json.SemanticError
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &BadRequestError{Msg: "malformed JSON: unexpected end of body", Err: err}
	case errors.As(err, &syntaxErr):
		// ByteOffset counts from 0; people count bytes from 1.
		msg := fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.ByteOffset+1, syntaxErr.Err)
		if field := fieldPath(syntaxErr.JSONPointer); field != "" {
			msg += fmt.Sprintf(" (field %q)", field)
		}
		return &BadRequestError{Msg: msg, Err: err}
	case errors.As(err, &semErr) && semErr.GoType != nil && semErr.JSONKind != 0:
		return semanticError(semErr)
	}
	// No JSON value to blame: a target that cannot be decoded into at
	// all (not a non-nil pointer), the caller's mistake, not the client's.
	return err
}

// semanticError words valid JSON that does not fit the target: a member it
// lacks, or a value of the wrong kind or range.
func semanticError(e *json.SemanticError) error {
	if errors.Is(e.Err, json.ErrUnknownName) {
		field := e.JSONPointer.LastToken()
		msg := fmt.Sprintf("unknown field %q", field)
		if parent := fieldPath(e.JSONPointer.Parent()); parent != "" {
			msg += fmt.Sprintf(" in %q", parent)
		}
		return &BadRequestError{Field: field, Msg: msg, Err: e}
	}
	want := jsonKind(e.GoType.Kind().String())
	got := kindName(e.JSONKind)
	if e.JSONKind == '0' && len(e.JSONValue) > 0 {
		got += " " + string(e.JSONValue)
	}
	field := fieldPath(e.JSONPointer)
	if field == "" {
		return &BadRequestError{Msg: fmt.Sprintf("request body must be a JSON %s, got %s", want, got), Err: e}
	}
	return &BadRequestError{
		Field: field,
		Msg:   fmt.Sprintf("field %q must be %s, got %s", field, withArticle(want), got),
		Err:   e,
	}
}

// fieldPath writes a JSON pointer the way the message's reader thinks of
// it: "/config/max_topics" is config.max_topics and "/tags/0" is tags[0].
// A map key made of digits reads as an index too; the message is for a
// person, and the pointer stays in the wrapped error.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case isIndex(tok):
			b.WriteString("[" + tok + "]")
		case b.Len() > 0:
			b.WriteString("." + tok)
		default:
			b.WriteString(tok)
		}
	}
	return b.String()
}

func isIndex(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// kindName names a JSON kind as the messages do.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
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
