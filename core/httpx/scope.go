package httpx

import "context"

// Scope is what the core middleware keeps for one request. The server's
// first middleware puts one in the request's context; the later ones fill
// in their part instead of each adding a context value and copying the
// request for it (six values and five copies of the request per KV put
// before, a few percent of its CPU).
//
// Fields are written by middleware before it calls the next handler and
// read inside it, so the call order orders them; a handler that hands the
// context to another goroutine does so after they are set.
type Scope struct {
	// RequestID names the request in logs and audit entries.
	RequestID string

	bodyLimit    int64
	hasBodyLimit bool

	// Principal, SessionMemo and Audit belong to core/auth and core/audit,
	// which read and write them through their own functions; httpx only
	// carries them.
	Principal   any
	SessionMemo any
	Audit       any
}

type scopeKey struct{}

// WithScope returns ctx carrying s.
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeOf returns the request's scope, or nil outside the server's
// middleware chain (a test calling a handler directly).
func ScopeOf(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

// SetBodyLimit records that the request body is limited to n bytes (see
// WithBodyLimit).
func (s *Scope) SetBodyLimit(n int64) { s.bodyLimit, s.hasBodyLimit = n, true }

// ScopedValue returns the T that ctx holds under key (set with
// context.WithValue, which wins), else the T that pick finds in the
// request's Scope, else T's zero value. Packages whose state lives in the
// scope inside the server's chain and in a context value outside it read
// it with this one rule.
func ScopedValue[T any](ctx context.Context, key any, pick func(*Scope) any) T {
	if v, ok := ctx.Value(key).(T); ok {
		return v
	}
	if s := ScopeOf(ctx); s != nil {
		v, _ := pick(s).(T)
		return v
	}
	var zero T
	return zero
}
