package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/trellis-cp/trellis/core/httpx"
)

// Under one request's memo a token is checked once: the same token again
// gets the same principal even after its session ended, a request without
// the memo sees the logout, and another token is still checked for real.
func TestSessionMemoScopesOneRequest(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword})
	ctx := ctxT(t)
	tok := mustLogin(t, s, "admin", testAdminPassword)
	req := WithSessionMemo(ctx)
	outlivesLogout(t, s, ctx, req, tok)
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

// Inside the server's chain the memo lives in the request's scope: the
// context is returned as is, and Authenticate under it still remembers.
func TestSessionMemoInScope(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword})
	ctx := ctxT(t)
	tok := mustLogin(t, s, "admin", testAdminPassword)
	sc := &httpx.Scope{}
	req := httpx.WithScope(ctx, sc)
	if got := WithSessionMemo(req); got != req || sc.SessionMemo == nil {
		t.Fatalf("WithSessionMemo in a scope: new context %v, memo %v; want the same context and the memo in the scope", got != req, sc.SessionMemo)
	}
	outlivesLogout(t, s, ctx, req, tok)
}

// outlivesLogout authenticates tok under req's memo, logs it out, and
// checks that req still gets the principal it began with.
func outlivesLogout(t *testing.T, s *Service, ctx, req context.Context, tok string) {
	t.Helper()
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
}

// FromContext: a principal set with WithPrincipal wins over the scope's;
// the scope's is found without one; neither gives nil.
func TestFromContextScopeAndValue(t *testing.T) {
	inScope, explicit := &Principal{Username: "scoped"}, &Principal{Username: "explicit"}
	ctx := httpx.WithScope(context.Background(), &httpx.Scope{Principal: inScope})
	if got := FromContext(ctx); got != inScope {
		t.Fatalf("scope only: %+v", got)
	}
	if got := FromContext(WithPrincipal(ctx, explicit)); got != explicit {
		t.Fatalf("WithPrincipal over a scope: %+v, want the explicit one", got)
	}
	if got := FromContext(context.Background()); got != nil {
		t.Fatalf("empty context: %+v", got)
	}
}
