package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

// scopeReport is what a handler sees of the request state the core
// middleware keeps.
type scopeReport struct {
	HasScope  bool   `json:"has_scope"`
	RequestID string `json:"request_id"`
	Limit     int64  `json:"limit"`
	Limited   bool   `json:"limited"`
}

func reportScope(w http.ResponseWriter, r *http.Request) {
	n, ok := httpx.BodyLimit(r.Context())
	httpx.JSON(w, http.StatusOK, scopeReport{
		HasScope: httpx.ScopeOf(r.Context()) != nil, RequestID: httpx.RequestID(r.Context()),
		Limit: n, Limited: ok,
	})
}

// Through the server's chain the request id and the body limit reach the
// handler in the request's scope, for a limited route and an unlimited one.
func TestScopeCarriesRequestState(t *testing.T) {
	s, _ := testServer(t, Options{MaxBodyBytes: 64, BodyLimits: map[string]int64{"POST /api/free": -1}}, func(r chi.Router) {
		r.Post("/api/capped", reportScope)
		r.Post("/api/free", reportScope)
	})
	for _, c := range []struct {
		path  string
		limit int64
	}{{"/api/capped", 64}, {"/api/free", -1}} {
		status, _, body := do(t, nil, http.MethodPost, s.URL()+c.path, strings.NewReader("{}"), HeaderRequestID, "client-id-7")
		var got scopeReport
		if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusOK {
			t.Fatalf("%s: %d %s (%v)", c.path, status, body, err)
		}
		if want := (scopeReport{HasScope: true, RequestID: "client-id-7", Limit: c.limit, Limited: true}); got != want {
			t.Errorf("%s: handler saw %+v, want %+v", c.path, got, want)
		}
	}
}

// limitBody on its own, with no scope in the context, still records the
// limit for DecodeJSON (in a context value) and caps the body.
func TestBodyLimitWithoutScope(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0", MaxBodyBytes: 8})
	h := s.limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		err := httpx.DecodeJSON(w, r, &v)
		n, ok := httpx.BodyLimit(r.Context())
		if httpx.ScopeOf(r.Context()) != nil || !ok || n != 8 {
			t.Errorf("limit %d, %v (scope %v), want 8 in a context value", n, ok, httpx.ScopeOf(r.Context()) != nil)
		}
		if err == nil {
			t.Error("a 20-byte chunked body passed an 8-byte limit")
		}
	}))
	req := httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader(`{"k":"0123456789ab"}`))
	req.ContentLength = -1 // chunked: only MaxBytesReader can stop it
	h.ServeHTTP(httptest.NewRecorder(), req)
}
