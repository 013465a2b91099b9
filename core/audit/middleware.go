package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
)

// Mutating reports whether requests with this method change state and are
// therefore audited.
func Mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// Middleware records every mutating request that passes through it. The
// node installs it on the root router (server.Options.Middleware), outside
// every route's own middleware, so it sees the final status of module
// routes, core auth routes and /raft/* alike, including 401s and 403s.
// Safe methods pass straight through at no cost.
func (l *Log) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Mutating(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		s := &slot{}
		// The session check inside reuses Identify's.
		// Both go in the request's scope when it has one (no copy of r).
		ctx := auth.WithSessionMemo(r.Context())
		if sc := httpx.ScopeOf(ctx); sc != nil {
			sc.Audit = s
		} else {
			ctx = context.WithValue(ctx, slotKey{}, s)
		}
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		b, counted := peekBody(r)
		// Who is asking is settled before the handler runs: a logout
		// revokes the very session that names its caller.
		who := ""
		if l.opts.Identify != nil {
			who = l.opts.Identify(r)
		}
		if p := auth.FromContext(r.Context()); who == "" && p != nil {
			who = p.Username
		}
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			status := rw.status
			if p != nil && !rw.wrote {
				status = http.StatusInternalServerError // what recovery will answer
			}
			if status == 0 {
				status = http.StatusOK // the handler wrote nothing
			}
			if counted != nil {
				b.size = int64(len(b.data)) + counted.n.Load()
			}
			if !s.skipped() || p != nil {
				l.Record(l.entry(r, s, who, b, status, start))
			}
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// entry builds the record of a finished request.
func (l *Log) entry(r *http.Request, s *slot, who string, b body, status int, start time.Time) Entry {
	user, target := s.get()
	if user == "" {
		user = who
	}
	if user == "" && isLogin(r.URL.Path) {
		user = loginUsername(b)
	}
	if user == "" {
		user = "anonymous"
	}
	if target == "" {
		target = r.URL.Path
	}
	params := s.params
	if params == "" {
		params = buildParams(r.URL.Query(), b)
	}
	route := r.URL.Path
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
		route = rctx.RoutePattern()
	}
	return Entry{
		Time:       start,
		Username:   truncate(user, 128),
		Operation:  r.Method + " " + truncate(route, maxTargetBytes),
		Target:     truncate(target, maxTargetBytes),
		Params:     params,
		Status:     status,
		DurationMs: time.Since(start).Milliseconds(),
		Success:    status < 400,
		RequestID:  httpx.RequestID(r.Context()),
		ClientAddr: r.RemoteAddr,
	}
}

// isLogin reports whether path is a credential check whose body names the
// user: etcdmonitor's /api/auth/login and change-password, CockroachDB's
// /api/v2/login/.
func isLogin(p string) bool {
	switch path.Base(strings.TrimSuffix(p, "/")) {
	case "login", "change-password":
		return true
	}
	return false
}

// slot lets code inside the middleware correct what the entry says.
type slot struct {
	mu           sync.Mutex
	user, target string
	params       string
	skip         bool
}

func (s *slot) skipped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skip
}

// SetParams replaces the entry's parameters (by default the query and the
// masked body) with a JSON object of the handler's choosing: a data-plane
// write records what it did, not the data it wrote.
func SetParams(ctx context.Context, params map[string]any) {
	if b, err := json.Marshal(params); err == nil {
		setParams(ctx, string(b))
	}
}

// SetParamsJSON is SetParams for params the caller has already encoded as
// a JSON object, for a handler on a hot path (a KV put) that would
// otherwise build a map only to have it marshalled.
func SetParamsJSON(ctx context.Context, params []byte) {
	if v := jsontext.Value(params); v.Kind() == '{' && v.IsValid() {
		setParams(ctx, string(params))
	}
}

// setParams records encoded params in the request's audit slot, if any.
func setParams(ctx context.Context, params string) {
	if s := slotFrom(ctx); s != nil {
		s.mu.Lock()
		s.params = params
		s.mu.Unlock()
	}
}

