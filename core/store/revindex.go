package store

import (
	"fmt"
	"sort"
	"sync"

	"github.com/google/btree"
)

// The revision index is the in-memory half of a revision-keyed layout, in
// the manner of etcd's treeIndex: records on disk are keyed by revision, and
// this index maps each key to the revisions it was written (or deleted) at,
// so a read at store revision rev can find the one record it must see.

// revision names one change.
type revision struct {
	main int64  // store revision (raft index)
	sub  uint32 // position among that entry's changes
	// plain marks a record of an append-only log (OpAppend): it is stored
	// under its key at version main, not as a change-log event.
	plain bool
}

// less orders revisions by main, then sub; plain plays no part.
func (a revision) less(b revision) bool {
	if a.main != b.main {
		return a.main < b.main
	}
	return a.sub < b.sub
}

// generation is one life of a key: revs ascending, the first created the key;
// when closed, the last rev is the deletion (tombstone) that ended it. After
// a compaction the first rev may be a later put than the creation: the one
// a read at the compaction point sees.
type generation struct {
	revs   []revision
	closed bool
}

// keyHistory is every revision of one key that a read at or above the
// compaction point can still need.
type keyHistory struct {
	key  string
	gens []generation
}

// last returns the newest revision held and whether there is one.
func (h *keyHistory) last() (revision, bool) {
	if len(h.gens) == 0 {
		return revision{}, false
	}
	g := h.gens[len(h.gens)-1]
	return g.revs[len(g.revs)-1], true
}

// mustFollow panics unless r is above every revision held: the state
// machine hands out revisions in order, so anything else is a bug in it.
func (h *keyHistory) mustFollow(op string, r revision) {
	if l, ok := h.last(); ok && !l.less(r) {
		panic(fmt.Sprintf("store: revIndex: %s of key %q at revision %d.%d, not above its last revision %d.%d",
			op, h.key, r.main, r.sub, l.main, l.sub))
	}
}

// put records a write of the key at r, opening a new generation when the
// key is not live. r must be above everything held; put panics if not.
func (h *keyHistory) put(r revision) {
	h.mustFollow("put", r)
	if !h.live() {
		h.gens = append(h.gens, generation{})
	}
	g := &h.gens[len(h.gens)-1]
	g.revs = append(g.revs, r)
}

// tombstone records a deletion of the key at r, closing the open generation
// with r as its last revision. It returns false, and changes nothing, when
// the key is not live. r must be above everything held; tombstone panics if
// not.
func (h *keyHistory) tombstone(r revision) bool {
	if !h.live() {
		return false
	}
	h.mustFollow("tombstone", r)
	g := &h.gens[len(h.gens)-1]
	g.revs = append(g.revs, r)
	g.closed = true
	return true
}

// live reports whether the key exists now: its last generation is open.
func (h *keyHistory) live() bool {
	return len(h.gens) > 0 && !h.gens[len(h.gens)-1].closed
}

// at returns the revision of the put a read at store revision rev sees: the
// largest revision with main ≤ rev in the generation live at rev. It is not
// ok when the key did not exist at rev: before its first creation, between
// a tombstone (inclusive) and the next creation, or in history compacted
// away.
func (h *keyHistory) at(rev int64) (revision, bool) {
	// The generation live at rev, if any, is the last one begun at or below rev.
	gi := sort.Search(len(h.gens), func(i int) bool { return h.gens[i].revs[0].main > rev }) - 1
	if gi < 0 {
		return revision{}, false
	}
	g := h.gens[gi]
	ri := sort.Search(len(g.revs), func(i int) bool { return g.revs[i].main > rev }) - 1
	// ri ≥ 0, since g.revs[0].main ≤ rev.
	if g.closed && ri == len(g.revs)-1 {
		return revision{}, false // deleted at or before rev
	}
	return g.revs[ri], true
}

