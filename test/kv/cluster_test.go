package kvtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCluster runs the KV API on one 3-node cluster: shapes, replication,
// revisions, compare-and-swap, TTL, v2 directories, permissions and bad
// input. Subtests use their own keys.
func TestCluster(t *testing.T) {
	c := startCluster(t, 3)
	t.Run("Shapes", func(t *testing.T) { testShapes(t, c) })
	t.Run("PutOnOneReadOnOthers", func(t *testing.T) { testReplication(t, c) })
	t.Run("VersionsAndRevisions", func(t *testing.T) { testRevisions(t, c) })
	t.Run("CompareAndSwap", func(t *testing.T) { testCAS(t, c) })
	t.Run("TTLExpirySeenByEveryNode", func(t *testing.T) { testTTL(t, c) })
	t.Run("V2Directories", func(t *testing.T) { testV2(t, c) })
	t.Run("V2DirectoryTTL", func(t *testing.T) { testV2DirTTL(t, c) })
	t.Run("Permissions", func(t *testing.T) { testPermissions(t, c) })
	t.Run("BadInputChangesNothing", func(t *testing.T) { testBadInput(t, c) })
	t.Run("WatchResumes", func(t *testing.T) { testWatchResume(t, c) })
}

// fields returns a JSON object's keys, sorted.
func fields(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func wantFields(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := fields(m); !slices.Equal(got, want) {
		t.Fatalf("%s: fields %v, want %v (%v)", what, got, want, m)
	}
}

// nodeOf returns the "node" object of an answer, checking it is the only
// field, as etcdmonitor's NodeResponse.
func nodeOf(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want 200, got %s", r)
	}
	m := r.json(t)
	wantFields(t, "node response", m, "node")
	n, ok := m["node"].(map[string]any)
	if !ok {
		t.Fatalf("node is not an object: %s", r.body)
	}
	return n
}

// checkTypes checks every field of an etcdmonitor node (and its children)
// has etcdmonitor's JSON type.
func checkTypes(t *testing.T, n map[string]any) {
	t.Helper()
	for k, v := range n {
		ok := false
		switch k {
		case "key", "value":
			_, ok = v.(string)
		case "dir":
			_, ok = v.(bool)
		case "ttl", "createdIndex", "modifiedIndex", "version":
			f, isNum := v.(float64)
			ok = isNum && f == float64(int64(f)) && f > 0 // omitempty: never 0
		case "nodes":
			var kids []any
			if kids, ok = v.([]any); ok && len(kids) > 0 {
				for _, kid := range kids {
					checkTypes(t, kid.(map[string]any))
				}
			} else {
				ok = false // omitempty: never empty
			}
		}
		if !ok {
			t.Fatalf("node field %q = %#v: not etcdmonitor's type", k, v)
		}
	}
}

