package kv

import (
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// treeEntry is a node of the tree being built: a path prefix, and the key
// of that name if one exists.
type treeEntry struct {
	key      string
	kv       *store.KV // nil: only a prefix of other keys
	children map[string]*treeEntry
	order    []string
}

func (e *treeEntry) child(seg, key string) *treeEntry {
	c, ok := e.children[seg]
	if !ok {
		c = &treeEntry{key: key, children: map[string]*treeEntry{}}
		e.children[seg] = c
		e.order = append(e.order, seg)
	}
	return c
}

// segments splits a key on sep, dropping empty parts, as etcdmonitor does.
func segments(key, sep string) []string {
	parts := strings.Split(key, sep)
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// buildTree arranges v3 keys (sorted, already stripped of the namespace
// prefix) into etcdmonitor's tree under root: keys split on sep, one node
// per path prefix, a node whose name is also a key carrying that key's
// value and revisions. keysOnly leaves values and TTLs out, like
// etcdmonitor's keys route.
func buildTree(root, sep string, kvs []*store.KV, keysOnly bool, now time.Time) Node {
	top := &treeEntry{key: root, children: map[string]*treeEntry{}}
	depth := 0
	if root != sep && root != "" {
		depth = len(segments(root, sep))
	}
	for _, kv := range kvs {
		segs := segments(kv.Key, sep)
		if len(segs) == 0 || kv.Key == root {
			top.kv = kv
			continue
		}
		if len(segs) <= depth {
			continue
		}
		cur := top
		for i := depth; i < len(segs); i++ {
			cur = cur.child(segs[i], sep+strings.Join(segs[:i+1], sep))
		}
		cur.kv = kv
	}
	n := top.node(keysOnly, now)
	n.Key, n.Dir = root, true
	if n.Nodes == nil {
		n.Nodes = []Node{}
	}
	return n
}

func (e *treeEntry) node(keysOnly bool, now time.Time) Node {
	n := Node{Key: e.key}
	if e.kv != nil {
		n = nodeOf(e.kv.Key, e.kv, now)
		if keysOnly {
			n.Value, n.TTL = "", 0
		}
	}
	if len(e.children) > 0 {
		n.Dir = true
		n.Nodes = make([]Node, 0, len(e.order))
		for _, seg := range e.order {
			n.Nodes = append(n.Nodes, e.children[seg].node(keysOnly, now))
		}
	} else if e.kv == nil {
		n.Dir, n.Nodes = true, []Node{}
	}
	return n
}
