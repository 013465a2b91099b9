package httpx

import (
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestErrorPerFamily(t *testing.T) {
	cases := []struct {
		path, ctype, body string
	}{
		{"/api/kv/v3/get", "application/json; charset=utf-8", `{"error":"boom"}`},
		{"/v1/operator/raft/peer", "text/plain; charset=utf-8", "boom"},
		{"/api/v2/nodes/", "text/plain; charset=utf-8", "boom\n"},
		{"/api/cluster/topic/list", "application/json; charset=utf-8", `{"code":100,"data":"","error":"boom"}`},
		{"/admin/leader", "text/plain; charset=utf-8", "boom"},
		{"/other", "application/json; charset=utf-8", `{"error":"boom"}`},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		Error(w, httptest.NewRequest(http.MethodGet, c.path, nil), http.StatusConflict, "boom")
		if w.Code != http.StatusConflict {
			t.Errorf("%s: status %d", c.path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: content type %q, want %q", c.path, got, c.ctype)
		}
		if got := w.Body.String(); got != c.body {
			t.Errorf("%s: body %q, want %q", c.path, got, c.body)
		}
	}
}

func TestErrorCode(t *testing.T) {
	w := httptest.NewRecorder()
	ErrorCode(w, httptest.NewRequest(http.MethodGet, "/api/kv/v3/get", nil), http.StatusNotFound, "key_not_found", "key not found")
	if want := `{"error":"key not found","code":"key_not_found"}`; w.Body.String() != want || w.Code != 404 {
		t.Fatalf("got %d %s, want 404 %s", w.Code, w.Body, want)
	}
	// Families without codes keep their own format.
	w = httptest.NewRecorder()
	ErrorCode(w, httptest.NewRequest(http.MethodGet, "/api/cluster/x", nil), http.StatusNotFound, "x", "missing")
	if want := `{"code":100,"data":"","error":"missing"}`; w.Body.String() != want {
		t.Fatalf("got %s, want %s", w.Body, want)
	}
}

func TestRobustOK(t *testing.T) {
	w := httptest.NewRecorder()
	RobustOK(w, "success")
	if want := `{"code":0,"data":"success","error":null}`; w.Body.String() != want || w.Code != 200 {
		t.Fatalf("got %d %s, want 200 %s", w.Code, w.Body, want)
	}
}

func TestJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	JSON(w, http.StatusOK, math.Inf(1))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
}

// appenderBody encodes itself; JSON must write exactly what it appends.
type appenderBody struct{ n int }

func (a appenderBody) AppendJSON(b []byte) []byte {
	return append(b, `{"appended":`+string(rune('0'+a.n))+`}`...)
}

func TestJSONUsesAppender(t *testing.T) {
	w := httptest.NewRecorder()
	JSON(w, http.StatusCreated, appenderBody{n: 7})
	if w.Code != http.StatusCreated || w.Body.String() != `{"appended":7}` {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Length"); got != "14" {
		t.Fatalf("Content-Length %q, want 14", got)
	}
}

// Every JSON response shares one Content-Type value; a handler that adds
// to its own response's header must not change the next response's.
func TestJSONContentTypeNotShared(t *testing.T) {
	first := httptest.NewRecorder()
	JSON(first, http.StatusOK, map[string]int{"a": 1})
	first.Header().Add("Content-Type", "text/extra")
	second := httptest.NewRecorder()
	JSON(second, http.StatusOK, map[string]int{"a": 1})
	if got := second.Header().Values("Content-Type"); len(got) != 1 || got[0] != contentTypeJSON {
		t.Fatalf("second response's Content-Type %q, want only %q", got, contentTypeJSON)
	}
}
