package store

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// eventMarks remembers, per namespace, the newest revision that wrote a
// change-log event, so that a watcher of a namespace nobody writes to
// does not open a Badger iterator after every apply of another one (the
// plugin and session watchers did, once per KV put). Within a namespace
// it keeps the same per bucket of the key's first markDepth bytes, so a
// watcher of one prefix skips the writes to other prefixes (the KV
// module's watcher of "v2" read the change log after every put to "v3/").
//
// Apply notes events while it writes them and publishes the marks before
// it publishes the applied index: a reader that loads the applied index
// and then asks sees every event at or below it.
type eventMarks struct {
	// pending is the namespaces' marks noted by this Apply, kept across
	// Applies so noting allocates nothing; touched is the ones this Apply
	// noted. Ready loop only, under writeMu.
	pending map[string]*pendingMarks
	touched []*pendingMarks

	mu sync.Mutex
	// floor is the applied index when the marks started (open, snapshot
	// restore): any namespace may hold events up to it.
	floor int64
	byNS  map[string]*nsMarks

	// watchReads counts the change-log reads watchers made, that is the
	// ones the marks did not spare (watch.go; tests read it).
	watchReads atomic.Int64
}

// markDepth is how many of a key's first bytes the marks tell apart: a
// watcher's prefix of length l is checked at level min(l, markDepth).
// 4 separates "v2" from "v3/" and, under "v3/", the keys' first byte.
const markDepth = 4

// nsMarks is one namespace's newest event revisions: all of them, and per
// level l (0-based) per bucket of the key's first l+1 bytes (markBucket).
type nsMarks struct {
	all int64
	at  [markDepth][256]int64
}

// pendingMarks is one namespace's marks noted by the running Apply; only
// the buckets set in dirty were noted.
type pendingMarks struct {
	ns      string
	touched bool
	marks   nsMarks
	dirty   [markDepth][4]uint64
}

// markBucket folds one more key byte into the bucket of the bytes before
// it. Keys that agree up to a byte and differ in it land in different
// buckets at that level (31 is odd, so h*31 mod 256 is the same for both
// and the byte decides); unrelated prefixes may share one, which only
// costs a read.
func markBucket(h uint8, c byte) uint8 { return h*31 + c }

// reset forgets every namespace's mark; all may have events up to rev.
func (m *eventMarks) reset(rev int64) {
	m.mu.Lock()
	m.floor, m.byNS = rev, map[string]*nsMarks{}
	m.mu.Unlock()
}

// note records an event of ns for key at rev, not yet visible. Revisions
// noted by one Apply do not decrease.
func (m *eventMarks) note(ns string, key []byte, rev int64) {
	p := m.pending[ns]
	if p == nil {
		if m.pending == nil {
			m.pending = map[string]*pendingMarks{}
		}
		p = &pendingMarks{ns: ns}
		m.pending[ns] = p
	}
	if !p.touched {
		p.touched = true
		m.touched = append(m.touched, p)
	}
	p.marks.all = rev
	var h uint8
	for l := 0; l < markDepth && l < len(key); l++ {
		h = markBucket(h, key[l])
		p.marks.at[l][h] = rev
		p.dirty[l][h>>6] |= 1 << (h & 63)
	}
}

// publish makes the noted events visible to mayHaveAfter.
func (m *eventMarks) publish() {
	if len(m.touched) == 0 {
		return
	}
	m.mu.Lock()
	for _, p := range m.touched {
		pub := m.byNS[p.ns]
		if pub == nil {
			pub = &nsMarks{}
			m.byNS[p.ns] = pub
		}
		pub.all = max(pub.all, p.marks.all)
		for l := range p.dirty {
			for w, set := range p.dirty[l] {
				for ; set != 0; set &= set - 1 {
					i := w*64 + bits.TrailingZeros64(set)
					pub.at[l][i] = max(pub.at[l][i], p.marks.at[l][i])
				}
			}
		}
	}
	m.mu.Unlock()
	m.drop()
}

// drop forgets noted events that were not applied (a failed Apply); after
// publish, the ones it published.
func (m *eventMarks) drop() {
	for _, p := range m.touched {
		p.touched, p.dirty = false, [markDepth][4]uint64{}
	}
	m.touched = m.touched[:0]
}

// newest is the newest revision that may have written an event in any
// namespace.
func (m *eventMarks) newest() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	mark := m.floor
	for _, pub := range m.byNS {
		mark = max(mark, pub.all)
	}
	return mark
}

// mayHaveAfter reports whether ns may hold events above rev for keys
// under prefix (every key when it is empty). False only when it certainly
// holds none.
func (m *eventMarks) mayHaveAfter(ns string, prefix []byte, rev int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	mark := m.floor
	if pub := m.byNS[ns]; pub != nil {
		if len(prefix) == 0 {
			mark = max(mark, pub.all)
		} else {
			var h uint8
			l := min(len(prefix), markDepth)
			for _, c := range prefix[:l] {
				h = markBucket(h, c)
			}
			mark = max(mark, pub.at[l-1][h])
		}
	}
	return mark > rev
}
