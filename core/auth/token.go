package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// A token is base64url(id[16] || secret[32]). The id names the session
// record; only sha256(secret) is stored, so a copy of the store does not
// hand out live tokens.
const (
	tokenIDLen     = 16
	tokenSecretLen = 32
	tokenLen       = 64 // base64url, no padding, of 48 bytes
	// CookieName is the browser cookie that carries a session token.
	CookieName = "trellis_session"
)

func newToken() (token, id, secretHash string, err error) {
	raw := make([]byte, tokenIDLen+tokenSecretLen)
	if _, err := rand.Read(raw); err != nil {
		return "", "", "", fmt.Errorf("auth: token: %w", err)
	}
	sum := sha256.Sum256(raw[tokenIDLen:])
	return base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw[:tokenIDLen]), hex.EncodeToString(sum[:]), nil
}

// parseToken splits a token into its session id and the hash of its secret.
func parseToken(token string) (id, secretHash string, ok bool) {
	if len(token) != tokenLen {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenIDLen+tokenSecretLen {
		return "", "", false
	}
	sum := sha256.Sum256(raw[tokenIDLen:])
	return hex.EncodeToString(raw[:tokenIDLen]), hex.EncodeToString(sum[:]), true
}

// TokenFromRequest finds a session token wherever a client of one of the
// five families puts it: Authorization: Bearer (etcdmonitor, Consul),
// X-Cockroach-API-Session, X-Consul-Token, ?token=, or the session cookie.
func TokenFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if v, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(v)
		}
	}
	// CockroachDB's clients send "X-Cockroach-API-Session: cookie" to mean
	// "the session is in the cookie".
	if v := strings.TrimSpace(r.Header.Get("X-Cockroach-API-Session")); v != "" && v != "cookie" {
		return v
	}
	if v := r.Header.Get("X-Consul-Token"); v != "" {
		return strings.TrimSpace(v)
	}
	if v := r.URL.Query().Get("token"); v != "" {
		return v
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}