// testShapes drives the API the way etcdmonitor's web/kv.js does and
// checks every answer field by field against etcdmonitor's types.
func testShapes(t *testing.T, c *cluster) {
	// connect: POST with no body (kvConnect), and GET; v3 and v2.
	for _, api := range []string{"v3", "v2"} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			var m map[string]any
			eventually(t, 10*time.Second, "connect names the leader", func() bool {
				r := c.do(2, method, "/api/kv/"+api+"/connect", c.admin, nil)
				if r.status != http.StatusOK {
					t.Fatalf("%s %s connect: %s", method, api, r)
				}
				m = r.json(t)
				return m["name"] != ""
			})
			wantFields(t, "connect", m, "version", "name", "size", "size_str")
			if _, ok := m["size"].(float64); !ok || m["version"] == "" || !strings.HasSuffix(m["size_str"].(string), "B") {
				t.Fatalf("connect %v", m)
			}
		}
		r := c.get(1, "/api/kv/"+api+"/separator")
		if r.status != http.StatusOK || r.body != `{"separator":"/"}` {
			t.Fatalf("separator: %s", r)
		}
	}

	// v3: create (kvSubmitCreate sends key, value, ttl, dir), save
	// (kvSaveValue sends key, value), select (get), expand (getpath),
	// tree (keys), delete (key, dir).
	n := nodeOf(t, c.put(1, "v3", map[string]any{"key": "/shape/a", "value": "1", "ttl": 0, "dir": false}))
	wantFields(t, "v3 put", n, "key", "value", "dir", "createdIndex", "modifiedIndex", "version")
	checkTypes(t, n)
	n = nodeOf(t, c.put(1, "v3", map[string]any{"key": "/shape/a", "value": "2"}))
	if n["value"] != "2" || n["version"] != float64(2) {
		t.Fatalf("saved node %v", n)
	}
	n = nodeOf(t, c.put(1, "v3", map[string]any{"key": "/shape/t", "value": "x", "ttl": 600, "dir": true}))
	wantFields(t, "v3 put with ttl", n, "key", "value", "dir", "ttl", "createdIndex", "modifiedIndex", "version")
	n = nodeOf(t, c.get(2, "/api/kv/v3/get?key="+q("/shape/a")))
	wantFields(t, "v3 get", n, "key", "value", "dir", "createdIndex", "modifiedIndex", "version")
	checkTypes(t, n)
	n = nodeOf(t, c.get(2, "/api/kv/v3/get?key="+q("/shape/t")))
	if ttl := n["ttl"].(float64); ttl < 590 || ttl > 600 {
		t.Fatalf("ttl %v, want about 600", ttl)
	}
	n = nodeOf(t, c.get(3, "/api/kv/v3/getpath?key="+q("/shape")))
	wantFields(t, "v3 getpath", n, "key", "dir", "nodes")
	checkTypes(t, n)
	if n["key"] != "/shape" || n["dir"] != true || len(n["nodes"].([]any)) != 2 {
		t.Fatalf("getpath %v", n)
	}
	if kid := n["nodes"].([]any)[1].(map[string]any); kid["key"] != "/shape/t" || kid["value"] != "x" || kid["ttl"] == nil {
		t.Fatalf("getpath child %v, want value and ttl", kid)
	}
	n = nodeOf(t, c.get(3, "/api/kv/v3/keys"))
	checkTypes(t, n)
	if n["key"] != "/" || n["dir"] != true {
		t.Fatalf("keys root %v", n)
	}
	if strings.Contains(c.get(3, "/api/kv/v3/keys").body, `"value"`) || strings.Contains(c.get(3, "/api/kv/v3/keys").body, `"ttl"`) {
		t.Fatal("keys answers values or ttls")
	}
	r := c.del(1, "v3", map[string]any{"key": "/shape/a", "dir": false})
	if r.status != http.StatusOK || r.body != `{"message":"ok"}` {
		t.Fatalf("delete: %s", r)
	}
	// kvSelectNode tells an expired leaf by code key_not_found.
	r = c.get(1, "/api/kv/v3/get?key="+q("/shape/a"))
	wantError(t, r, http.StatusNotFound, "key_not_found")
	wantFields(t, "error", r.json(t), "error", "code", "message")

	// v2: create a directory and a file, then the same reads.
	n = nodeOf(t, c.put(1, "v2", map[string]any{"key": "/shape2", "value": "", "ttl": 0, "dir": true}))
	wantFields(t, "v2 dir put", n, "key", "dir", "createdIndex", "modifiedIndex")
	n = nodeOf(t, c.put(1, "v2", map[string]any{"key": "/shape2/f", "value": "v", "ttl": 0, "dir": false}))
	wantFields(t, "v2 file put", n, "key", "value", "dir", "createdIndex", "modifiedIndex")
	checkTypes(t, n)
	n = nodeOf(t, c.get(2, "/api/kv/v2/get?key="+q("/shape2/f")))
	wantFields(t, "v2 get", n, "key", "value", "dir", "createdIndex", "modifiedIndex")
	n = nodeOf(t, c.get(2, "/api/kv/v2/get?key="+q("/shape2")))
	wantFields(t, "v2 get dir", n, "key", "dir", "createdIndex", "modifiedIndex", "nodes")
	checkTypes(t, n)
	n = nodeOf(t, c.get(2, "/api/kv/v2/getpath?key="+q("/shape2")))
	checkTypes(t, n)
	n = nodeOf(t, c.get(2, "/api/kv/v2/keys"))
	checkTypes(t, n)
	if n["key"] != "/" || strings.Contains(c.get(2, "/api/kv/v2/keys").body, `"value"`) {
		t.Fatalf("v2 keys %v", n)
	}
	// The frontend sends tab_id only for a non-default tab.
	if r := c.get(1, "/api/kv/v2/get?tab_id=default&key="+q("/shape2/f")); r.status != http.StatusOK {
		t.Fatalf("tab_id=default: %s", r)
	}
	wantError(t, c.get(1, "/api/kv/v3/keys?tab_id=t1"), http.StatusNotFound, "KV_TAB_NOT_FOUND")
	r = c.del(1, "v2", map[string]any{"key": "/shape2", "dir": true})
	if r.status != http.StatusOK || r.body != `{"message":"ok"}` {
		t.Fatalf("v2 delete: %s", r)
	}
}

