package kv

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// v2 nodes live under "v2" + path (paths start with "/"), so they never
// meet v3 keys ("v3/" + key). A node's stored value is one type byte and,
// for a file, the file's value.
const (
	v2Prefix = "v2"
	v2File   = 'f'
	v2Dir    = 'd'
)

// v2Attempts bounds the optimistic retries of a v2 write that lost a race.
const v2Attempts = 16

func v2StoreKey(p string) string { return v2Prefix + p }

func v2PathOf(storeKey string) string { return strings.TrimPrefix(storeKey, v2Prefix) }

func isDir(kv *store.KV) bool { return len(kv.Value) > 0 && kv.Value[0] == v2Dir }

func fileRecord(value string) []byte { return append([]byte{v2File}, value...) }

// fileValue is a file record's value.
func fileValue(kv *store.KV) string {
	if len(kv.Value) == 0 {
		return ""
	}
	return string(kv.Value[1:])
}

// cleanPath turns a v2 key into its path, as etcd v2 does.
func cleanPath(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return path.Clean("/" + key), nil
}

// ancestors lists the directories above p, outermost first, root excluded:
// "/a/b/c" → "/a", "/a/b".
func ancestors(p string) []string {
	var out []string
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}

func v2Node(p string, kv *store.KV, now time.Time) Node {
	n := Node{Key: p, TTL: ttlLeft(kv.ExpireAt, now), CreatedIndex: kv.CreateRevision, ModifiedIndex: kv.ModRevision}
	if isDir(kv) {
		n.Dir = true
	} else {
		n.Value = fileValue(kv)
	}
	return n
}

// v2State is what one path looks like at one revision.
type v2State struct {
	rev int64
	// paths are p's ancestors; anc holds their records up to and including
	// the first that is missing (nil) or a file, where reading stops.
	paths []string
	anc   []*store.KV
	// node is p's record, nil when missing.
	node *store.KV
}

// broken is the index of the first ancestor that is missing or a file, or
// -1 when every ancestor is a directory.
func (s *v2State) broken() int {
	for i, kv := range s.anc {
		if kv == nil || !isDir(kv) {
			return i
		}
	}
	if len(s.anc) < len(s.paths) {
		return len(s.anc)
	}
	return -1
}

// visible reports whether p exists: its record is there and every
// ancestor is a directory. A key whose directory expired stays in the
// store until the leader collects it, but nobody sees it.
func (s *v2State) visible() bool { return s.node != nil && s.broken() < 0 }

// v2Read reads p and its ancestors at one revision: the first read
// decides the revision (linearizable unless ro says otherwise), the rest
// read that revision locally.
func (m *Module) v2Read(ctx context.Context, p string, ro store.ReadOptions) (*v2State, error) {
	res, err := m.ns.List(ctx, v2StoreKey(p), store.ListOptions{Limit: 1, Revision: ro.Revision, Serializable: ro.Serializable})
	if err != nil {
		return nil, err
	}
	st := &v2State{rev: res.Revision, paths: ancestors(p)}
	if p != "/" && len(res.KVs) == 1 && res.KVs[0].Key == v2StoreKey(p) {
		st.node = res.KVs[0]
	}
	at := store.ReadOptions{Revision: res.Revision, Serializable: true}
	for _, a := range st.paths {
		kv, err := m.ns.Get(ctx, v2StoreKey(a), at)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		st.anc = append(st.anc, kv)
		if kv == nil || !isDir(kv) {
			break
		}
	}
	return st, nil
}

// v2Children lists the visible nodes under directory p at rev: direct
// children only, or the whole subtree when recursive.
func (m *Module) v2Children(ctx context.Context, p string, rev int64, recursive bool) ([]Node, error) {
	prefix := v2StoreKey(p)
	if p != "/" {
		prefix += "/"
	}
	res, err := m.ns.List(ctx, prefix, store.ListOptions{Revision: rev, Serializable: true})
	if err != nil {
		return nil, err
	}
	type entry struct {
		n    Node
		kids []*entry
	}
	root := &entry{}
	dirs := map[string]*entry{p: root}
	now := time.Now()
	// Keys come sorted, so a directory always comes before what it holds;
	// a key whose parent was not seen as a directory is invisible.
	for _, kv := range res.KVs {
		cp := v2PathOf(kv.Key)
		parent := path.Dir(cp)
		pe, ok := dirs[parent]
		if !ok || (!recursive && parent != p) {
			continue
		}
		e := &entry{n: v2Node(cp, kv, now)}
		pe.kids = append(pe.kids, e)
		if e.n.Dir {
			dirs[cp] = e
		}
	}
	var convert func(es []*entry) []Node
	convert = func(es []*entry) []Node {
		if len(es) == 0 {
			return nil
		}
		out := make([]Node, len(es))
		for i, e := range es {
			out[i] = e.n
			out[i].Nodes = convert(e.kids)
		}
		return out
	}
	return convert(root.kids), nil
}

