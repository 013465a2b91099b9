package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"
)

const (
	contentTypeJSON = "application/json; charset=utf-8"
	contentTypeText = "text/plain; charset=utf-8"
)

// RobustMQErrorCode is the code RobustMQ puts in every error envelope.
const RobustMQErrorCode = 100

// Error writes msg with the given status in the format of the API family
// that owns r's path (see FamilyFor).
func Error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ErrorFamily(w, FamilyFor(r.URL.Path), status, msg)
}

// ErrorFamily writes an error in family f's format. Use it when the family
// is known and does not follow from the path.
func ErrorFamily(w http.ResponseWriter, f Family, status int, msg string) {
	switch f {
	case FamilyEtcdmonitor, FamilyCore:
		JSON(w, status, errorBody{Error: msg})
	case FamilyRobustMQ:
		JSON(w, status, robustEnvelope{Code: RobustMQErrorCode, Data: "", Error: &msg})
	case FamilyCockroach:
		// Cockroach writes errors with http.Error, newline included.
		Text(w, status, msg+"\n")
	default: // Consul, Greptime
		Text(w, status, msg)
	}
}

// ErrorCode writes an etcdmonitor-style error with a machine-readable code,
// {"error": msg, "code": code}, e.g. code "key_not_found" with 404. The
// families whose error format has no place for such a code (RobustMQ's
// envelope, the plain-text ones) get Error's format without it, so shared
// code may call ErrorCode on any route.
func ErrorCode(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	switch f := FamilyFor(r.URL.Path); f {
	case FamilyEtcdmonitor, FamilyCore:
		JSON(w, status, errorBody{Error: msg, Code: code})
	default:
		ErrorFamily(w, f, status, msg)
	}
}

// JSONAppender is a response type that encodes itself exactly as
// json.Marshal would, without reflection (a hot path's answer, such as a
// KV node). JSON uses it when v implements it.
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}

// contentTypeJSONValue is shared by every JSON response instead of a new
// one-element slice per Header.Set (gin does the same). Set replaces the
// slice and Add appends to a full one, which copies, so neither writes
// the shared array; nothing in Trellis assigns to a header value in place.
var contentTypeJSONValue = []string{contentTypeJSON}

// JSON writes v as a JSON body with the given status. The value is
// marshalled before any header is written, so a value that cannot be
// encoded becomes a 500 instead of a half-written 200.
func JSON(w http.ResponseWriter, status int, v any) {
	var body []byte
	if a, ok := v.(JSONAppender); ok {
		body = a.AppendJSON(make([]byte, 0, 512))
	} else {
		var err error
		if body, err = json.Marshal(v); err != nil {
			body, _ = json.Marshal(errorBody{Error: "internal error: encode response: " + err.Error()})
			status = http.StatusInternalServerError
		}
	}
	h := w.Header()
	h["Content-Type"] = contentTypeJSONValue
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Text writes a plain-text body with the given status.
func Text(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", contentTypeText)
	// Like http.Error: a browser must not guess HTML from an error text.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// RobustOK writes RobustMQ's success envelope {"code":0,"data":data,"error":null}
// with status 200.
func RobustOK(w http.ResponseWriter, data any) {
	JSON(w, http.StatusOK, robustEnvelope{Code: 0, Data: data})
}

// errorBody is the etcdmonitor and core error shape.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// robustEnvelope is RobustMQ's response envelope. Error is a pointer so a
// success carries "error":null, as RobustMQ's own server writes it.
type robustEnvelope struct {
	Code  int     `json:"code"`
	Data  any     `json:"data"`
	Error *string `json:"error"`
}