func testReplication(t *testing.T, c *cluster) {
	for i := 1; i <= 3; i++ {
		key := fmt.Sprintf("/repl/from-%d", i)
		w := c.mustPut(i, "v3", map[string]any{"key": key, "value": fmt.Sprint("written on ", i)})
		for j := 1; j <= 3; j++ {
			// Linearizable by default: seen at once on every node.
			got := c.get(j, "/api/kv/v3/get?key="+q(key)).node(t)
			if got.Value != w.Value || got.ModifiedIndex != w.ModifiedIndex || got.CreatedIndex != w.CreatedIndex || got.Version != 1 {
				t.Fatalf("node %d reads %+v, node %d wrote %+v", j, got, i, w)
			}
		}
		v2key := fmt.Sprintf("/repl2/d%d/f", i)
		w = c.mustPut(i, "v2", map[string]any{"key": v2key, "value": "x"})
		for j := 1; j <= 3; j++ {
			if got := c.get(j, "/api/kv/v2/get?key="+q(v2key)).node(t); got.Value != "x" || got.ModifiedIndex != w.ModifiedIndex {
				t.Fatalf("v2: node %d reads %+v, node %d wrote %+v", j, got, i, w)
			}
		}
	}
	// Serializable reads are local; once applied everywhere they agree.
	c.waitApplied()
	for j := 1; j <= 3; j++ {
		if r := c.get(j, "/api/kv/v3/get?serializable=true&key="+q("/repl/from-3")); r.node(t).Value != "written on 3" {
			t.Fatalf("serializable read on node %d: %s", j, r)
		}
	}
	// v2 and v3 do not see each other's keys.
	wantError(t, c.get(1, "/api/kv/v2/get?key="+q("/repl/from-1")), http.StatusNotFound, "key_not_found")
	wantError(t, c.get(1, "/api/kv/v3/get?key="+q("/repl2/d1/f")), http.StatusNotFound, "key_not_found")
}

func testRevisions(t *testing.T, c *cluster) {
	key := "/rev/k"
	var writes []node
	for i := 1; i <= 3; i++ {
		writes = append(writes, c.mustPut(i, "v3", map[string]any{"key": key, "value": fmt.Sprint("v", i)}))
	}
	for i, w := range writes {
		if w.Version != int64(i+1) || w.CreatedIndex != writes[0].CreatedIndex {
			t.Fatalf("write %d: %+v", i, w)
		}
		if i > 0 && w.ModifiedIndex <= writes[i-1].ModifiedIndex {
			t.Fatalf("modifiedIndex not increasing: %+v after %+v", w, writes[i-1])
		}
	}
	if writes[0].CreatedIndex != writes[0].ModifiedIndex {
		t.Fatalf("first write %+v: createdIndex != modifiedIndex", writes[0])
	}
	// Reads at a revision, on another node.
	for i, w := range writes {
		got := c.get(2, fmt.Sprintf("/api/kv/v3/get?key=%s&revision=%d", q(key), w.ModifiedIndex)).node(t)
		if got.Value != fmt.Sprint("v", i+1) || got.Version != w.Version || got.ModifiedIndex != w.ModifiedIndex {
			t.Fatalf("at revision %d: %+v, want %+v", w.ModifiedIndex, got, w)
		}
	}
	wantError(t, c.get(3, fmt.Sprintf("/api/kv/v3/get?key=%s&revision=%d", q(key), writes[0].CreatedIndex-1)), http.StatusNotFound, "key_not_found")
	wantError(t, c.get(3, "/api/kv/v3/get?key="+q(key)+"&revision=999999999"), http.StatusBadRequest, "future_revision")
	// A delete and a re-create start the version over.
	if r := c.del(1, "v3", map[string]any{"key": key}); r.status != http.StatusOK {
		t.Fatal(r)
	}
	again := c.mustPut(2, "v3", map[string]any{"key": key, "value": "new"})
	if again.Version != 1 || again.CreatedIndex <= writes[2].ModifiedIndex {
		t.Fatalf("re-created key %+v", again)
	}
	// A delete of a missing key is fine (etcd and etcdmonitor).
	if r := c.del(3, "v3", map[string]any{"key": "/rev/none"}); r.status != http.StatusOK {
		t.Fatalf("delete of a missing key: %s", r)
	}
	// dir: true deletes the key and everything under key + "/".
	for _, k := range []string{"/rev/d", "/rev/d/1", "/rev/d/2/3", "/rev/dx"} {
		c.mustPut(1, "v3", map[string]any{"key": k, "value": "x"})
	}
	if r := c.del(2, "v3", map[string]any{"key": "/rev/d", "dir": true}); r.status != http.StatusOK {
		t.Fatal(r)
	}
	tree := c.get(3, "/api/kv/v3/getpath?key="+q("/rev")).node(t)
	var left []string
	for _, n := range tree.Nodes {
		left = append(left, n.Key)
	}
	if strings.Join(left, ",") != "/rev/dx,/rev/k" {
		t.Fatalf("after deleting /rev/d with dir: %v", left)
	}
}

