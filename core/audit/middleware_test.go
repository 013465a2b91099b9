package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

const (
	secretPW    = "Hunter2-do-not-store"
	secretToken = "tok-0123456789abcdef"
)

// identify stands in for the session system: the token names the user.
func identify(r *http.Request) string {
	if strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") == secretToken {
		return "alice"
	}
	return ""
}

// testRouter mounts the audit middleware at the root, as the node does,
// with routes that read their bodies the way real handlers do.
func testRouter(t *testing.T, l *Log) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	r.Use(l.Middleware)
	r.Get("/api/kv/v3/range", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	r.Post("/api/kv/v3/put", func(w http.ResponseWriter, r *http.Request) {
		// The handler must get the whole body, secrets and all.
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if v["password"] != nil && v["password"] != secretPW {
			http.Error(w, "body changed on its way to the handler", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	r.Route("/api/cluster/user", func(r chi.Router) {
		r.Delete("/{name}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	})
	r.Post("/api/auth/login", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":"invalid username or password"}`, http.StatusUnauthorized)
	})
	r.Post("/api/v2/login/", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("password") != secretPW {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"session":"x"}`)
	})
	r.Post("/api/ops/setuser", func(w http.ResponseWriter, r *http.Request) {
		SetUser(r.Context(), "bob")
		SetTarget(r.Context(), "/the/key")
		w.WriteHeader(http.StatusAccepted)
	})
	r.Post("/api/ops/stream", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the audit writer: %v", err)
		}
		io.WriteString(w, "streamed")
	})
	r.Post("/api/ops/big", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || len(b) <= 2*MaxBodyBytes || !bytes.HasSuffix(b, []byte(`"}`)) {
			http.Error(w, "body cut short on its way to the handler", http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, method, url, ctype string, body io.Reader, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRecordsMutationsNotReads(t *testing.T) {
	l := newLog(t, Options{Identify: identify})
	srv := testRouter(t, l)
	auth := []string{"Authorization", "Bearer " + secretToken}

	for i := 0; i < 3; i++ {
		if code := send(t, http.MethodGet, srv.URL+"/api/kv/v3/range?key=a", "", nil, auth...); code != 200 {
			t.Fatalf("GET: %d", code)
		}
	}
	if code := send(t, http.MethodPost, srv.URL+"/api/kv/v3/put?dry=1", "application/json",
		strings.NewReader(`{"value":"v1","lease":3}`), auth...); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	if code := send(t, http.MethodDelete, srv.URL+"/api/cluster/user/carol", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	waitTotal(t, l, 2)
	got := all(t, l)
	del, put := got[0], got[1] // newest first
	if put.Operation != "POST /api/kv/v3/put" || put.Target != "/api/kv/v3/put" || put.Username != "alice" ||
		put.Status != 201 || put.Result != "201 Created" || !put.Success || put.NodeID != 7 {
		t.Errorf("put entry: %+v", put)
	}
	var params struct {
		Query map[string]any `json:"query"`
		Body  map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(put.Params), &params); err != nil {
		t.Fatalf("params %q: %v", put.Params, err)
	}
	if params.Query["dry"] != "1" || params.Body["value"] != "v1" || params.Body["lease"] != 3.0 {
		t.Errorf("put params: %s", put.Params)
	}
	if del.Operation != "DELETE /api/cluster/user/{name}" || del.Target != "/api/cluster/user/carol" ||
		del.Username != "anonymous" || del.Status != 204 || !del.Success || del.Params != "" {
		t.Errorf("delete entry: %+v", del)
	}
	if put.Timestamp != put.Time.Unix() || put.Time.After(del.Time) || put.ID == 0 || put.ID == del.ID {
		t.Errorf("time and ids: put %d %v %d, delete %v %d", put.Timestamp, put.Time, put.ID, del.Time, del.ID)
	}
	for _, e := range got {
		if strings.HasPrefix(e.Operation, "GET") {
			t.Errorf("a GET was audited: %+v", e)
		}
	}
}

func TestSecretsRedactedAtAnyDepth(t *testing.T) {
	l := newLog(t, Options{Identify: identify})
	srv := testRouter(t, l)
	body := map[string]any{
		"password": secretPW,
		"value":    "kept",
		"user": map[string]any{
			"name":         "dave",
			"old_password": secretPW,
			"credentials":  []any{map[string]any{"apiKey": secretPW, "note": "kept too"}},
		},
		"Authorization":  "Bearer " + secretPW,
		"client_SECRET":  secretPW,
		"X-Session-Id":   secretPW,
		"deep":           []any{[]any{map[string]any{"a": map[string]any{"refresh_token": secretPW}}}},
		"config":         `{"host":"db","password":"` + secretPW + `"}`,
		"dsn":            "mysql://root:" + secretPW + "@db:3306/app",
		"tokens_allowed": 3,
	}
	b, _ := json.Marshal(body)
	if code := send(t, http.MethodPost, srv.URL+"/api/kv/v3/put?token="+secretPW+"&key=k", "application/json",
		bytes.NewReader(b)); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	// CockroachDB's form login and etcdmonitor's JSON login.
	form := url.Values{"username": {"erin"}, "password": {secretPW}}
	if code := send(t, http.MethodPost, srv.URL+"/api/v2/login/", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode())); code != 200 {
		t.Fatalf("form login: %d", code)
	}
	// curl -d sends JSON labelled as a form; it is still masked as JSON.
	if code := send(t, http.MethodPost, srv.URL+"/api/auth/login", "application/x-www-form-urlencoded",
		strings.NewReader(`{"username":"frank","password":"`+secretPW+`"}`)); code != 401 {
		t.Fatalf("json login: %d", code)
	}
	waitTotal(t, l, 3)

	for _, raw := range rawValues(t, l) {
		if bytes.Contains(raw, []byte(secretPW)) {
			t.Fatalf("stored bytes hold the password: %s", raw)
		}
	}
	got := all(t, l)
	jsonLogin, formLogin, put := got[0], got[1], got[2]
	var p struct {
		Query map[string]any `json:"query"`
		Body  map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(put.Params), &p); err != nil {
		t.Fatal(err)
	}
	if p.Query["token"] != Redacted || p.Query["key"] != Redacted {
		t.Errorf("query: %v", p.Query)
	}
	for _, k := range []string{"password", "Authorization", "client_SECRET", "X-Session-Id"} {
		if p.Body[k] != Redacted {
			t.Errorf("body %s = %v", k, p.Body[k])
		}
	}
	user := p.Body["user"].(map[string]any)
	cred := user["credentials"].([]any)[0].(map[string]any)
	if user["old_password"] != Redacted || cred["apiKey"] != Redacted || cred["note"] != "kept too" || user["name"] != "dave" {
		t.Errorf("nested: %v", user)
	}
	if !strings.Contains(put.Params, `"refresh_token":"***"`) || !strings.Contains(put.Params, `\"password\":\"***\"`) {
		t.Errorf("deep or embedded secrets: %s", put.Params)
	}
	if p.Body["dsn"] != "mysql://root:***@db:3306/app" || p.Body["value"] != "kept" {
		t.Errorf("dsn %v, value %v", p.Body["dsn"], p.Body["value"])
	}
	if p.Body["tokens_allowed"] != Redacted { // the name says token: masked, by rule
		t.Errorf("tokens_allowed = %v", p.Body["tokens_allowed"])
	}
	if formLogin.Username != "erin" || !strings.Contains(formLogin.Params, `"password":"***"`) || !formLogin.Success {
		t.Errorf("form login: %+v", formLogin)
	}
	if jsonLogin.Username != "frank" || jsonLogin.Success || jsonLogin.Status != 401 ||
		!strings.Contains(jsonLogin.Params, `"password":"***"`) {
		t.Errorf("json login: %+v", jsonLogin)
	}
}

func TestLargeBodySummarisedAndPassedOn(t *testing.T) {
	l := newLog(t, Options{})
	srv := testRouter(t, l)
	big := `{"password":"` + secretPW + `","pad":"` + strings.Repeat("x", 2*MaxBodyBytes) + `"}`
	// Once with a Content-Length, once chunked.
	if code := send(t, http.MethodPost, srv.URL+"/api/ops/big", "application/json", strings.NewReader(big)); code != 200 {
		t.Fatalf("sized: %d", code)
	}
	if code := send(t, http.MethodPost, srv.URL+"/api/ops/big", "application/json",
		io.MultiReader(strings.NewReader(big))); code != 200 {
		t.Fatalf("chunked: %d", code)
	}
	waitTotal(t, l, 2)
	want := `(` + itoa(len(big)) + ` bytes, application/json, not recorded)`
	for _, e := range all(t, l) {
		if !strings.Contains(e.Params, want) {
			t.Errorf("params %s, want the size summary %s", e.Params, want)
		}
	}
	for _, raw := range rawValues(t, l) {
		if bytes.Contains(raw, []byte(secretPW)) || bytes.Contains(raw, []byte("xxxxxxxx")) {
			t.Fatalf("stored bytes hold the large body")
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMiddlewareSeesStatusAndPrincipal(t *testing.T) {
	l := newLog(t, Options{Identify: identify})
	srv := testRouter(t, l)
	send(t, http.MethodPost, srv.URL+"/api/ops/setuser", "", nil, "Authorization", "Bearer "+secretToken)
	send(t, http.MethodPost, srv.URL+"/api/ops/stream", "", nil, "Authorization", "Bearer "+secretToken)
	send(t, http.MethodPut, srv.URL+"/nowhere", "", nil)
	waitTotal(t, l, 3)
	got := all(t, l)
	missing, stream, set := got[0], got[1], got[2]
	if set.Username != "bob" || set.Target != "/the/key" || set.Status != 202 {
		t.Errorf("SetUser/SetTarget: %+v", set)
	}
	if stream.Username != "alice" || stream.Status != 200 || !stream.Success {
		t.Errorf("stream: %+v", stream)
	}
	if missing.Status != 404 || missing.Success || missing.Operation != "PUT /nowhere" || missing.Result != "404 Not Found" {
		t.Errorf("unmatched: %+v", missing)
	}
}

func TestPanicRecordedAs500(t *testing.T) {
	l := newLog(t, Options{})
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the recovery middleware")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/kv/v3/put", nil))
	}()
	waitTotal(t, l, 1)
	if e := all(t, l)[0]; e.Status != 500 || e.Success {
		t.Errorf("panic entry: %+v", e)
	}
}

func TestIdentifyRunsBeforeTheHandler(t *testing.T) {
	// A logout revokes the session that names its caller: the name must be
	// taken before the handler runs.
	valid := true
	l := newLog(t, Options{Identify: func(*http.Request) string {
		if valid {
			return "gina"
		}
		return ""
	}})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { valid = false }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/auth/logout", nil))
	waitTotal(t, l, 1)
	if e := all(t, l)[0]; e.Username != "gina" {
		t.Errorf("logout by %q, want gina", e.Username)
	}
}

func TestDropsCountedWhenBufferFull(t *testing.T) {
	// A Log whose flusher never runs: the buffer fills and stays full.
	l := &Log{opts: Options{NodeID: 1}, entries: make(chan *Entry, 2), stopc: make(chan struct{})}
	for i := 0; i < 5; i++ {
		l.Record(Entry{Operation: "POST /x", Status: 200})
	}
	if l.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", l.Dropped())
	}
	close(l.stopc)
	l.Record(Entry{})
	if l.Dropped() != 4 {
		t.Fatalf("after close: dropped %d, want 4", l.Dropped())
	}
}

func TestKeysUniqueAndOrdered(t *testing.T) {
	l := &Log{}
	at := time.Now().UnixNano()
	a, b, c := l.uniqueNanos(at), l.uniqueNanos(at), l.uniqueNanos(at-5)
	if !(a < b && b < c) {
		t.Fatalf("nanos %d %d %d not increasing", a, b, c)
	}
	if batchKey(a, 2, 5, a) >= batchKey(b, 1, 1, b) || batchKey(9, 1, 1, 1) >= batchKey(10, 1, 1, 1) {
		t.Fatalf("keys do not sort by time")
	}
	m, err := parseBatchKey(batchKey(c, 3, 42, a))
	if err != nil || m.last != c || m.node != 3 || m.count != 42 || m.first != a {
		t.Fatalf("batch key round trip: %+v, %v", m, err)
	}
}

// A handler's own encoded params replace the request's; anything but a
// JSON object leaves the request's in place.
func TestSetParamsJSON(t *testing.T) {
	l := newLog(t, Options{})
	r := chi.NewRouter()
	r.Use(l.Middleware)
	r.Post("/own/{params}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		SetParamsJSON(r.Context(), []byte(chi.URLParam(r, "params")))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, p := range []string{`{"ttl":5}`, `{"ttl":`, `[1]`} {
		if code := send(t, http.MethodPost, srv.URL+"/own/"+url.PathEscape(p), "application/json", strings.NewReader(`{"v":1}`)); code != 200 {
			t.Fatalf("POST %s: %d", p, code)
		}
	}
	waitTotal(t, l, 3)
	got := map[string]string{}
	for _, e := range all(t, l) {
		got[e.Target] = e.Params
	}
	if p := got["/own/"+`{"ttl":5}`]; p != `{"ttl":5}` {
		t.Errorf("valid params recorded as %q", p)
	}
	for _, bad := range []string{`{"ttl":`, `[1]`} {
		if p := got["/own/"+bad]; !strings.Contains(p, `"v":1`) {
			t.Errorf("params %s: recorded %q, want the request body's", bad, p)
		}
	}
}

// Inside the server's chain (a request with an httpx.Scope) the slot and
// the session memo go in the scope: the handler gets the request's own
// context, and what it tells the slot still reaches the entry.
func TestMiddlewareUsesRequestScope(t *testing.T) {
	l := newLog(t, Options{})
	var outer context.Context
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context() != outer {
			t.Error("the audit middleware replaced the context of a request with a scope")
		}
		SetUser(r.Context(), "scoped-user")
		SetTarget(r.Context(), "/scoped/key")
		SetParamsJSON(r.Context(), []byte(`{"scoped":true}`))
		w.WriteHeader(http.StatusAccepted)
	}))
	sc := &httpx.Scope{RequestID: "rid-9"}
	req := httptest.NewRequest(http.MethodPost, "/api/kv/v3/put", strings.NewReader(`{}`))
	outer = httpx.WithScope(req.Context(), sc)
	h.ServeHTTP(httptest.NewRecorder(), req.WithContext(outer))
	if sc.Audit == nil || sc.SessionMemo == nil {
		t.Fatalf("scope after the request: audit slot %v, session memo %v", sc.Audit, sc.SessionMemo)
	}
	waitTotal(t, l, 1)
	e := all(t, l)[0]
	if e.Username != "scoped-user" || e.Target != "/scoped/key" || e.Params != `{"scoped":true}` || e.RequestID != "rid-9" || e.Status != 202 {
		t.Errorf("entry %+v", e)
	}
}

// The handler reads the body it would have read without the audit: the
// peeked head, then the rest, whatever the size, however it reads, and
// with the same error when the body fails.
func TestPeekedBodyReadsUnchanged(t *testing.T) {
	for _, size := range []int{0, 1, 7, MaxBodyBytes, MaxBodyBytes + 1, 3*MaxBodyBytes + 5} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte('a' + i%26)
		}
		for _, sized := range []bool{true, false} {
			r := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(want))
			if !sized {
				r.ContentLength = -1
			}
			peekBody(r)
			got, err := io.ReadAll(iotest.OneByteReader(r.Body))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("size %d (sized %v): read %d bytes, %v", size, sized, len(got), err)
			}
		}
	}
	failing := errors.New("connection reset")
	r := httptest.NewRequest(http.MethodPost, "/x", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(failing)))
	r.ContentLength = -1
	peekBody(r)
	if got, err := io.ReadAll(r.Body); string(got) != "abc" || !errors.Is(err, failing) {
		t.Fatalf("failing body: read %q, %v", got, err)
	}
}