// compact drops every revision no read at a revision ≥ c can see. In each
// generation, the largest revision with main ≤ c stays, with everything
// after it, unless it is the generation's tombstone: then the generation
// ended at or below c and goes whole. Generations entirely above c stay as
// they are. keep is called once for each revision with main < c that stays.
// compact reports whether no generation is left.
func (h *keyHistory) compact(c int64, keep func(revision)) (empty bool) {
	gens := h.gens[:0]
	for _, g := range h.gens {
		ri := sort.Search(len(g.revs), func(i int) bool { return g.revs[i].main > c }) - 1
		if ri >= 0 {
			if g.closed && ri == len(g.revs)-1 {
				continue // ended at or below c: invisible to every read ≥ c
			}
			g.revs = append(g.revs[:0], g.revs[ri:]...) // in place: the dropped prefix is not kept reachable
			if g.revs[0].main < c {
				keep(g.revs[0])
			}
		}
		gens = append(gens, g)
	}
	clear(h.gens[len(gens):]) // let dropped revision slices be collected
	h.gens = gens
	return len(h.gens) == 0
}

// revIndex is the ordered, concurrency-safe set of key histories.
type revIndex struct {
	mu   sync.RWMutex
	tree *btree.BTreeG[*keyHistory] // ordered by key (byte order of the string)
	keys map[string]*keyHistory     // the same histories, by key
}

// newRevIndex returns an empty index.
func newRevIndex() *revIndex {
	return &revIndex{
		tree: btree.NewG(32, func(a, b *keyHistory) bool { return a.key < b.key }),
		keys: make(map[string]*keyHistory),
	}
}

// put records a write of key at r and returns the key's history, for
// putTo. r must be above every revision the index holds for key; put panics
// if not.
func (x *revIndex) put(key string, r revision) *keyHistory {
	x.mu.Lock()
	defer x.mu.Unlock()
	h, ok := x.keys[key]
	if !ok {
		h = &keyHistory{key: key}
		x.keys[key] = h
		x.tree.ReplaceOrInsert(h)
	}
	h.put(r)
	return h
}

// putTo is put for a live key whose history put returned: it spares the
// lookup. A live key's history stays in the index (compact removes only
// histories left empty, and the open generation never is).
func (x *revIndex) putTo(h *keyHistory, r revision) {
	x.mu.Lock()
	defer x.mu.Unlock()
	h.put(r)
}

// tombstone records a deletion of key at r. It returns false, and changes
// nothing, when key is not live.
func (x *revIndex) tombstone(key string, r revision) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	h, ok := x.keys[key]
	if !ok {
		return false
	}
	return h.tombstone(r)
}

// get returns the revision of key a read at store revision rev sees; not ok
// when key did not exist at rev.
func (x *revIndex) get(key string, rev int64) (revision, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	h, ok := x.keys[key]
	if !ok {
		return revision{}, false
	}
	return h.at(rev)
}

// rangeAt calls fn, in key order, for each key in [start, end) visible at rev with
// the revision visible there; end == "" means no upper bound. Stops when fn returns false.
// fn runs under the read lock: it must not call back into x.
func (x *revIndex) rangeAt(start, end string, rev int64, fn func(key string, r revision) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	visit := func(h *keyHistory) bool {
		r, ok := h.at(rev)
		if !ok {
			return true
		}
		return fn(h.key, r)
	}
	from := &keyHistory{key: start}
	if end == "" {
		x.tree.AscendGreaterOrEqual(from, visit)
		return
	}
	x.tree.AscendRange(from, &keyHistory{key: end}, visit)
}

// compact applies keyHistory.compact to every key, removes keys left empty, and returns
// the revisions below c that stay (as a map[revision]struct{}).
func (x *revIndex) compact(c int64) map[revision]struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	kept := make(map[revision]struct{})
	keep := func(r revision) { kept[r] = struct{}{} }
	var emptied []*keyHistory
	x.tree.Ascend(func(h *keyHistory) bool {
		if h.compact(c, keep) {
			emptied = append(emptied, h)
		}
		return true
	})
	for _, h := range emptied { // the tree must not change while it is walked
		x.tree.Delete(h)
		delete(x.keys, h.key)
	}
	return kept
}

// len returns the number of keys held, live or not.
func (x *revIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.keys)
}