func testCAS(t *testing.T, c *cluster) {
	key := "/cas/k"
	for _, api := range []string{"v3", "v2"} {
		put := func(i int, body map[string]any) response {
			body["key"] = key
			return c.put(i, api, body)
		}
		// Create only if absent.
		first := put(1, map[string]any{"value": "a", "prev_version": 0}).node(t)
		wantError(t, put(2, map[string]any{"value": "b", "prev_version": 0}), http.StatusConflict, "compare_failed")
		wantError(t, put(3, map[string]any{"value": "b", "prev_value": "wrong"}), http.StatusConflict, "compare_failed")
		wantError(t, put(3, map[string]any{"value": "b", "prev_value": "a", "prev_version": 7}), http.StatusConflict, "compare_failed")
		if got := c.get(2, "/api/kv/"+api+"/get?key="+q(key)).node(t); got.Value != "a" || got.ModifiedIndex != first.ModifiedIndex {
			t.Fatalf("%s: a failed compare changed the key: %+v", api, got)
		}
		second := put(2, map[string]any{"value": "b", "prev_value": "a"}).node(t)
		if second.Value != "b" || second.ModifiedIndex <= first.ModifiedIndex {
			t.Fatalf("%s: swap %+v", api, second)
		}
		if api == "v3" {
			third := put(3, map[string]any{"value": "c", "prev_version": 2}).node(t)
			if third.Version != 3 {
				t.Fatalf("swap on version: %+v", third)
			}
		}
	}
}

func testTTL(t *testing.T, c *cluster) {
	for _, api := range []string{"v3", "v2"} {
		key := "/ttl/" + api
		var watch *stream
		if api == "v3" {
			watch, _ = c.watch(3, "key="+q(key), "")
		}
		w := c.mustPut(2, api, map[string]any{"key": key, "value": "short-lived", "ttl": 1})
		if w.TTL != 1 {
			t.Fatalf("%s put answered ttl %d", api, w.TTL)
		}
		keep := c.mustPut(2, api, map[string]any{"key": key + "-kept", "value": "stays", "ttl": 3600})
		for i := 1; i <= 3; i++ {
			r := c.get(i, "/api/kv/"+api+"/get?key="+q(key))
			if r.status == http.StatusOK && r.node(t).TTL != 1 {
				t.Fatalf("%s node %d: ttl %d, want 1", api, i, r.node(t).TTL)
			}
		}
		for i := 1; i <= 3; i++ {
			for _, ser := range []string{"false", "true"} {
				path := "/api/kv/" + api + "/get?serializable=" + ser + "&key=" + q(key)
				eventually(t, 15*time.Second, fmt.Sprintf("%s key expired on node %d (serializable=%s)", api, i, ser), func() bool {
					return c.get(i, path).status == http.StatusNotFound
				})
			}
			if r := c.get(i, "/api/kv/"+api+"/get?key="+q(key+"-kept")); r.status != http.StatusOK || r.node(t).ModifiedIndex != keep.ModifiedIndex {
				t.Fatalf("%s: the key with a long TTL is gone on node %d: %s", api, i, r)
			}
		}
		if watch != nil {
			for _, want := range []string{"PUT", "EXPIRE"} {
				ev, ok := watch.next(t, 10*time.Second)
				if !ok || ev.event.Type != want || ev.event.Key != key {
					t.Fatalf("watch: %+v (open %v), want %s %s", ev, ok, want, key)
				}
				if want == "EXPIRE" && ev.event.ModifiedIndex <= w.ModifiedIndex {
					t.Fatalf("EXPIRE at %d, put at %d", ev.event.ModifiedIndex, w.ModifiedIndex)
				}
			}
		}
	}
}

