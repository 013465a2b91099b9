package auth

import (
	"context"
	"sync/atomic"

	"github.com/trellis-cp/trellis/core/httpx"
)

// sessionMemo lets the session checks of one request share their answer:
// the audit middleware names the caller before the handler runs and the
// auth middleware inside it checks the same token again, each a token
// parse, a hash and two cache lookups.
type sessionMemo struct{ last atomic.Pointer[memoEntry] }

type memoEntry struct {
	token string
	p     *Principal
}

type memoKey struct{}

// WithSessionMemo returns ctx remembering the first principal Authenticate
// finds for a token under it, for the rest of the request. Only successes
// are remembered; a request lives for moments, so a session that ends
// meanwhile still counts for the request that began under it.
// Inside the server's chain the memo goes in the request's httpx.Scope
// and ctx itself is returned.
func WithSessionMemo(ctx context.Context) context.Context {
	if sc := httpx.ScopeOf(ctx); sc != nil {
		sc.SessionMemo = &sessionMemo{}
		return ctx
	}
	return context.WithValue(ctx, memoKey{}, &sessionMemo{})
}

func memoFrom(ctx context.Context) *sessionMemo {
	return httpx.ScopedValue[*sessionMemo](ctx, memoKey{}, func(s *httpx.Scope) any { return s.SessionMemo })
}

func (m *sessionMemo) get(token string) *Principal {
	if e := m.last.Load(); e != nil && e.token == token {
		return e.p
	}
	return nil
}

func (m *sessionMemo) put(token string, p *Principal) { m.last.Store(&memoEntry{token: token, p: p}) }
