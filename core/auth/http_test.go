package auth

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

func router(s *Service) http.Handler {
	r := chi.NewRouter()
	s.MountRoutes(r)
	return r
}

func serve(h http.Handler, method, target, body string, tlsOn bool, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if tlsOn {
		req.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestSessionCookie(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, SessionTTL: time.Hour})
	h := router(s)
	body := `{"username":"admin","password":"` + testAdminPassword + `"}`
	for _, tlsOn := range []bool{false, true} {
		w := serve(h, http.MethodPost, "/api/auth/login", body, tlsOn)
		if w.Code != http.StatusOK {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		var ans loginResponse
		json.Unmarshal(w.Body.Bytes(), &ans)
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		ck := cookies[0]
		if ck.Name != CookieName || ck.Value != ans.SessionToken || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode ||
			ck.Path != "/" || ck.Secure != tlsOn || ck.Expires.IsZero() {
			t.Fatalf("TLS %v: cookie %+v", tlsOn, ck)
		}
		// The cookie alone authenticates, and logout clears it.
		w = serve(h, http.MethodGet, "/api/auth/status", "", tlsOn, "Cookie", CookieName+"="+ck.Value)
		if !strings.Contains(w.Body.String(), `"authenticated":true`) {
			t.Fatalf("status with the cookie: %s", w.Body)
		}
		w = serve(h, http.MethodPost, "/api/auth/logout", "", tlsOn, "Cookie", CookieName+"="+ck.Value)
		cleared := w.Result().Cookies()
		if w.Code != http.StatusOK || len(cleared) != 1 || cleared[0].MaxAge >= 0 || cleared[0].Secure != tlsOn {
			t.Fatalf("logout: %d %s %+v", w.Code, w.Body, cleared)
		}
	}
}

func TestAuthDisabled(t *testing.T) {
	st := openStore(t)
	ns, err := st.Namespace(Namespace)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Enabled: false, DataDir: t.TempDir()}, ns, testLogger())
	if err := s.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	h := router(s)
	w := serve(h, http.MethodGet, "/api/auth/status", "", false)
	var st2 statusResponse
	if err := json.Unmarshal(w.Body.Bytes(), &st2); err != nil || st2.AuthRequired || !st2.Authenticated || st2.InitialSetupPending {
		t.Fatalf("status with auth disabled: %s", w.Body)
	}
	if w := serve(h, http.MethodGet, "/api/auth/users", "", false); w.Code != http.StatusOK {
		t.Fatalf("users with auth disabled: %d %s", w.Code, w.Body)
	}
	if w := serve(h, http.MethodPost, "/api/auth/logout", "", false); w.Code != http.StatusOK {
		t.Fatalf("logout with auth disabled: %d %s", w.Code, w.Body)
	}
}