func testV2(t *testing.T, c *cluster) {
	put := func(i int, key string, dir bool, status int, code string) node {
		t.Helper()
		r := c.put(i, "v2", map[string]any{"key": key, "value": "val", "dir": dir})
		if status == http.StatusOK {
			if r.status != http.StatusOK {
				t.Fatalf("put %s (dir %v): %s", key, dir, r)
			}
			return r.node(t)
		}
		wantError(t, r, status, code)
		return node{}
	}
	del := func(key string, dir bool, status int, code string) {
		t.Helper()
		r := c.del(2, "v2", map[string]any{"key": key, "dir": dir})
		if status == http.StatusOK {
			if r.status != http.StatusOK || r.body != `{"message":"ok"}` {
				t.Fatalf("delete %s (dir %v): %s", key, dir, r)
			}
			return
		}
		wantError(t, r, status, code)
	}
	f := put(1, "/v2t/a/b/f", false, 200, "")
	// Parents are made as directories by the put.
	for _, p := range []string{"/v2t", "/v2t/a", "/v2t/a/b"} {
		n := c.get(3, "/api/kv/v2/get?key="+q(p)).node(t)
		if !n.Dir || n.Value != "" || n.CreatedIndex != f.ModifiedIndex || n.Version != 0 {
			t.Fatalf("parent %s: %+v", p, n)
		}
	}
	dir := c.get(3, "/api/kv/v2/get?key="+q("/v2t/a")).node(t)
	if len(dir.Nodes) != 1 || dir.Nodes[0].Key != "/v2t/a/b" || !dir.Nodes[0].Dir || dir.Nodes[0].Nodes != nil {
		t.Fatalf("get of a directory lists direct children only: %+v", dir)
	}
	put(2, "/v2t/a/b", false, http.StatusConflict, "not_a_file")          // file over a directory
	put(2, "/v2t/a/b", true, http.StatusConflict, "not_a_file")           // directory over a directory
	put(2, "/v2t/a/b/f/x", false, http.StatusConflict, "not_a_directory") // under a file
	put(2, "/", true, http.StatusBadRequest, "root_read_only")
	d := put(3, "/v2t/e", true, 200, "")
	if !d.Dir || d.Value != "" {
		t.Fatalf("dir put answered %+v", d)
	}
	// A directory over a file replaces it (etcd v2's set).
	put(1, "/v2t/g", false, 200, "")
	if n := put(1, "/v2t/g", true, 200, ""); !n.Dir {
		t.Fatalf("dir over file: %+v", n)
	}
	// Paths are cleaned like etcd v2's.
	if n := put(1, "v2t//h/", false, 200, ""); n.Key != "/v2t/h" {
		t.Fatalf("cleaned key %q", n.Key)
	}
	// Deletes: a directory needs dir: true.
	del("/v2t/a", false, http.StatusConflict, "dir_not_empty")
	del("/v2t/e", false, http.StatusConflict, "not_a_file")
	del("/v2t/none", false, http.StatusNotFound, "key_not_found")
	del("/", true, http.StatusBadRequest, "root_read_only")
	del("/v2t/e", true, 200, "")
	del("/v2t/a", true, 200, "")
	for i := 1; i <= 3; i++ {
		for _, p := range []string{"/v2t/a", "/v2t/a/b", "/v2t/a/b/f"} {
			wantError(t, c.get(i, "/api/kv/v2/get?key="+q(p)), http.StatusNotFound, "key_not_found")
		}
		// etcdmonitor answers a missing getpath with an empty directory.
		if r := c.get(i, "/api/kv/v2/getpath?key="+q("/v2t/a")); r.body != `{"node":{"key":"/v2t/a","dir":true}}` {
			t.Fatalf("getpath of a deleted directory: %s", r)
		}
	}
	tree := c.get(1, "/api/kv/v2/getpath?key="+q("/v2t")).node(t)
	var keys []string
	for _, n := range tree.Nodes {
		keys = append(keys, fmt.Sprintf("%s:%v", n.Key, n.Dir))
	}
	if strings.Join(keys, ",") != "/v2t/g:true,/v2t/h:false" {
		t.Fatalf("v2 tree left %v", keys)
	}
	// Re-creating a deleted directory starts empty.
	put(2, "/v2t/a/new", false, 200, "")
	if n := c.get(3, "/api/kv/v2/getpath?key="+q("/v2t/a")).node(t); len(n.Nodes) != 1 || n.Nodes[0].Key != "/v2t/a/new" {
		t.Fatalf("re-created directory %+v", n)
	}
}