// Skip leaves the request out of the audit log: for a POST that changes
// nothing (etcdmonitor's connect, a validation), which the log would
// otherwise record as a mutation. A panic is recorded regardless.
func Skip(ctx context.Context) {
	if s := slotFrom(ctx); s != nil {
		s.mu.Lock()
		s.skip = true
		s.mu.Unlock()
	}
}

func (s *slot) get() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user, s.target
}

type slotKey struct{}

// slotFrom returns the request's audit slot: in its httpx.Scope inside the
// server's chain, in a context value otherwise; nil outside an audited
// request.
func slotFrom(ctx context.Context) *slot {
	return httpx.ScopedValue[*slot](ctx, slotKey{}, func(s *httpx.Scope) any { return s.Audit })
}

// SetUser names the caller of the request being audited, for handlers that
// learn it themselves (a login handler that parsed a form). Outside an
// audited request it does nothing.
func SetUser(ctx context.Context, username string) {
	if s := slotFrom(ctx); s != nil {
		s.mu.Lock()
		s.user = username
		s.mu.Unlock()
	}
}

// SetTarget replaces the entry's target (by default the request path) with
// what the request acted on, e.g. the KV key of a put whose body field
// "key" is masked like every field whose name suggests a secret.
func SetTarget(ctx context.Context, target string) {
	if s := slotFrom(ctx); s != nil {
		s.mu.Lock()
		s.target = target
		s.mu.Unlock()
	}
}

// peekBody reads up to MaxBodyBytes+1 bytes of r's body for the entry and
// puts them back in front of the rest, so the handler reads the body
// unchanged. A body declared larger is not read at all: its size is
// enough. When more may follow the peeked bytes, counted measures what the
// handler reads so the entry can report the size.
func peekBody(r *http.Request) (b body, counted *countingReader) {
	b.contentType = r.Header.Get("Content-Type")
	if r.Body == nil || r.Body == http.NoBody {
		return b, nil
	}
	if r.ContentLength > MaxBodyBytes {
		b.size = r.ContentLength
		return b, nil
	}
	// One byte more than recorded tells a longer body from one that fits;
	// a declared length needs no more than itself plus that byte.
	size := int64(MaxBodyBytes + 1)
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength + 1
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r.Body, buf)
	b.data = buf[:n]
	b.size = int64(n)
	var rest io.Reader
	switch {
	case err == nil: // the body may go on
		counted = &countingReader{r: r.Body}
		rest = counted
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF): // all of it
		rest = eofReader{}
	default: // the handler sees the same failure
		rest = errReader{err}
	}
	r.Body = &peekedBody{head: b.data, rest: rest, Closer: r.Body}
	return b, counted
}

// peekedBody is a body read ahead: the bytes already read, then the rest.
type peekedBody struct {
	head []byte
	rest io.Reader
	io.Closer
}

func (p *peekedBody) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.rest.Read(b)
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// statusWriter learns the status a handler answers with. It keeps the
// writer's abilities: Flush for streams, Hijack for upgrades, and Unwrap so
// http.ResponseController (and the body limit's MaxBytesReader) reach the
// connection underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wrote {
		w.status, w.wrote = http.StatusSwitchingProtocols, true
	}
	return conn, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*statusWriter)(nil)
	_ http.Hijacker = (*statusWriter)(nil)
)

// Authenticator turns a session token into its principal; *auth.Service
// is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Principal, error)
}

// SessionIdentity is an Options.Identify that names the user of the
// request's session token, wherever the client put it. A request without a
// valid token is left to the other rules ("" here).
func SessionIdentity(a Authenticator) func(*http.Request) string {
	return func(r *http.Request) string {
		token := auth.TokenFromRequest(r)
		if token == "" {
			return ""
		}
		p, err := a.Authenticate(r.Context(), token)
		if err != nil || p == nil {
			return ""
		}
		return p.Username
	}
}
