package auth

import (
	"errors"
	"testing"
)

// Under one request's memo a token is checked once: the same token again
// gets the same principal even after its session ended, a request without
// the memo sees the logout, and another token is still checked for real.
func TestSessionMemoScopesOneRequest(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword})
	ctx := ctxT(t)
	tok := mustLogin(t, s, "admin", testAdminPassword)
	req := WithSessionMemo(ctx)
	first, err := s.Authenticate(req, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(req, tok); err != nil || p != first {
		t.Fatalf("same request after logout: %+v, %v; want the principal it began with", p, err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("a request without the memo after logout: %v, want ErrNoSession", err)
	}
	if _, err := s.Authenticate(req, tok+"x"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("another token under the memo: %v, want ErrNoSession", err)
	}
	// Failures are not remembered: a fresh login's token works under a
	// memo that saw a bad token first.
	req2 := WithSessionMemo(ctx)
	if _, err := s.Authenticate(req2, "bogus"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("bogus token: %v", err)
	}
	tok2 := mustLogin(t, s, "admin", testAdminPassword)
	if p, err := s.Authenticate(req2, tok2); err != nil || p.Username != "admin" {
		t.Fatalf("good token after a bad one under one memo: %+v, %v", p, err)
	}
}