func testV2DirTTL(t *testing.T, c *cluster) {
	d := c.mustPut(1, "v2", map[string]any{"key": "/v2ttl/d", "dir": true, "ttl": 1})
	if !d.Dir || d.TTL != 1 {
		t.Fatalf("dir with ttl: %+v", d)
	}
	c.mustPut(2, "v2", map[string]any{"key": "/v2ttl/d/sub/f", "value": "x"})
	c.mustPut(2, "v2", map[string]any{"key": "/v2ttl/other", "value": "y"})
	for i := 1; i <= 3; i++ {
		eventually(t, 15*time.Second, fmt.Sprintf("the directory and its files expired on node %d", i), func() bool {
			return c.get(i, "/api/kv/v2/get?serializable=true&key="+q("/v2ttl/d/sub/f")).status == http.StatusNotFound &&
				c.get(i, "/api/kv/v2/get?serializable=true&key="+q("/v2ttl/d")).status == http.StatusNotFound
		})
		tree := c.get(i, "/api/kv/v2/getpath?key="+q("/v2ttl")).node(t)
		if len(tree.Nodes) != 1 || tree.Nodes[0].Key != "/v2ttl/other" {
			t.Fatalf("node %d: tree after expiry %+v", i, tree)
		}
	}
	// The leader removes what the directory held from the store itself.
	for _, tn := range c.nodes {
		ns, err := tn.n.Store().Namespace("kv")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, fmt.Sprintf("node %d collects the expired directory's files", tn.id), func() bool {
			res, err := ns.List(t.Context(), "v2/v2ttl/d/", storeListAll)
			return err == nil && len(res.KVs) == 0
		})
	}
	// A new directory of the same name is empty.
	c.mustPut(3, "v2", map[string]any{"key": "/v2ttl/d", "dir": true})
	if n := c.get(1, "/api/kv/v2/getpath?key="+q("/v2ttl/d")).node(t); len(n.Nodes) != 0 {
		t.Fatalf("re-created directory holds %+v", n.Nodes)
	}
}

func testPermissions(t *testing.T, c *cluster) {
	viewer := c.userToken("vera", "viewer")
	operator := c.userToken("otto", "operator")
	c.mustPut(1, "v3", map[string]any{"key": "/perm/k", "value": "before"})
	c.mustPut(1, "v2", map[string]any{"key": "/perm/k", "value": "before"})
	for i := 1; i <= 3; i++ {
		for _, api := range []string{"v3", "v2"} {
			for _, path := range []string{"connect", "separator", "keys", "getpath?key=/perm", "get?key=/perm/k"} {
				if r := c.do(i, http.MethodGet, "/api/kv/"+api+"/"+path, viewer, nil); r.status != http.StatusOK {
					t.Fatalf("viewer GET %s %s on node %d: %s", api, path, i, r)
				}
			}
			// connect is a POST that only reads.
			if r := c.do(i, http.MethodPost, "/api/kv/"+api+"/connect", viewer, nil); r.status != http.StatusOK {
				t.Fatalf("viewer POST %s connect: %s", api, r)
			}
			wantError(t, c.do(i, http.MethodPut, "/api/kv/"+api+"/put", viewer, map[string]any{"key": "/perm/k", "value": "viewer"}), http.StatusForbidden, "permission_denied")
			wantError(t, c.do(i, http.MethodPost, "/api/kv/"+api+"/delete", viewer, map[string]any{"key": "/perm/k"}), http.StatusForbidden, "permission_denied")
			wantError(t, c.do(i, http.MethodGet, "/api/kv/"+api+"/keys", "", nil), http.StatusUnauthorized, "")
		}
		if s, r := c.watchAs(i, viewer, "key=/perm/k"); s == nil {
			t.Fatalf("viewer watch: %s", r)
		} else {
			s.close()
		}
	}
	for _, api := range []string{"v3", "v2"} {
		if got := c.get(2, "/api/kv/"+api+"/get?key=/perm/k").node(t); got.Value != "before" {
			t.Fatalf("%s: a refused write changed the key: %+v", api, got)
		}
		if r := c.do(3, http.MethodPut, "/api/kv/"+api+"/put", operator, map[string]any{"key": "/perm/k", "value": "operator"}); r.status != http.StatusOK {
			t.Fatalf("operator put: %s", r)
		}
		if r := c.do(3, http.MethodPost, "/api/kv/"+api+"/delete", operator, map[string]any{"key": "/perm/k"}); r.status != http.StatusOK {
			t.Fatalf("operator delete: %s", r)
		}
	}
}

var ttlField = regexp.MustCompile(`"ttl":\d+,`)

