package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// decodeHandler is the way handlers use DecodeJSON: 400 for a bad body,
// 413 for a large one, 500 only for a decode target that is a programming
// error, 200 with the value re-encoded otherwise.
func decodeHandler(limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limit > 0 {
			r = r.WithContext(WithBodyLimit(r.Context(), limit))
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		var v target
		err := DecodeJSON(w, r, &v)
		var bre *BadRequestError
		switch {
		case err == nil:
			JSON(w, http.StatusOK, v)
		case errors.Is(err, ErrTooLarge):
			Error(w, r, http.StatusRequestEntityTooLarge, err.Error())
		case errors.As(err, &bre):
			Error(w, r, http.StatusBadRequest, bre.Error())
		default:
			Error(w, r, http.StatusInternalServerError, err.Error())
		}
	})
}

// FuzzDecodeJSONRoundTrip checks DecodeJSON through an HTTP handler: any
// body is a 200, 400 or 413, never a 5xx; a 200 only for a body that is
// one valid JSON value within the limit, whose re-encoding decodes
// strictly to the same value (decode → encode → decode is stable); an
// empty-body error only for a body of whitespace; a 400 for a body over
// the limit only when the mistake lies within the limit; and a field named
// in an error is one the target has.
func FuzzDecodeJSONRoundTrip(f *testing.F) {
	for _, seed := range []string{
		``, ` `, "\t\r\n", `{}`, `null`, `true`, `0`, `""`, `[]`,
		`{"name":"a","count":2,"tags":["x","y"],"config":{"max_topics":3,"on":true}}`,
		`{"name":null,"tags":null,"config":null}`,
		`{"count":9223372036854775807}`, `{"count":9223372036854775808}`, `{"count":-9223372036854775809}`,
		`{"count":1e2}`, `{"count":1.0}`, `{"count":-0}`, `{"config":{"max_topics":18446744073709551615}}`,
		`{"config":{"max_topics":18446744073709551616}}`, `{"count":"1"}`, `{"on":1}`, `{"config":{"on":"true"}}`,
		`{"name":"\u00e9\u4e16\ud83d\ude00"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"name":"a\u0000b"}`,
		`{"NAME":"case-insensitive"}`, `{"name":"a","name":"b"}`, `{"tags":[[1]]}`, `{"config":[{}]}`,
		`{"x":{"y":[{"z":[null,{"w":{}}]}]}}`, `{"name":"a"}{"name":"b"}`, `{"name":"a"} // c`, `{"name":"a"}` + "\x00",
		`{"name":"a",}`, `{'name':'a'}`, `{"name":"a"`, `[`, `"\u00"`, "\xef\xbb\xbf{}", strings.Repeat("[", 300),
		`{"name":"` + strings.Repeat("y", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	const limit = 256
	h := decodeHandler(limit)
	f.Fuzz(func(t *testing.T, data []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/tenant/create", bytes.NewReader(data)))
		switch w.Code {
		case http.StatusOK:
			if !json.Valid(data) || len(data) > limit {
				t.Fatalf("accepted %q", data)
			}
			var v target
			if err := decodeJSON(bytes.NewReader(data), &v); err != nil {
				t.Fatalf("decodes through HTTP but not directly: %v", err)
			}
			// The answer is the value re-encoded: it must decode
			// strictly to the same value.
			var again target
			if err := decodeJSON(bytes.NewReader(w.Body.Bytes()), &again); err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", w.Body, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("round trip changed %+v into %+v", v, again)
			}
		case http.StatusBadRequest:
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("400 without a message: %s", w.Body)
			}
			if len(data) > limit {
				// Only when the mistake lies within the limit: the
				// decoder stops at the first bad byte.
				err := decodeJSON(bytes.NewReader(data[:limit]), new(target))
				if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrEmptyBody) {
					t.Fatalf("400 rather than 413 for %d bytes whose first %d are fine (%v)", len(data), limit, err)
				}
			}
			var bre *BadRequestError
			err := decodeJSON(bytes.NewReader(data), new(target))
			if !errors.As(err, &bre) {
				t.Fatalf("400 over %v", err)
			}
			if empty := len(bytes.Trim(data, " \t\r\n")) == 0; errors.Is(err, ErrEmptyBody) != empty {
				t.Fatalf("empty-body error %v for %q", errors.Is(err, ErrEmptyBody), data)
			}
			if bre.Field != "" {
				if !strings.Contains(bre.Msg, strconv.Quote(bre.Field)) {
					t.Fatalf("message %q does not name field %q", bre.Msg, bre.Field)
				}
				unknown := strings.HasPrefix(bre.Msg, "unknown field")
				if !unknown && !knownField(bre.Field) {
					t.Fatalf("error names %q, which the target does not have: %s", bre.Field, bre.Msg)
				}
				if unknown && !hasKey(data, bre.Field) {
					t.Fatalf("unknown field %q is not a key of %q", bre.Field, data)
				}
			}
		case http.StatusRequestEntityTooLarge:
			if len(data) <= limit {
				t.Fatalf("413 for %d bytes, limit %d", len(data), limit)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, data, w.Body)
		}
	})
}

// knownField reports whether a dotted path names a field of target, in
// any case (names match fields regardless of case); an index into an
// array ("tags[1]") names the array.
func knownField(path string) bool {
	if i := strings.IndexByte(path, '['); i > 0 && strings.HasSuffix(path, "]") {
		path = path[:i]
	}
	for _, f := range []string{"name", "count", "tags", "config", "config.max_topics", "config.on"} {
		if strings.EqualFold(path, f) {
			return true
		}
	}
	return false
}

// hasKey reports whether key is an object member name in data, up to the
// first syntax error: the decoder reads a body as a stream and reports an
// unknown name as soon as it reads it, before the rest of the body.
func hasKey(data []byte, key string) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		// A string just read is a name when it leaves its object with
		// an odd count of names and values.
		kind, n := dec.StackIndex(dec.StackDepth())
		if tok.Kind() == '"' && kind == '{' && n%2 == 1 && tok.String() == key {
			return true
		}
	}
}

// TestDecodeJSONUnknownFieldName: the field of an unknown-field error is
// the name as the client sent it, not Go's quoted form of it (found by
// FuzzDecodeJSONRoundTrip: "0\x7f" for the key "0\u007f").
func TestDecodeJSONUnknownFieldName(t *testing.T) {
	for body, field := range map[string]string{
		`{"0\u007f":""}`: "0\x7f",
		`{"a\"b":1}`:     `a"b`,
		`{"a\\b":1}`:     `a\b`,
		`{"\u4e16":1}`:   "\u4e16",
		`{"x":1}`:        "x",
	} {
		var bre *BadRequestError
		err := decodeJSON(strings.NewReader(body), new(target))
		if !errors.As(err, &bre) || bre.Field != field {
			t.Errorf("%s: err %v, want unknown field %q", body, err, field)
			continue
		}
		if want := "unknown field " + strconv.Quote(field); bre.Msg != want {
			t.Errorf("%s: message %q, want %q", body, bre.Msg, want)
		}
	}
}