func notFound(key string) error {
	return apierr.Errorf(http.StatusNotFound, codeNotFound, "key not found: %s", key)
}

// v2Get answers a file, or a directory with its direct children.
func (m *Module) v2Get(w http.ResponseWriter, r *http.Request) error {
	p, err := cleanPath(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	ro, err := readOptions(r)
	if err != nil {
		return err
	}
	st, err := m.v2Read(r.Context(), p, ro)
	if err != nil {
		return err
	}
	n := Node{Key: "/", Dir: true}
	if p != "/" {
		if !st.visible() {
			return notFound(p)
		}
		n = v2Node(p, st.node, time.Now())
	}
	if n.Dir {
		if n.Nodes, err = m.v2Children(r.Context(), p, st.rev, false); err != nil {
			return err
		}
	}
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: n})
	return nil
}

// v2GetPath answers the subtree at ?key= ("/" by default); a missing path
// is an empty directory, as etcdmonitor answers it.
func (m *Module) v2GetPath(w http.ResponseWriter, r *http.Request) error {
	key := r.URL.Query().Get("key")
	if key == "" {
		key = "/"
	}
	n, err := m.v2Tree(r, key)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: n})
	return nil
}

// v2Keys is the whole tree without values.
func (m *Module) v2Keys(w http.ResponseWriter, r *http.Request) error {
	n, err := m.v2Tree(r, "/")
	if err != nil {
		return err
	}
	stripValues(&n)
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: n})
	return nil
}

func stripValues(n *Node) {
	n.Value = ""
	for i := range n.Nodes {
		stripValues(&n.Nodes[i])
	}
}

func (m *Module) v2Tree(r *http.Request, key string) (Node, error) {
	p, err := cleanPath(key)
	if err != nil {
		return Node{}, err
	}
	ro, err := readOptions(r)
	if err != nil {
		return Node{}, err
	}
	st, err := m.v2Read(r.Context(), p, ro)
	if err != nil {
		return Node{}, err
	}
	n := Node{Key: p, Dir: true}
	if p != "/" {
		if !st.visible() {
			return n, nil
		}
		n = v2Node(p, st.node, time.Now())
	}
	if n.Dir {
		n.Nodes, err = m.v2Children(r.Context(), p, st.rev, true)
	}
	return n, err
}

// v2Put sets a file or makes a directory, creating missing parent
// directories, in one transaction that checks the state it was planned
// on; a concurrent change makes it plan again.
func (m *Module) v2Put(w http.ResponseWriter, r *http.Request) error {
	var req PutRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	auditPut(r, &req)
	if req.Dir {
		req.Value = "" // etcdmonitor ignores a directory's value
	}
	if err := checkPut(&req); err != nil {
		return err
	}
	p, err := writablePath(req.Key)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < v2Attempts; attempt++ {
		// After a lost race this node has applied the winning write, so
		// its local state is new enough to plan again.
		st, err := m.v2Read(r.Context(), p, store.ReadOptions{Serializable: attempt > 0})
		if err != nil {
			return err
		}
		cmps, ops, err := m.planV2Put(&req, p, st)
		if err != nil {
			return err
		}
		res, err := m.ns.Txn(r.Context(), cmps, ops, nil)
		if err != nil {
			return err
		}
		if !res.Succeeded {
			continue
		}
		n := Node{Key: p, Value: req.Value, Dir: req.Dir, TTL: req.TTL, CreatedIndex: res.Revision, ModifiedIndex: res.Revision}
		if prev := res.Responses[len(res.Responses)-1].Prev; prev != nil {
			n.CreatedIndex = prev.CreateRevision
		}
		httpx.JSON(w, http.StatusOK, NodeResponse{Node: n})
		return nil
	}
	return apierr.Errorf(http.StatusConflict, codeCompareFailed, "%s kept changing while it was written; nothing was written, try again", p)
}