// snapshot is everything the KV API stores, as getpath shows it, without
// the TTLs that count down.
func (c *cluster) snapshot(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, api := range []string{"v3", "v2"} {
		r := c.get(1, "/api/kv/"+api+"/getpath")
		if r.status != http.StatusOK {
			t.Fatalf("getpath: %s", r)
		}
		parts = append(parts, ttlField.ReplaceAllString(r.body, ""))
	}
	return strings.Join(parts, "\n")
}

func testBadInput(t *testing.T, c *cluster) {
	c.mustPut(1, "v3", map[string]any{"key": "/bad/k", "value": "kept"})
	c.mustPut(1, "v2", map[string]any{"key": "/bad/k", "value": "kept"})
	c.mustPut(1, "v2", map[string]any{"key": "/bad/d/f", "value": "kept"})
	before := c.snapshot(t)

	bigKey := strings.Repeat("k", 4097)
	bigValue := strings.Repeat("v", 3<<19+1)
	body := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	// chunked sends s without a Content-Length, so the server cuts it
	// while reading instead of refusing it up front.
	chunked := func(s string) func() io.Reader {
		return func() io.Reader { return io.MultiReader(strings.NewReader(s)) }
	}
	type tc struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}
	var cases []tc
	for _, api := range []string{"v3", "v2"} {
		put, del := "/api/kv/"+api+"/put", "/api/kv/"+api+"/delete"
		cases = append(cases,
			tc{"empty key", http.MethodPut, put, `{"key":"","value":"x"}`, 400, "invalid_request"},
			tc{"no key", http.MethodPut, put, `{"value":"x"}`, 400, "invalid_request"},
			tc{"key over 4 KiB", http.MethodPut, put, body(map[string]any{"key": bigKey, "value": "x"}), 400, "key_too_large"},
			tc{"value over 1.5 MiB", http.MethodPut, put, body(map[string]any{"key": "/bad/k", "value": bigValue}), 413, "value_too_large"},
			tc{"body over the server limit", http.MethodPut, put, body(map[string]any{"key": "/bad/k", "value": strings.Repeat("v", 5<<20)}), 413, ""},
			tc{"malformed JSON", http.MethodPut, put, `{"key":"/bad/k","value":`, 400, "invalid_request"},
			tc{"value of the wrong type", http.MethodPut, put, `{"key":"/bad/k","value":5}`, 400, "invalid_request"},
			tc{"ttl of the wrong type", http.MethodPut, put, `{"key":"/bad/k","value":"x","ttl":"10"}`, 400, "invalid_request"},
			tc{"dir of the wrong type", http.MethodPut, put, `{"key":"/bad/k","value":"x","dir":"yes"}`, 400, "invalid_request"},
			tc{"unknown field", http.MethodPut, put, `{"key":"/bad/k","value":"x","colour":"red"}`, 400, "invalid_request"},
			tc{"trailing data", http.MethodPut, put, `{"key":"/bad/k","value":"x"} {}`, 400, "invalid_request"},
			tc{"not an object", http.MethodPut, put, `["/bad/k"]`, 400, "invalid_request"},
			tc{"empty body", http.MethodPut, put, "", 400, "invalid_request"},
			tc{"negative ttl", http.MethodPut, put, `{"key":"/bad/k","value":"x","ttl":-5}`, 400, "invalid_request"},
			tc{"huge ttl", http.MethodPut, put, `{"key":"/bad/k","value":"x","ttl":99999999999999}`, 400, "invalid_request"},
			tc{"negative prev_version", http.MethodPut, put, `{"key":"/bad/k","value":"x","prev_version":-1}`, 400, "invalid_request"},
			tc{"failed compare", http.MethodPut, put, `{"key":"/bad/k","value":"x","prev_value":"other"}`, 409, "compare_failed"},
			tc{"delete: empty key", http.MethodPost, del, `{"key":""}`, 400, "invalid_request"},
			tc{"delete: unknown field", http.MethodPost, del, `{"key":"/bad/k","recursive":true}`, 400, "invalid_request"},
			tc{"delete: wrong type", http.MethodPost, del, `{"key":"/bad/k","dir":1}`, 400, "invalid_request"},
			tc{"delete: malformed", http.MethodPost, del, `{"key"`, 400, "invalid_request"},
			tc{"delete: key over 4 KiB", http.MethodPost, del, body(map[string]any{"key": bigKey}), 400, "key_too_large"},
			tc{"delete: no key", http.MethodPost, del, `{}`, 400, "invalid_request"},
			tc{"delete: key of the wrong type", http.MethodPost, del, `{"key":5}`, 400, "invalid_request"},
			tc{"delete: not an object", http.MethodPost, del, `"/bad/k"`, 400, "invalid_request"},
			tc{"delete: empty body", http.MethodPost, del, "", 400, "invalid_request"},
			tc{"delete: trailing data", http.MethodPost, del, `{"key":"/bad/k"} {}`, 400, "invalid_request"},
			tc{"delete: body over the server limit", http.MethodPost, del, body(map[string]any{"key": "/bad/k", "pad": strings.Repeat("p", 5<<20)}), 413, ""},
			// The decoder reads a chunked body as a stream and stops at its
			// first mistake, so the padding goes into a field delete has.
			tc{"delete: chunked body over the server limit", http.MethodPost, del, chunked(body(map[string]any{"key": "/bad/" + strings.Repeat("p", 5<<20)})), 413, ""},
			tc{"chunked body over the server limit", http.MethodPut, put, chunked(body(map[string]any{"key": "/bad/k", "value": strings.Repeat("v", 5<<20)})), 413, ""},
			tc{"get: no key", http.MethodGet, "/api/kv/" + api + "/get", nil, 400, "invalid_request"},
			tc{"get: key over 4 KiB", http.MethodGet, "/api/kv/" + api + "/get?key=" + bigKey, nil, 400, "key_too_large"},
			tc{"get: missing key", http.MethodGet, "/api/kv/" + api + "/get?key=/bad/none", nil, 404, "key_not_found"},
			tc{"get: bad revision", http.MethodGet, "/api/kv/" + api + "/get?key=/bad/k&revision=abc", nil, 400, "invalid_request"},
			tc{"get: zero revision", http.MethodGet, "/api/kv/" + api + "/get?key=/bad/k&revision=0", nil, 400, "invalid_request"},
			tc{"get: bad serializable", http.MethodGet, "/api/kv/" + api + "/get?key=/bad/k&serializable=maybe", nil, 400, "invalid_request"},
		)
	}
	cases = append(cases,
		tc{"v2: under a file", http.MethodPut, "/api/kv/v2/put", `{"key":"/bad/k/x","value":"x"}`, 409, "not_a_directory"},
		tc{"v2: file over a directory", http.MethodPut, "/api/kv/v2/put", `{"key":"/bad/d","value":"x"}`, 409, "not_a_file"},
		tc{"v2: non-empty directory without dir", http.MethodPost, "/api/kv/v2/delete", `{"key":"/bad/d"}`, 409, "dir_not_empty"},
		tc{"v2: root", http.MethodPut, "/api/kv/v2/put", `{"key":"/","dir":true}`, 400, "root_read_only"},
		tc{"v2: delete an unknown key", http.MethodPost, "/api/kv/v2/delete", `{"key":"/bad/none"}`, 404, "key_not_found"},
		tc{"v2: delete under a file", http.MethodPost, "/api/kv/v2/delete", `{"key":"/bad/k/x"}`, 404, "key_not_found"},
		tc{"watch: no key", http.MethodGet, "/api/kv/v3/watch", nil, 400, "invalid_request"},
		tc{"watch: bad start_revision", http.MethodGet, "/api/kv/v3/watch?key=/bad/k&start_revision=x", nil, 400, "invalid_request"},
		tc{"watch: bad prefix", http.MethodGet, "/api/kv/v3/watch?key=/bad/k&prefix=1x", nil, 400, "invalid_request"},
	)
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				wantError(t, c.do(i, k.method, k.path, c.admin, k.body), k.status, k.code)
			}
		})
	}
	// An unknown key is no error for v3's delete (etcd deletes 0 keys and
	// etcdmonitor answers ok); it must not store anything either, which the
	// comparison below checks.
	for i := 1; i <= 3; i++ {
		if r := c.do(i, http.MethodPost, "/api/kv/v3/delete", c.admin, `{"key":"/bad/none"}`); r.status != http.StatusOK {
			t.Fatalf("v3 delete of an absent key on node %d: %s", i, r)
		}
	}
	r := c.do(2, http.MethodGet, "/api/kv/v3/watch?key=/bad/k", c.admin, nil, "Last-Event-ID", "not-an-id")
	wantError(t, r, http.StatusBadRequest, "invalid_request")
	if after := c.snapshot(t); after != before {
		t.Fatalf("bad requests changed stored data:\nbefore %s\nafter  %s", before, after)
	}
}
