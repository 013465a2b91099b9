package httpx

import "context"

// Context keys are unexported types so no other package can collide.
type (
	requestIDKey struct{}
	bodyLimitKey struct{}
	drainingKey  struct{}
)

// WithRequestID returns ctx carrying the request id. The server's request-id
// middleware sets it; handlers read it with RequestID to log it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx (its Scope's, or one
// WithRequestID set), or "".
func RequestID(ctx context.Context) string {
	if s := ScopeOf(ctx); s != nil && s.RequestID != "" {
		return s.RequestID
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithBodyLimit records that the request body is already limited to n bytes
// (by http.MaxBytesReader), so DecodeJSON does not apply its default.
func WithBodyLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, bodyLimitKey{}, n)
}

// BodyLimit returns the body limit recorded in ctx (in its Scope, or by
// WithBodyLimit).
func BodyLimit(ctx context.Context) (int64, bool) {
	if s := ScopeOf(ctx); s != nil && s.hasBodyLimit {
		return s.bodyLimit, true
	}
	n, ok := ctx.Value(bodyLimitKey{}).(int64)
	return n, ok
}

// WithDraining returns ctx carrying a channel that is closed when the
// server begins to shut down.
func WithDraining(ctx context.Context, ch <-chan struct{}) context.Context {
	return context.WithValue(ctx, drainingKey{}, ch)
}

// Draining returns the channel closed when the server serving the request
// begins to shut down. Long-lived streams (watches, SSE) select on it and
// end, because a graceful shutdown waits for every open response and a
// stream would otherwise hold it until the timeout. Outside a server it
// returns nil, which blocks forever in a select: never draining.
func Draining(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainingKey{}).(<-chan struct{})
	return ch
}
