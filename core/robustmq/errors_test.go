package robustmq

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeAndFail(t *testing.T) {
	type req struct {
		Name string `json:"name"`
	}
	for body, want := range map[string]string{
		`{"name":`:      `{"code":100,"data":"","error":"JSON parsing failed: malformed JSON: unexpected end of body"}`,
		`{"name":1}`:    `{"code":100,"data":"","error":"JSON parsing failed: field \"name\" must be a string, got number"}`,
		`{"nom":"x"}`:   `{"code":100,"data":"","error":"JSON parsing failed: unknown field \"nom\""}`,
		`{"name":"x"}x`: `{"code":100,"data":"","error":"JSON parsing failed: request body must hold a single JSON value; found data after it"}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/cluster/schema/create", strings.NewReader(body))
		w := httptest.NewRecorder()
		var v req
		err := Decode(w, r, &v)
		if err == nil {
			t.Fatalf("%s: decoded", body)
		}
		Fail(w, err)
		if w.Code != 400 || w.Body.String() != want {
			t.Errorf("%s: %d %s, want 400 %s", body, w.Code, w.Body, want)
		}
	}
	w := httptest.NewRecorder()
	Fail(w, Conflict("schema %s is bound", "s"))
	if w.Code != 409 || !strings.Contains(w.Body.String(), `"error":"schema s is bound"`) {
		t.Errorf("conflict: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	Fail(w, errors.New("boom"))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":100`) {
		t.Errorf("unknown error: %d %s", w.Code, w.Body)
	}
}
