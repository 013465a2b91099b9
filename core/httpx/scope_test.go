package httpx

import (
	"context"
	"testing"
)

type testKey struct{}

// ScopedValue: a context value wins, the scope's is found without one,
// a value of another type counts as absent, and nothing gives the zero.
func TestScopedValue(t *testing.T) {
	pick := func(s *Scope) any { return s.Audit }
	inScope, explicit := new(int), new(int)
	ctx := WithScope(context.Background(), &Scope{Audit: inScope})
	if got := ScopedValue[*int](ctx, testKey{}, pick); got != inScope {
		t.Errorf("scope only: %p, want %p", got, inScope)
	}
	if got := ScopedValue[*int](context.WithValue(ctx, testKey{}, explicit), testKey{}, pick); got != explicit {
		t.Errorf("context value over the scope: %p, want %p", got, explicit)
	}
	if got := ScopedValue[*int](context.WithValue(ctx, testKey{}, "a string"), testKey{}, pick); got != inScope {
		t.Errorf("mistyped context value: %p, want the scope's %p", got, inScope)
	}
	if got := ScopedValue[*int](context.Background(), testKey{}, pick); got != nil {
		t.Errorf("neither: %p, want nil", got)
	}
	if got := ScopedValue[*int](WithScope(context.Background(), &Scope{}), testKey{}, pick); got != nil {
		t.Errorf("empty scope: %p, want nil", got)
	}
}

// RequestID and BodyLimit read the scope, and plain context values outside
// one.
func TestRequestIDAndBodyLimitFromScopeOrValue(t *testing.T) {
	sc := &Scope{RequestID: "scoped"}
	sc.SetBodyLimit(-1)
	ctx := WithScope(context.Background(), sc)
	if id := RequestID(ctx); id != "scoped" {
		t.Errorf("scope's request id: %q", id)
	}
	if n, ok := BodyLimit(ctx); n != -1 || !ok {
		t.Errorf("scope's body limit: %d, %v", n, ok)
	}
	plain := WithBodyLimit(WithRequestID(context.Background(), "plain"), 9)
	if id := RequestID(plain); id != "plain" {
		t.Errorf("plain request id: %q", id)
	}
	if n, ok := BodyLimit(plain); n != 9 || !ok {
		t.Errorf("plain body limit: %d, %v", n, ok)
	}
	if _, ok := BodyLimit(WithScope(context.Background(), &Scope{})); ok {
		t.Error("a scope without a limit reported one")
	}
}
