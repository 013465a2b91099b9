package kv

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// v3Prefix keeps v3 keys apart from v2 nodes in the namespace.
const v3Prefix = "v3/"

// v3Node is a key as etcdmonitor shows it; kv.Key is the store key.
func v3Node(kv *store.KV, now time.Time) Node {
	return nodeOf(strings.TrimPrefix(kv.Key, v3Prefix), kv, now)
}

// nodeOf is kv shown under the name key.
func nodeOf(key string, kv *store.KV, now time.Time) Node {
	return Node{
		Key:           key,
		Value:         string(kv.Value),
		TTL:           ttlLeft(kv.ExpireAt, now),
		CreatedIndex:  kv.CreateRevision,
		ModifiedIndex: kv.ModRevision,
		Version:       kv.Version,
	}
}

// v3Get answers one key, linearizably unless ?serializable=true, as of
// ?revision=N when given.
func (m *Module) v3Get(w http.ResponseWriter, r *http.Request) error {
	key := r.URL.Query().Get("key")
	if err := checkKey(key); err != nil {
		return err
	}
	ro, err := readOptions(r)
	if err != nil {
		return err
	}
	kv, err := m.ns.Get(r.Context(), v3Prefix+key, ro)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.Errorf(http.StatusNotFound, codeNotFound, "key not found: %s", key)
	}
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: v3Node(kv, time.Now())})
	return nil
}

// v3Put writes a key, with a TTL when asked, and under prev_value /
// prev_version only if they match. It answers the key as written.
func (m *Module) v3Put(w http.ResponseWriter, r *http.Request) error {
	var req PutRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	auditPut(r, &req)
	if err := checkPut(&req); err != nil {
		return err
	}
	k := v3Prefix + req.Key
	op, err := m.ns.PutOp(k, []byte(req.Value), store.PutOptions{TTL: ttlDuration(req.TTL)})
	if err != nil {
		return err
	}
	var cmps []store.Compare
	if req.PrevValue != nil {
		cmps = append(cmps, m.ns.CmpValue(k, store.Equal, []byte(*req.PrevValue)))
	}
	if req.PrevVersion != nil {
		cmps = append(cmps, m.ns.CmpNumber(k, store.CompareVersion, store.Equal, *req.PrevVersion))
	}
	res, err := m.ns.Txn(r.Context(), cmps, []store.Op{op}, nil)
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return compareFailed(req.Key, req.PrevValue, req.PrevVersion)
	}
	n := Node{Key: req.Key, Value: req.Value, TTL: req.TTL, CreatedIndex: res.Revision, ModifiedIndex: res.Revision, Version: 1}
	if prev := res.Responses[0].Prev; prev != nil {
		n.CreatedIndex, n.Version = prev.CreateRevision, prev.Version+1
	}
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: n})
	return nil
}

func compareFailed(key string, prevValue *string, prevVersion *int64) error {
	var want []string
	if prevValue != nil {
		want = append(want, "value")
	}
	if prevVersion != nil {
		want = append(want, "version")
	}
	return apierr.Errorf(http.StatusConflict, codeCompareFailed, "compare failed: the %s of %s did not match; nothing was written",
		strings.Join(want, " and "), key)
}

// v3Delete removes a key; with dir also every key under key+separator, in
// the same revision. A missing key is not an error (etcd's delete is
// idempotent and etcdmonitor answers ok).
func (m *Module) v3Delete(w http.ResponseWriter, r *http.Request) error {
	var req DeleteRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	auditDelete(r, &req)
	if err := checkKey(req.Key); err != nil {
		return err
	}
	op, err := m.ns.DeleteOp(v3Prefix + req.Key)
	if err != nil {
		return err
	}
	ops := []store.Op{op}
	if req.Dir {
		sep := m.opts.Separator
		prefix := req.Key + sep
		if req.Key == sep {
			prefix = sep
		}
		ops = append(ops, m.deletePrefixOp(v3Prefix+prefix))
	}
	if _, err := m.ns.Txn(r.Context(), nil, ops, nil); err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, MessageResponse{Message: "ok"})
	return nil
}

func (m *Module) deletePrefixOp(prefix string) store.Op {
	return store.Op{Type: store.OpDeletePrefix, Namespace: m.ns.Name(), Key: []byte(prefix)}
}

// v3Keys is the whole tree from the separator, without values.
func (m *Module) v3Keys(w http.ResponseWriter, r *http.Request) error {
	return m.v3Tree(w, r, m.opts.Separator, true)
}

// v3GetPath is the tree under ?key= (the separator by default), with
// values.
func (m *Module) v3GetPath(w http.ResponseWriter, r *http.Request) error {
	key := r.URL.Query().Get("key")
	if key == "" {
		key = m.opts.Separator
	}
	if len(key) > MaxKeyBytes {
		return checkKey(key)
	}
	return m.v3Tree(w, r, key, false)
}

func (m *Module) v3Tree(w http.ResponseWriter, r *http.Request, root string, keysOnly bool) error {
	ro, err := readOptions(r)
	if err != nil {
		return err
	}
	sep := m.opts.Separator
	// The root's own key and the keys under root+separator, in one read.
	listPrefix, childPrefix := root, root+sep
	if root == sep {
		listPrefix, childPrefix = "", ""
	} else if strings.HasSuffix(root, sep) {
		childPrefix = root
	}
	res, err := m.ns.List(r.Context(), v3Prefix+listPrefix, store.ListOptions{Revision: ro.Revision, Serializable: ro.Serializable})
	if err != nil {
		return err
	}
	kvs := res.KVs[:0]
	for _, kv := range res.KVs {
		k := strings.TrimPrefix(kv.Key, v3Prefix)
		if k == root || strings.HasPrefix(k, childPrefix) {
			kv.Key = k
			kvs = append(kvs, kv)
		}
	}
	httpx.JSON(w, http.StatusOK, NodeResponse{Node: buildTree(root, sep, kvs, keysOnly, time.Now())})
	return nil
}
