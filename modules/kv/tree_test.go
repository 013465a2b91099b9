package kv

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

func kvs(keys ...string) []*store.KV {
	out := make([]*store.KV, len(keys))
	for i, k := range keys {
		out[i] = &store.KV{Key: k, Value: []byte("v" + k), CreateRevision: int64(i + 1), ModRevision: int64(i + 10), Version: 1}
	}
	return out
}

func treeJSON(t *testing.T, n Node) string {
	t.Helper()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The trees etcdmonitor's getTree builds for the same keys: split on the
// separator with empty segments dropped, intermediate prefixes as
// revision-less directories, a key with keys under it a directory with
// its own value, keys outside the separator's root hung under it.
func TestBuildTree(t *testing.T) {
	now := time.Now()
	keys := kvs("/a", "/a/b", "/a/c/d", "/e", "x")
	got := treeJSON(t, buildTree("/", "/", keys, true, now))
	want := `{"key":"/","dir":true,"nodes":[` +
		`{"key":"/a","dir":true,"createdIndex":1,"modifiedIndex":10,"version":1,"nodes":[` +
		`{"key":"/a/b","dir":false,"createdIndex":2,"modifiedIndex":11,"version":1},` +
		`{"key":"/a/c","dir":true,"nodes":[{"key":"/a/c/d","dir":false,"createdIndex":3,"modifiedIndex":12,"version":1}]}]},` +
		`{"key":"/e","dir":false,"createdIndex":4,"modifiedIndex":13,"version":1},` +
		`{"key":"x","dir":false,"createdIndex":5,"modifiedIndex":14,"version":1}]}`
	if got != want {
		t.Errorf("keys tree\n got %s\nwant %s", got, want)
	}

	// getpath under /a: the root carries /a's own value and revisions.
	got = treeJSON(t, buildTree("/a", "/", kvs("/a", "/a/b"), false, now))
	want = `{"key":"/a","value":"v/a","dir":true,"createdIndex":1,"modifiedIndex":10,"version":1,"nodes":[` +
		`{"key":"/a/b","value":"v/a/b","dir":false,"createdIndex":2,"modifiedIndex":11,"version":1}]}`
	if got != want {
		t.Errorf("getpath tree\n got %s\nwant %s", got, want)
	}

	// Nothing under the path: an empty directory.
	if got := treeJSON(t, buildTree("/none", "/", nil, false, now)); got != `{"key":"/none","dir":true}` {
		t.Errorf("empty tree %s", got)
	}

	// Another separator, and empty segments.
	got = treeJSON(t, buildTree(".", ".", kvs("a..b"), true, now))
	want = `{"key":".","dir":true,"nodes":[{"key":".a","dir":true,"nodes":[{"key":"a..b","dir":false,"createdIndex":1,"modifiedIndex":10,"version":1}]}]}`
	if got != want {
		t.Errorf("dot tree\n got %s\nwant %s", got, want)
	}
}

func TestBuildTreeTTL(t *testing.T) {
	now := time.Now()
	k := &store.KV{Key: "/t", Value: []byte("x"), CreateRevision: 1, ModRevision: 1, Version: 1, ExpireAt: now.Add(2500 * time.Millisecond).UnixMilli()}
	withValues := buildTree("/", "/", []*store.KV{k}, false, now)
	if n := withValues.Nodes[0]; n.TTL != 3 || n.Value != "x" {
		t.Errorf("getpath node %+v, want ttl 3 and the value", n)
	}
	keysOnly := buildTree("/", "/", []*store.KV{k}, true, now)
	if n := keysOnly.Nodes[0]; n.TTL != 0 || n.Value != "" {
		t.Errorf("keys node %+v, want neither ttl nor value", n)
	}
}
