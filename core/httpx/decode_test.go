package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type target struct {
	Name   string   `json:"name"`
	Count  int      `json:"count"`
	Tags   []string `json:"tags"`
	Config struct {
		MaxTopics uint64 `json:"max_topics"`
		On        bool   `json:"on"`
	} `json:"config"`
}

// request builds a POST whose body is limited as the server's middleware
// limits it.
func request(body io.Reader, limit int64) (*httptest.ResponseRecorder, *http.Request) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/api/tenant/create", body)
	if limit > 0 {
		r = r.WithContext(WithBodyLimit(r.Context(), limit))
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return w, r
}

func TestDecodeJSONOK(t *testing.T) {
	w, r := request(strings.NewReader(` {"name":"a","count":2,"tags":["x"],"config":{"max_topics":3,"on":true}} `+"\n"), 0)
	var v target
	if err := DecodeJSON(w, r, &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "a" || v.Count != 2 || v.Config.MaxTopics != 3 || !v.Config.On {
		t.Fatalf("decoded %+v", v)
	}
}

// TestDecodeJSONCaseInsensitive: names match fields regardless of case,
// as encoding/json matched them, so clients written against it still work.
func TestDecodeJSONCaseInsensitive(t *testing.T) {
	w, r := request(strings.NewReader(`{"Name":"a","COUNT":2,"config":{"Max_Topics":3}}`), 0)
	var v target
	if err := DecodeJSON(w, r, &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "a" || v.Count != 2 || v.Config.MaxTopics != 3 {
		t.Fatalf("decoded %+v", v)
	}
}

// TestDecodeJSONReusesNothing: a decoder goes back to a pool between
// requests; a body it read before must not leak into the next one, and
// a failed decode must not leave state behind.
func TestDecodeJSONReusesNothing(t *testing.T) {
	for i, body := range []string{`{"name":"first","count":1}`, `{"name":`, `{"count":2}`, `{"name":"x"} {}`, `{"tags":["t"]}`} {
		var v target
		err := decodeJSON(strings.NewReader(body), &v)
		switch i {
		case 0:
			if err != nil || v.Name != "first" {
				t.Fatalf("%s: %+v, %v", body, v, err)
			}
		case 2:
			if err != nil || v.Name != "" || v.Count != 2 {
				t.Fatalf("%s: %+v, %v", body, v, err)
			}
		case 4:
			if err != nil || v.Name != "" || v.Count != 0 || len(v.Tags) != 1 {
				t.Fatalf("%s: %+v, %v", body, v, err)
			}
		default:
			if err == nil {
				t.Fatalf("%s: accepted", body)
			}
		}
	}
}

func TestDecodeJSONBadRequest(t *testing.T) {
	cases := []struct {
		name, body, field, msg string
		empty                  bool
	}{
		{name: "malformed", body: `{"name":}`, msg: "malformed JSON at byte 9"},
		{name: "truncated", body: `{"name":"a"`, msg: "malformed JSON: unexpected end of body"},
		{name: "unknown field", body: `{"name":"a","colour":"red"}`, field: "colour", msg: `unknown field "colour"`},
		{name: "wrong type", body: `{"count":"two"}`, field: "count", msg: `field "count" must be an integer, got string`},
		{name: "nested wrong type", body: `{"config":{"max_topics":-1}}`, field: "config.max_topics", msg: `field "config.max_topics" must be an integer, got number -1`},
		{name: "bool", body: `{"config":{"on":"yes"}}`, field: "config.on", msg: `field "config.on" must be a boolean, got string`},
		{name: "not an object", body: `[1,2]`, msg: "request body must be a JSON object, got array"},
		{name: "trailing value", body: `{"name":"a"}{"name":"b"}`, msg: "single JSON value"},
		{name: "trailing garbage", body: `{"name":"a"} x`, msg: "single JSON value"},
		{name: "nested unknown field", body: `{"config":{"colour":"red"}}`, field: "colour", msg: `unknown field "colour" in "config"`},
		{name: "array element", body: `{"tags":["a",2]}`, field: "tags[1]", msg: `field "tags[1]" must be a string, got number`},
		{name: "out of range", body: `{"count":9223372036854775808}`, field: "count", msg: `field "count" must be an integer, got number 9223372036854775808`},
		{name: "fraction for integer", body: `{"count":1.5}`, field: "count", msg: `field "count" must be an integer, got number 1.5`},
		{name: "name twice", body: `{"name":"a","name":"b"}`, msg: `malformed JSON at byte 13: duplicate object member name (field "name")`},
		{name: "same name in other case", body: `{"name":"a","NAME":"b"}`, msg: "duplicate object member name"},
		{name: "invalid UTF-8", body: "{\"name\":\"\xff\"}", msg: "invalid UTF-8"},
		{name: "other delimiter", body: `{"config":{"max-topics":1}}`, field: "max-topics", msg: `unknown field "max-topics" in "config"`},
		{name: "empty", body: ``, msg: "request body is empty", empty: true},
		{name: "whitespace only", body: "  \n", msg: "request body is empty", empty: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, r := request(strings.NewReader(c.body), 0)
			var v target
			err := DecodeJSON(w, r, &v)
			var bre *BadRequestError
			if !errors.As(err, &bre) {
				t.Fatalf("err = %v (%T), want *BadRequestError", err, err)
			}
			if bre.Field != c.field {
				t.Errorf("Field = %q, want %q", bre.Field, c.field)
			}
			if !strings.Contains(bre.Error(), c.msg) {
				t.Errorf("message %q does not contain %q", bre.Error(), c.msg)
			}
			if got := errors.Is(err, ErrEmptyBody); got != c.empty {
				t.Errorf("errors.Is(err, ErrEmptyBody) = %v, want %v", got, c.empty)
			}
			if errors.Is(err, ErrTooLarge) {
				t.Errorf("bad request also matches ErrTooLarge")
			}
		})
	}
}

func TestDecodeJSONTooLarge(t *testing.T) {
	big := `{"name":"` + strings.Repeat("x", 100) + `"}`
	cases := []struct {
		name  string
		body  string
		limit int64
	}{
		{"value over limit", big, 32},
		{"trailing data over limit", `{"name":"a"}` + strings.Repeat(" ", 100) + "x", 32},
		{"default limit", `{"name":"` + strings.Repeat("x", int(DefaultMaxBodyBytes)) + `"}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, r := request(strings.NewReader(c.body), c.limit)
			var v target
			err := DecodeJSON(w, r, &v)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			var bre *BadRequestError
			if errors.As(err, &bre) {
				t.Fatalf("too large also matches BadRequestError")
			}
		})
	}
}

func TestDecodeJSONInvalidTarget(t *testing.T) {
	w, r := request(strings.NewReader(`{}`), 0)
	var v target
	err := DecodeJSON(w, r, v) // not a pointer: a programming error
	var bre *BadRequestError
	if err == nil || errors.As(err, &bre) || errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want an untyped decoder error", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `{"name":"a","count":1}`, `{"count":1.5}`, `{"tags":[1]}`,
		`{"config":{"max_topics":-1}}`, `{"x":1}`, `{"name":"a"} {}`, `[`, `"\u00"`, "\xff",
		`{"name":"` + strings.Repeat("y", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		w, r := request(bytes.NewReader(data), limit)
		var v target
		err := DecodeJSON(w, r, &v)
		var bre *BadRequestError
		switch {
		case err == nil:
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			if len(data) > limit {
				t.Fatalf("accepted %d bytes over the %d limit", len(data), limit)
			}
		case errors.Is(err, ErrTooLarge):
			if len(data) <= limit {
				t.Fatalf("ErrTooLarge for %d bytes, limit %d", len(data), limit)
			}
		case errors.As(err, &bre):
			if bre.Msg == "" {
				t.Fatalf("empty message for %q", data)
			}
		default:
			t.Fatalf("untyped error %v (%T) for %q", err, err, data)
		}
	})
}
