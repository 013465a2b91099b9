package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	token, id, secretHash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != tokenLen || len(id) != 2*tokenIDLen || len(secretHash) != 64 {
		t.Fatalf("token %d chars, id %d, hash %d", len(token), len(id), len(secretHash))
	}
	gotID, gotHash, ok := parseToken(token)
	if !ok || gotID != id || gotHash != secretHash {
		t.Fatalf("parse = %q %q %v, want %q %q", gotID, gotHash, ok, id, secretHash)
	}
	token2, id2, _, _ := newToken()
	if token2 == token || id2 == id {
		t.Fatal("two tokens are equal")
	}
}

func TestTamperedTokens(t *testing.T) {
	token, id, secretHash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(token)

	// A flipped bit in the secret keeps the id but changes the hash: the
	// session lookup finds the record and the compare refuses it.
	secret := append([]byte(nil), raw...)
	secret[len(secret)-1] ^= 1
	gotID, gotHash, ok := parseToken(base64.RawURLEncoding.EncodeToString(secret))
	if !ok || gotID != id || gotHash == secretHash {
		t.Fatalf("secret tampered: id %q hash-equal %v ok %v", gotID, gotHash == secretHash, ok)
	}
	// A flipped bit in the id names another (absent) session.
	idFlip := append([]byte(nil), raw...)
	idFlip[0] ^= 1
	if gotID, _, ok := parseToken(base64.RawURLEncoding.EncodeToString(idFlip)); !ok || gotID == id {
		t.Fatalf("id tampered: %q ok %v", gotID, ok)
	}
	for name, bad := range map[string]string{
		"empty":         "",
		"short":         token[:tokenLen-1],
		"long":          token + "A",
		"std alphabet":  token[:10] + "+" + token[11:],
		"not base64":    strings.Repeat("!", tokenLen),
		"bearer prefix": "Bearer " + token[:tokenLen-7],
	} {
		if _, _, ok := parseToken(bad); ok {
			t.Errorf("%s: %q parsed", name, bad)
		}
	}
}

func TestTokenFromRequest(t *testing.T) {
	const tok = "the-token"
	cases := []struct {
		name string
		set  func(r *http.Request)
		want string
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, tok},
		{"bearer with spaces", func(r *http.Request) { r.Header.Set("Authorization", "Bearer  "+tok+" ") }, tok},
		{"cockroach header", func(r *http.Request) { r.Header.Set("X-Cockroach-API-Session", tok) }, tok},
		{"consul header", func(r *http.Request) { r.Header.Set("X-Consul-Token", tok) }, tok},
		{"query", func(r *http.Request) { r.URL.RawQuery = "token=" + tok }, tok},
		{"cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: tok}) }, tok},
		{"none", func(*http.Request) {}, ""},
		{"basic auth is not a token", func(r *http.Request) { r.SetBasicAuth("admin", "pw") }, ""},
		{"other cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "etcdmonitor_session", Value: tok}) }, ""},
		{"bearer wins over the others", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("X-Consul-Token", "other")
			r.URL.RawQuery = "token=other"
			r.AddCookie(&http.Cookie{Name: CookieName, Value: "other"})
		}, tok},
		{"header wins over query and cookie", func(r *http.Request) {
			r.Header.Set("X-Consul-Token", tok)
			r.URL.RawQuery = "token=other"
			r.AddCookie(&http.Cookie{Name: CookieName, Value: "other"})
		}, tok},
		{"query wins over cookie", func(r *http.Request) {
			r.URL.RawQuery = "token=" + tok
			r.AddCookie(&http.Cookie{Name: CookieName, Value: "other"})
		}, tok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/kv/v3/get", nil)
			c.set(r)
			if got := TokenFromRequest(r); got != c.want {
				t.Fatalf("TokenFromRequest = %q, want %q", got, c.want)
			}
		})
	}
}