// planV2Put turns a put into compares on the state it read and the ops
// that carry it out.
func (m *Module) planV2Put(req *PutRequest, p string, st *v2State) ([]store.Compare, []store.Op, error) {
	ns := m.ns
	var cmps []store.Compare
	var ops []store.Op
	create := len(st.paths) // first ancestor to create
	for i, kv := range st.anc {
		k := v2StoreKey(st.paths[i])
		if kv == nil {
			create = i
			cmps = append(cmps, ns.CmpNumber(k, store.CompareVersion, store.Equal, 0))
			break
		}
		if !isDir(kv) {
			return nil, nil, apierr.Errorf(http.StatusConflict, codeNotDir, "%s is a file, not a directory", st.paths[i])
		}
		cmps = append(cmps, ns.CmpNumber(k, store.CompareModRevision, store.Equal, kv.ModRevision))
	}
	// target is p as the client sees it: nil when missing or hidden under
	// a directory about to be created.
	target := st.node
	k := v2StoreKey(p)
	if create < len(st.paths) {
		target = nil
	} else if target != nil {
		cmps = append(cmps, ns.CmpNumber(k, store.CompareModRevision, store.Equal, target.ModRevision))
	} else {
		cmps = append(cmps, ns.CmpNumber(k, store.CompareVersion, store.Equal, 0))
	}
	if !casHolds(req, target) {
		return nil, nil, compareFailed(p, req.PrevValue, req.PrevVersion)
	}
	if target != nil && isDir(target) {
		if req.Dir {
			return nil, nil, apierr.Errorf(http.StatusConflict, codeNotFile, "%s is already a directory", p)
		}
		return nil, nil, apierr.Errorf(http.StatusConflict, codeNotFile, "%s is a directory, not a file", p)
	}
	put := func(k string, rec []byte, ttl int64) error {
		op, err := ns.PutOp(k, rec, store.PutOptions{TTL: ttlDuration(ttl)})
		ops = append(ops, op)
		return err
	}
	// A directory is new whenever it is created, so anything left under
	// its path (from an expired directory of the same name) goes with it.
	for i := create; i < len(st.paths); i++ {
		if err := put(v2StoreKey(st.paths[i]), []byte{v2Dir}, 0); err != nil {
			return nil, nil, err
		}
		if i == create {
			ops = append(ops, m.deletePrefixOp(v2StoreKey(st.paths[i])+"/"))
		}
	}
	if req.Dir {
		if create == len(st.paths) {
			ops = append(ops, m.deletePrefixOp(k+"/"))
		}
		if err := put(k, []byte{v2Dir}, req.TTL); err != nil {
			return nil, nil, err
		}
	} else if err := put(k, fileRecord(req.Value), req.TTL); err != nil {
		return nil, nil, err
	}
	return cmps, ops, nil
}

// casHolds checks prev_value and prev_version against the target as read;
// the transaction's mod-revision compare makes the check atomic.
func casHolds(req *PutRequest, target *store.KV) bool {
	if req.PrevValue != nil {
		if target == nil || isDir(target) || fileValue(target) != *req.PrevValue {
			return false
		}
	}
	if req.PrevVersion != nil {
		var v int64
		if target != nil {
			v = target.Version
		}
		if v != *req.PrevVersion {
			return false
		}
	}
	return true
}

// v2Delete removes a file, or a directory and everything in it when dir
// is set.
func (m *Module) v2Delete(w http.ResponseWriter, r *http.Request) error {
	var req DeleteRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	auditDelete(r, &req)
	p, err := writablePath(req.Key)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < v2Attempts; attempt++ {
		st, err := m.v2Read(r.Context(), p, store.ReadOptions{Serializable: attempt > 0})
		if err != nil {
			return err
		}
		if !st.visible() {
			return notFound(p)
		}
		k := v2StoreKey(p)
		ops := []store.Op{{Type: store.OpDelete, Namespace: m.ns.Name(), Key: []byte(k)}}
		if isDir(st.node) {
			if !req.Dir {
				kids, err := m.v2Children(r.Context(), p, st.rev, false)
				if err != nil {
					return err
				}
				if len(kids) > 0 {
					return apierr.Errorf(http.StatusConflict, codeDirNotEmpty, "directory %s is not empty; delete it with dir: true", p)
				}
				return apierr.Errorf(http.StatusConflict, codeNotFile, "%s is a directory; delete it with dir: true", p)
			}
			ops = append(ops, m.deletePrefixOp(k+"/"))
		}
		cmps := []store.Compare{m.ns.CmpNumber(k, store.CompareModRevision, store.Equal, st.node.ModRevision)}
		res, err := m.ns.Txn(r.Context(), cmps, ops, nil)
		if err != nil {
			return err
		}
		if res.Succeeded {
			httpx.JSON(w, http.StatusOK, MessageResponse{Message: "ok"})
			return nil
		}
	}
	return apierr.Errorf(http.StatusConflict, codeCompareFailed, "%s kept changing while it was deleted; nothing was deleted, try again", p)
}

// writablePath cleans a v2 path a write targets; the root cannot be
// written or deleted.
func writablePath(key string) (string, error) {
	p, err := cleanPath(key)
	if err != nil {
		return "", err
	}
	if p == "/" {
		return "", apierr.Errorf(http.StatusBadRequest, codeRootReadOnly, "the root directory is read-only")
	}
	return p, nil
}
