package audit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSkipLeavesARequestOut(t *testing.T) {
	l := newLog(t, Options{})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect" {
			Skip(r.Context())
		}
	}))
	for _, p := range []string{"/connect", "/put"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, p, strings.NewReader("{}")))
	}
	var page Page
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		page, err = l.List(t.Context(), Query{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if page.Total != 1 || page.Entries[0].Target != "/put" {
		t.Fatalf("want only /put recorded, got %+v", page.Entries)
	}
}
