package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Fuzz targets for the module's routes, on one real one-node store per
// target shared by all its iterations, through the module's own router
// (no auth: it is not what is tested here). Common properties: no panic,
// never a 5xx (the store is healthy, so anything wrong is the client's),
// a 2xx only for a request that validates, and a refused request writes
// nothing (the store's revision does not move).

// fuzzModule starts a one-node store that leads and mounts the module on
// a router. Expired keys are never swept (TTLInterval of a day), so only
// the fuzzed requests move the revision.
func fuzzModule(f *testing.F) (*Module, http.Handler, *store.Store) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{
		DataDir: f.TempDir(),
		Raft: raft.Config{
			ID: 1, Name: "node-1", PeerAddr: ln.Addr().String(), Listener: ln,
			SnapshotCount: 100000, SnapshotCatchupEntries: 5000,
			TickInterval: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
			RequestTimeout: 10 * time.Second,
		},
		Logger:      quiet,
		TTLInterval: 24 * time.Hour,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	for deadline := time.Now().Add(10 * time.Second); !st.Raft().IsLeader(); {
		if time.Now().After(deadline) {
			f.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ns, err := st.Namespace("kv")
	if err != nil {
		f.Fatal(err)
	}
	m := &Module{}
	m.Defaults()
	if err := m.Provision(context.Background(), module.Host{Store: ns, Cluster: st.Raft(), Logger: quiet}); err != nil {
		f.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		f.Fatal(err)
	}
	r := chi.NewRouter()
	m.Routes(r)
	return m, r, st
}

func fuzzCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantPut is the fuzz tests' own rule for a put body that validates.
func wantPut(req *PutRequest, v2 bool) bool {
	value := req.Value
	if v2 && req.Dir {
		value = ""
	}
	ok := req.Key != "" && len(req.Key) <= MaxKeyBytes && len(value) <= MaxValueBytes &&
		req.TTL >= 0 && req.TTL <= MaxTTL &&
		(req.PrevValue == nil || len(*req.PrevValue) <= MaxValueBytes) &&
		(req.PrevVersion == nil || *req.PrevVersion >= 0)
	if v2 {
		ok = ok && path.Clean("/"+req.Key) != "/"
	}
	return ok
}

// errorShape checks an error answer is etcdmonitor's ErrorResponse.
func errorShape(t *testing.T, w *httptest.ResponseRecorder) ErrorResponse {
	t.Helper()
	var e ErrorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Code == "" || e.Message != e.Error {
		t.Fatalf("%d answer is not an etcdmonitor error: %s", w.Code, w.Body)
	}
	return e
}

func do(h http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", bytes.NewReader(body))
	r.URL.Path, r.URL.RawQuery = target, ""
	if p, q, ok := strings.Cut(target, "?"); ok {
		r.URL.Path, r.URL.RawQuery = p, q
	}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// FuzzKVWrite: v3 and v2 put and delete with any body. Besides the common
// properties: a put answers 200 or 409 for a body that validates and 400
// or 413 for one that does not; after a 200 put the key reads back with
// the value and revision the answer gave; after a 200 delete the key is
// gone.
func FuzzKVWrite(f *testing.F) {
	m, h, st := fuzzModule(f)
	ns := m.ns
	const (
		v3Put = iota
		v3Delete
		v2Put
		v2Delete
		nOps
	)
	for _, seed := range []struct {
		op   uint8
		body string
	}{
		{v3Put, `{"key":"a","value":"1"}`},
		{v3Put, `{"key":"a/b","value":"2","ttl":60}`},
		{v3Put, `{"key":"new","value":"x","prev_version":0}`},
		{v3Put, `{"key":"a","value":"y","prev_value":"1"}`},
		{v3Put, `{"key":"a","value":"y","prev_value":"nope","prev_version":1}`},
		{v3Put, `{"key":"a","value":"y","prev_version":-1}`},
		{v3Put, `{"key":"a","ttl":9000000001}`},
		{v3Put, `{"key":"a","ttl":-1}`},
		{v3Put, `{"key":"a","ttl":1e3}`},
		{v3Put, `{"key":"a","ttl":9223372036854775808}`},
		{v3Put, `{"key":"","value":"x"}`},
		{v3Put, `{"key":"` + strings.Repeat("k", MaxKeyBytes+1) + `"}`},
		{v3Put, `{"key":"\u00e9\u4e16\ud83d\ude00","value":"\ud800\u0000"}`},
		{v3Put, `{"key":"a","value":1}`},
		{v3Put, `{"key":"a","dir":true}`},
		{v3Put, `{"key":"a","extra":{}}`},
		{v3Put, `{"key":"a"}{"key":"b"}`},
		{v3Put, `{"key":"a"}` + "\n\x00"},
		{v3Put, `[{"key":"a"}]`}, {v3Put, `null`}, {v3Put, ``}, {v3Put, `{`}, {v3Put, "\xff"},
		{v3Delete, `{"key":"a"}`},
		{v3Delete, `{"key":"a","dir":true}`},
		{v3Delete, `{"key":"/","dir":true}`},
		{v3Delete, `{"key":"missing"}`},
		{v3Delete, `{"key":""}`},
		{v3Delete, `{"key":"a","dir":"yes"}`},
		{v3Delete, ``},
		{v2Put, `{"key":"/dir/file","value":"v"}`},
		{v2Put, `{"key":"/dir","dir":true,"ttl":5}`},
		{v2Put, `{"key":"/dir/file/child","value":"v"}`},
		{v2Put, `{"key":"/dir","value":"now a file"}`},
		{v2Put, `{"key":"/dir","dir":true}`},
		{v2Put, `{"key":"/","value":"root"}`},
		{v2Put, `{"key":"a/../..","value":"root"}`},
		{v2Put, `{"key":"//x//y/./z/","value":"v"}`},
		{v2Put, `{"key":"/dir/file","value":"w","prev_value":"v"}`},
		{v2Put, `{"key":"/dir/file","value":"w","prev_version":0}`},
		{v2Put, `{"key":"` + strings.Repeat("d/", MaxKeyBytes/2-1) + `f","value":"deep"}`},
		{v2Delete, `{"key":"/dir/file"}`},
		{v2Delete, `{"key":"/dir"}`},
		{v2Delete, `{"key":"/dir","dir":true}`},
		{v2Delete, `{"key":"/"}`},
		{v2Delete, `{"key":".."}`},
		{v2Delete, `{"key":"/missing"}`},
		{v2Delete, `{}`},
	} {
		f.Add(seed.op, []byte(seed.body))
	}
	// modRevs reads the mod revision of every key a write of key may
	// touch (0 for a missing one): the v3 key, or the v2 path and its
	// directories.
	modRevs := func(ctx context.Context, op uint8, key string) map[string]int64 {
		var keys []string
		switch {
		case key == "" || len(key) > MaxKeyBytes:
		case op == v3Put || op == v3Delete:
			keys = []string{v3Prefix + key}
		default:
			p := path.Clean("/" + key)
			for _, a := range append(ancestors(p), p) {
				keys = append(keys, v2StoreKey(a))
			}
		}
		out := map[string]int64{}
		for _, k := range keys {
			kv, err := ns.Get(ctx, k, store.ReadOptions{Serializable: true})
			if err == nil {
				out[k] = kv.ModRevision
			} else if !errors.Is(err, store.ErrNotFound) {
				panic(err)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		ctx := fuzzCtx(t)
		op %= nOps
		var target struct{ Key string }
		json.Unmarshal(body, &target) // best effort: which keys to watch
		watched := modRevs(ctx, op, target.Key)
		before := st.Revision()
		var w *httptest.ResponseRecorder
		switch op {
		case v3Put:
			w = do(h, http.MethodPut, "/api/kv/v3/put", body)
		case v3Delete:
			w = do(h, http.MethodPost, "/api/kv/v3/delete", body)
		case v2Put:
			w = do(h, http.MethodPut, "/api/kv/v2/put", body)
		case v2Delete:
			w = do(h, http.MethodPost, "/api/kv/v2/delete", body)
		}
		if w.Code >= 500 {
			t.Fatalf("op %d: status %d for %q: %s", op, w.Code, body, w.Body)
		}
		if w.Code != http.StatusOK {
			errorShape(t, w)
			// A request refused after it was checked against the store
			// (409) may have proposed a transaction whose compares
			// failed, which takes a revision and writes nothing; any
			// other refusal proposes nothing at all.
			if w.Code == http.StatusConflict {
				if after := modRevs(ctx, op, target.Key); !maps.Equal(after, watched) {
					t.Fatalf("op %d: 409 for %q, yet keys changed: %v -> %v", op, body, watched, after)
				}
			} else if after := st.Revision(); after != before {
				t.Fatalf("op %d: %d for %q, yet the revision moved from %d to %d", op, w.Code, body, before, after)
			}
		}
		switch op {
		case v3Put, v2Put:
			var req PutRequest
			valid := testutil.StrictJSON(body, &req) && wantPut(&req, op == v2Put)
			switch {
			case !valid && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge:
				t.Fatalf("put: %d for an invalid body %q: %s", w.Code, body, w.Body)
			case valid && w.Code != http.StatusOK && w.Code != http.StatusConflict:
				t.Fatalf("put: %d for a valid body %q: %s", w.Code, body, w.Body)
			case w.Code != http.StatusOK:
				return
			}
			var ans NodeResponse
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			if op == v3Put {
				kv, err := ns.Get(ctx, v3Prefix+req.Key, store.ReadOptions{})
				if err != nil || string(kv.Value) != req.Value || ans.Node.Key != req.Key || ans.Node.Value != req.Value ||
					kv.ModRevision != ans.Node.ModifiedIndex || kv.Version != ans.Node.Version {
					t.Fatalf("put %q answered %+v; the store has %+v (%v)", body, ans.Node, kv, err)
				}
				return
			}
			p := path.Clean("/" + req.Key)
			g := do(h, http.MethodGet, "/api/kv/v2/get?"+url.Values{"key": {p}}.Encode(), nil)
			var got NodeResponse
			if g.Code != http.StatusOK || json.Unmarshal(g.Body.Bytes(), &got) != nil {
				t.Fatalf("v2 put %q answered 200; get %s: %d %s", body, p, g.Code, g.Body)
			}
			if got.Node.Key != p || got.Node.Dir != req.Dir || (!req.Dir && got.Node.Value != req.Value) ||
				got.Node.ModifiedIndex != ans.Node.ModifiedIndex {
				t.Fatalf("v2 put %q answered %+v; get answers %+v", body, ans.Node, got.Node)
			}
		case v3Delete:
			var req DeleteRequest
			valid := testutil.StrictJSON(body, &req) && req.Key != "" && len(req.Key) <= MaxKeyBytes
			if valid != (w.Code == http.StatusOK) {
				t.Fatalf("v3 delete: %d for %q (valid: %v): %s", w.Code, body, valid, w.Body)
			}
			if valid {
				if _, err := ns.Get(ctx, v3Prefix+req.Key, store.ReadOptions{}); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("key %q still there after delete: %v", req.Key, err)
				}
			}
		case v2Delete:
			var req DeleteRequest
			valid := testutil.StrictJSON(body, &req) && req.Key != "" && len(req.Key) <= MaxKeyBytes && path.Clean("/"+req.Key) != "/"
			if !valid && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("v2 delete: %d for an invalid body %q: %s", w.Code, body, w.Body)
			}
			if valid && w.Code == http.StatusBadRequest {
				t.Fatalf("v2 delete: 400 for a valid body %q: %s", body, w.Body)
			}
			if w.Code == http.StatusOK {
				p := path.Clean("/" + req.Key)
				if g := do(h, http.MethodGet, "/api/kv/v2/get?"+url.Values{"key": {p}}.Encode(), nil); g.Code != http.StatusNotFound {
					t.Fatalf("%s still there after delete: %d %s", p, g.Code, g.Body)
				}
			}
		}
	})
}

// cancelOnHeader ends a watch's request as soon as it answers, so the
// stream returns.
type cancelOnHeader struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelOnHeader) WriteHeader(code int) {
	c.ResponseRecorder.WriteHeader(code)
	c.cancel()
}

// FuzzKVRead: every GET route (and connect's POST) with any query, and
// the watch with any Last-Event-ID. Besides no 5xx: a 200 only when
// revision is empty or a revision from 1 to the current one, serializable
// and prefix empty or a boolean, tab_id empty or "default", and get's key
// given and within the limit; a v3 get answers what the store holds.
func FuzzKVRead(f *testing.F) {
	m, h, st := fuzzModule(f)
	ctx := context.Background()
	for _, k := range []string{"a", "a/b", "a/b/c", "b", "\u4e16"} {
		if _, err := m.ns.Put(ctx, v3Prefix+k, []byte("v-"+k), store.PutOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"/d", "/d/e"} {
		if _, err := m.ns.Put(ctx, v2StoreKey(p), []byte{v2Dir}, store.PutOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := m.ns.Put(ctx, v2StoreKey("/d/e/f"), fileRecord("file"), store.PutOptions{}); err != nil {
		f.Fatal(err)
	}
	if err := st.Compact(ctx, 3); err != nil {
		f.Fatal(err)
	}
	routes := []string{
		"/api/kv/v3/get", "/api/kv/v3/keys", "/api/kv/v3/getpath", "/api/kv/v3/separator", "/api/kv/v3/connect",
		"/api/kv/v2/get", "/api/kv/v2/keys", "/api/kv/v2/getpath", "/api/kv/v2/separator", "/api/kv/v2/connect",
		"/api/kv/v3/watch",
	}
	const watch = 10
	for _, seed := range []struct {
		route        uint8
		query, event string
	}{
		{0, "key=a", ""}, {0, "key=a&revision=4", ""}, {0, "key=a&revision=1", ""}, {0, "key=a&revision=99999", ""},
		{0, "key=a&serializable=true", ""}, {0, "key=a&serializable=yes", ""}, {0, "key=missing", ""}, {0, "", ""},
		{0, "key=a&revision=-1", ""}, {0, "key=a&revision=9223372036854775808", ""}, {0, "key=%E4%B8%96", ""},
		{0, "key=a&tab_id=default", ""}, {0, "key=a&tab_id=other", ""}, {0, "key=a&key=b", ""}, {0, "key=%zz", ""},
		{0, "key=" + strings.Repeat("k", MaxKeyBytes+1), ""},
		{1, "", ""}, {1, "revision=5", ""}, {2, "key=a", ""}, {2, "key=a/", ""}, {2, "key=/", ""}, {2, "key=zz", ""},
		{3, "", ""}, {4, "", ""}, {4, "tab_id=x", ""},
		{5, "key=/d", ""}, {5, "key=/d/e/f", ""}, {5, "key=d/../d/e", ""}, {5, "key=/", ""}, {5, "key=/nope", ""},
		{5, "", ""}, {6, "serializable=1", ""}, {7, "key=/d", ""}, {7, "key=/nope", ""}, {7, "key=/d/e/f&revision=2", ""},
		{8, "", ""}, {9, "", ""},
		{watch, "key=a", ""}, {watch, "key=a&prefix=true", ""}, {watch, "key=&prefix=true", ""}, {watch, "", ""},
		{watch, "key=a&start_revision=1", ""}, {watch, "key=a&start_revision=5", ""}, {watch, "key=a&start_revision=x", ""},
		{watch, "key=a&start_revision=999999", ""}, {watch, "key=a", "5"}, {watch, "key=a", "5:2"}, {watch, "key=a", "0"},
		{watch, "key=a", "5:0"}, {watch, "key=a", "x:y"}, {watch, "key=a", "9223372036854775807"}, {watch, "key=a&prefix=maybe", ""},
	} {
		f.Add(seed.route, seed.query, seed.event)
	}
	f.Fuzz(func(t *testing.T, route uint8, query, event string) {
		rt := int(route) % len(routes)
		method := http.MethodGet
		if strings.HasSuffix(routes[rt], "/connect") && route >= 128 {
			method = http.MethodPost
		}
		rctx, cancel := context.WithCancel(fuzzCtx(t))
		defer cancel()
		r := httptest.NewRequest(method, routes[rt], strings.NewReader(query)).WithContext(rctx)
		r.URL.RawQuery = query
		if event != "" {
			r.Header.Set("Last-Event-ID", event)
		}
		rec := httptest.NewRecorder()
		var w http.ResponseWriter = rec
		if rt == watch {
			w = &cancelOnHeader{rec, cancel}
		}
		current := st.Revision()
		h.ServeHTTP(w, r)
		if rec.Code >= 500 {
			t.Fatalf("%s?%s: status %d: %s", routes[rt], query, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			errorShape(t, rec)
			return
		}
		q := r.URL.Query() // a malformed pair is dropped, as the handler sees it
		if tab := q.Get("tab_id"); tab != "" && tab != "default" {
			t.Fatalf("200 for tab_id %q", tab)
		}
		if strings.HasSuffix(routes[rt], "/separator") || strings.HasSuffix(routes[rt], "/connect") {
			return
		}
		revParam := "revision"
		if rt == watch {
			revParam = "start_revision"
		}
		if v := q.Get(revParam); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || (rt != watch && n > current) {
				t.Fatalf("200 for %s=%q (current revision %d)", revParam, v, current)
			}
		}
		boolParam := "serializable"
		if rt == watch {
			boolParam = "prefix"
		}
		if v := q.Get(boolParam); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				t.Fatalf("200 for %s=%q", boolParam, v)
			}
		}
		if rt == watch {
			if !strings.HasPrefix(rec.Body.String(), ": watching from revision ") {
				t.Fatalf("watch answered %q", rec.Body)
			}
			return
		}
		var ans NodeResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatalf("%s: %v: %s", routes[rt], err, rec.Body)
		}
		if rt == 0 { // v3 get
			key := q.Get("key")
			if key == "" || len(key) > MaxKeyBytes {
				t.Fatalf("v3 get 200 for key %q", key)
			}
			kv, err := m.ns.Get(fuzzCtx(t), v3Prefix+key, store.ReadOptions{Revision: mustInt(q.Get("revision"))})
			if err != nil || ans.Node.Key != key || ans.Node.Value != string(kv.Value) || ans.Node.ModifiedIndex != kv.ModRevision {
				t.Fatalf("v3 get %q answered %+v; the store has %+v (%v)", key, ans.Node, kv, err)
			}
		}
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// TestParseEventIDOverflow: "R" resumes at R+1, so the largest revision
// is refused rather than wrapping to a negative one, which the store
// refused with a 500 (found by FuzzKVRead).
func TestParseEventIDOverflow(t *testing.T) {
	if _, _, err := parseEventID("9223372036854775807"); err == nil {
		t.Fatal("accepted a revision that overflows on resume")
	}
	if rev, k, err := parseEventID("9223372036854775807:1"); err != nil || rev != 9223372036854775807 || k != 1 {
		t.Fatalf("R:k at the largest revision: %d %d %v", rev, k, err)
	}
}
